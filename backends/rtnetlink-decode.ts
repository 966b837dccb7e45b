// Parsed netlink messages -> the typed values of rtnetlink-types.ts (part of the rtnetlink adapter:
// only backends/rtnetlink*.ts import the `netlink` package).
import { rt } from 'netlink';
import { parseVxlan } from 'netlink/dist/rt/ifla.js';
import type { parseMessage as parseRtMessage } from 'netlink/dist/rt/structs.js';
import type { FdbEntry, KernelEvent, NeighborEntry, RouteEntry, VxlanAttributes } from './rtnetlink-types.js';
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
  };
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

export function formatMac(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

function routeProtocolNumber(protocol: rt.Route['protocol']): number {
  if (typeof protocol === 'number') return protocol;
  return protocol === undefined ? 0 : (rt.RouteProtocol[protocol]);
}
