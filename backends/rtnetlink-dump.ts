// Kernel dumps of routes, neighbours and FDB entries, read straight from the message bytes (part of
// the rtnetlink adapter). The `netlink` package turns every message into objects of every attribute
// (a Buffer view, a name and a parsed value each); a full pass at 5000 peers dumps 15 000 such
// entries every resync, and that garbage was most of weftd's idle CPU and of its RSS over the live
// heap. These parsers read only the fields the datapath compares and allocate only the result.
import { addressOf, AF_INET6, eachAttribute, formatMac, MAIN_TABLE, readU16, readU32, RTNH_F_ONLINK } from './rtnetlink-decode.js';
import { writeU16, writeU32 } from './rtnetlink-encode.js';
import type { FdbEntry, NeighborEntry, RouteEntry } from './rtnetlink-types.js';
import { IpAddress } from '../subnet/ip-address.js';
import { IpPrefix } from '../subnet/ip-prefix.js';

export const RTM_NEWROUTE = 24;
export const RTM_GETROUTE = 26;
export const RTM_NEWNEIGH = 28;
export const RTM_GETNEIGH = 30;

// Attribute types (linux/rtnetlink.h, linux/neighbour.h).
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_TABLE = 15;
const RTA_NH_ID = 30;
const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDA_IFINDEX = 8;
const NUD_PERMANENT = 0x80;

/** struct rtmsg and struct ndmsg are both 12 bytes. */
const HEADER = 12;

/** A route of a dump (RTM_NEWROUTE payload), or undefined when it is not in the main table. */
export function routeOfDump(data: Buffer): RouteEntry | undefined {
  if (data.length < HEADER) return undefined;
  let table = data[4] ?? 0;
  let dst: IpAddress | undefined;
  let gateway: IpAddress | undefined;
  let oif: number | undefined;
  let nexthopId: number | undefined;
  eachAttribute(data, HEADER, (type, start, end) => {
    if (type === RTA_TABLE && end - start === 4) table = readU32(data, start);
    else if (type === RTA_DST) dst = addressOf(data.subarray(start, end));
    else if (type === RTA_GATEWAY) gateway = addressOf(data.subarray(start, end));
    else if (type === RTA_OIF && end - start === 4) oif = readU32(data, start);
    else if (type === RTA_NH_ID && end - start === 4) nexthopId = readU32(data, start);
  });
  if (table !== MAIN_TABLE) return undefined;
  return {
    dst: IpPrefix.of(dst ?? (data[0] === AF_INET6 ? UNSPECIFIED_IPV6 : UNSPECIFIED_IPV4), data[1] ?? 0),
    gateway,
    oif,
    protocol: data[5] ?? 0,
    onlink: (readU32(data, 8) & RTNH_F_ONLINK) !== 0,
    nexthopId,
  };
}

/** 0.0.0.0 and ::, the destination of a default route (which carries no dst attribute). */
const UNSPECIFIED_IPV4 = addressOf(new Uint8Array(4));
const UNSPECIFIED_IPV6 = addressOf(new Uint8Array(16));

interface NeighborFields {
  ifindex: number;
  permanent: boolean;
  dst: IpAddress | undefined;
  mac: string;
}

/** The fields of a neighbour or FDB message (RTM_NEWNEIGH payload; struct ndmsg and its attributes). */
function neighborFields(data: Buffer): NeighborFields | undefined {
  if (data.length < HEADER) return undefined;
  const fields: NeighborFields = { ifindex: readU32(data, 4), permanent: (readU16(data, 8) & NUD_PERMANENT) !== 0, dst: undefined, mac: '' };
  eachAttribute(data, HEADER, (type, start, end) => {
    if (type === NDA_DST && (end - start === 4 || end - start === 16)) fields.dst = addressOf(data.subarray(start, end));
    else if (type === NDA_LLADDR) fields.mac = formatMac(data, start, end);
  });
  return fields;
}

/** The neighbour on interface `index` with a MAC, from a dump message; else undefined. */
export function neighborOfDump(data: Buffer, index: number): NeighborEntry | undefined {
  const fields = neighborFields(data);
  if (fields?.ifindex !== index || fields.dst === undefined || fields.mac === '') return undefined;
  return { ip: fields.dst, mac: fields.mac, permanent: fields.permanent };
}

/** The FDB entry (AF_BRIDGE neighbour) on interface `index` with a destination, from a dump message. */
export function fdbOfDump(data: Buffer, index: number): FdbEntry | undefined {
  const fields = neighborFields(data);
  if (fields?.ifindex !== index || fields.dst === undefined || fields.mac === '') return undefined;
  return { mac: fields.mac, dst: fields.dst };
}

/** A route dump request of one address family: struct rtmsg with only the family set. */
export function routeDumpRequest(family: number): Buffer {
  const request = Buffer.alloc(HEADER);
  request[0] = family;
  return request;
}

/**
 * A neighbour dump request of one family (AF_BRIDGE: the FDB) for one interface: struct ndmsg and
 * NDA_IFINDEX, which the kernel filters by (`ip neigh show dev X` and `bridge fdb show dev X` send
 * the same). The parsers check the interface again, for a kernel that ignores the attribute.
 */
export function neighborDumpRequest(family: number, index: number): Buffer {
  const request = Buffer.alloc(HEADER + 8);
  request[0] = family;
  writeU16(request, 8, HEADER);
  writeU16(request, NDA_IFINDEX, HEADER + 2);
  writeU32(request, index, HEADER + 4);
  return request;
}
