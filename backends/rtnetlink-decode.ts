// Parsed netlink messages -> the typed values of rtnetlink-types.ts (part of the rtnetlink adapter:
// only backends/rtnetlink*.ts import the `netlink` package).
import { rt } from 'netlink';
import { parseVxlan } from 'netlink/dist/rt/ifla.js';
import type { parseMessage as parseRtMessage } from 'netlink/dist/rt/structs.js';
import { endianness } from 'node:os';
import type { FdbEntry, KernelEvent, NeighborEntry, NexthopEntry, RouteEntry, VxlanAttributes } from './rtnetlink-types.js';
import { IpAddress, type IpFamily } from '../subnet/ip-address.js';
import { IpPrefix } from '../subnet/ip-prefix.js';

export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;
export const MAIN_TABLE = 254;

/** The kernel's address family number of `family`. */
export function addressFamily(family: IpFamily): number {
  return family === 'ipv4' ? AF_INET : AF_INET6;
}
export const RTNH_F_ONLINK = 4;

type ParsedMessage = ReturnType<typeof parseRtMessage>;
export type RouteMessage = Extract<ParsedMessage, { kind: 'route' }>;
export type NeighborMessage = Extract<ParsedMessage, { kind: 'neighbor' }>;

export function kernelEventOf(parsed: ParsedMessage, deleted: boolean): KernelEvent | undefined {
  switch (parsed.kind) {
    case 'link':
      return { kind: 'link', deleted, ifindex: parsed.data.index, ifname: parsed.attrs.ifname };
    case 'route':
      return { kind: 'route', deleted, ifindex: parsed.attrs.oif, route: routeEntryOf(parsed) };
    case 'neighbor':
      return {
        kind: 'neighbor', deleted, ifindex: parsed.data.ifindex,
        neighbor: parsed.data.family === AF_INET || parsed.data.family === AF_INET6 ? neighborEntryOf(parsed) : undefined,
        fdb: parsed.data.family === AF_BRIDGE ? fdbEntryOf(parsed) : undefined,
      };
    default:
      return undefined;
  }
}

/** The route, or undefined when it is not in the main table. */
export function routeEntryOf(msg: RouteMessage): RouteEntry | undefined {
  const table = msg.attrs.table ?? msg.data.table;
  if (table !== MAIN_TABLE) return undefined;
  return {
    dst: IpPrefix.of(msg.attrs.dst ? addressOf(msg.attrs.dst) : unspecified(msg.data.family), msg.data.dstLen ?? 0),
    gateway: msg.attrs.gateway ? addressOf(msg.attrs.gateway) : undefined,
    oif: msg.attrs.oif,
    protocol: routeProtocolNumber(msg.data.protocol),
    onlink: ((msg.data.flags?.__unknown ?? 0) & RTNH_F_ONLINK) !== 0,
    nexthopId: msg.attrs.nhId ? readU32(msg.attrs.nhId, 0) : undefined,
  };
}

/** Nexthop attribute types (linux/nexthop.h); the encoder writes the same. */
export const NHA_ID = 1;
export const NHA_OIF = 5;
export const NHA_GATEWAY = 6;
const NH_BODY = 8;

/**
 * A nexthop message (RTM_NEWNEXTHOP / RTM_DELNEXTHOP, the payload after nlmsghdr), which the
 * netlink package does not parse: struct nhmsg (family, scope, protocol, reserved, flags) and its
 * attributes. Undefined when it carries no id.
 */
export function nexthopEntryOf(data: Buffer): NexthopEntry | undefined {
  if (data.length < NH_BODY) return undefined;
  const family = data[0] === AF_INET ? 'ipv4' : data[0] === AF_INET6 ? 'ipv6' : undefined;
  const entry: NexthopEntry = { id: 0, family, gateway: undefined, oif: undefined, protocol: data[2] ?? 0, onlink: (readU32(data, 4) & RTNH_F_ONLINK) !== 0 };
  eachAttribute(data, NH_BODY, (type, start, end) => {
    if (type === NHA_ID && end - start === 4) entry.id = readU32(data, start);
    else if (type === NHA_OIF && end - start === 4) entry.oif = readU32(data, start);
    else if (type === NHA_GATEWAY && (end - start === 4 || end - start === 16)) entry.gateway = addressOf(data.subarray(start, end));
  });
  return entry.id === 0 ? undefined : entry;
}

/** Netlink speaks the host's byte order (the encoder writes in it too). */
export const HOST_LITTLE_ENDIAN = endianness() === 'LE';
const LE = HOST_LITTLE_ENDIAN;
export const readU16 = (buf: Buffer, at: number): number => LE ? buf.readUInt16LE(at) : buf.readUInt16BE(at);
export const readU32 = (buf: Buffer, at: number): number => LE ? buf.readUInt32LE(at) : buf.readUInt32BE(at);

/**
 * Calls `each(type, start, end)` for every attribute from offset `from` (after the message's fixed
 * struct), stopping at a malformed one: a truncated message cannot be trusted past that point.
 */
export function eachAttribute(data: Buffer, from: number, each: (type: number, start: number, end: number) => void): void {
  for (let at = from; at + 4 <= data.length; ) {
    const length = readU16(data, at);
    if (length < 4 || at + length > data.length) return;
    each(readU16(data, at + 2) & 0x3fff, at + 4, at + length); // without NLA_F_NESTED / NLA_F_NET_BYTEORDER
    at += (length + 3) & ~3;
  }
}

/** The neighbour; its MAC is '' when the kernel announced none (e.g. the FAILED state of a deletion). */
export function neighborEntryOf(msg: NeighborMessage): NeighborEntry | undefined {
  const { dst, lladdr } = msg.attrs;
  return dst?.length === 4 || dst?.length === 16
    ? { ip: addressOf(dst), mac: lladdr ? formatMac(lladdr) : '', permanent: msg.data.state?.permanent === true }
    : undefined;
}

export function fdbEntryOf(msg: NeighborMessage): FdbEntry | undefined {
  const { dst, lladdr } = msg.attrs;
  return lladdr && (dst?.length === 4 || dst?.length === 16) ? { mac: formatMac(lladdr), dst: addressOf(dst) } : undefined;
}

export function vxlanAttributes(data: Buffer): VxlanAttributes {
  const v = parseVxlan(data);
  return {
    vni: v.id ?? 0,
    port: v.port ? v.port.readUInt16BE(0) : 0,
    local: v.local ? addressOf(v.local) : v.local6 ? addressOf(v.local6) : undefined,
    parentIndex: v.link,
    learning: v.learning === 1,
  };
}

/** An address the kernel sent: 4 or 16 bytes, anything else is a bug in the message. */
export function addressOf(bytes: Uint8Array): IpAddress {
  const address = IpAddress.fromBytes(bytes);
  if (address === undefined) throw new Error(`the kernel sent a ${bytes.length}-byte address`);
  return address;
}

/** 0.0.0.0 or ::, the destination of a default route (which carries no dst attribute). */
function unspecified(family: number | undefined): IpAddress {
  return addressOf(new Uint8Array(family === AF_INET6 ? 16 : 4));
}

const HEX = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

/** aa:bb:cc:dd:ee:ff of the bytes in [start, end): one string per entry of every dump, so no array. */
export function formatMac(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let text = '';
  for (let i = start; i < end; i++) text += (i === start ? '' : ':') + (HEX[bytes[i] ?? 0] ?? '');
  return text;
}

function routeProtocolNumber(protocol: rt.Route['protocol']): number {
  if (typeof protocol === 'number') return protocol;
  return protocol === undefined ? 0 : (rt.RouteProtocol[protocol]);
}
