// KernelWrite -> one netlink request message (part of the rtnetlink adapter: only
// backends/rtnetlink*.ts import the `netlink` package), and how a write is named in errors.
// Writes are the hot path of convergence (15 000 messages for 5000 peers), so each is written
// straight into the datagram's buffer: the same bytes the package's formatNeighborMessage /
// formatRouteMessage produce (rtnetlink-encode.test.ts compares them), without its per-attribute
// Buffers, closures and concatenations.
import { FlagsNew } from 'netlink';
import { addressFamily, AF_BRIDGE, HOST_LITTLE_ENDIAN, MAIN_TABLE, NHA_GATEWAY, NHA_ID, NHA_OIF, RTNH_F_ONLINK } from './rtnetlink-decode.js';
import type { KernelWrite } from './rtnetlink-types.js';
import type { IpAddress } from '../subnet/ip-address.js';

export const REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;
const EXCLUSIVE = FlagsNew.CREATE | FlagsNew.EXCL;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_NEWNEIGH = 28;
const RTM_DELNEIGH = 29;
const RTM_NEWNEXTHOP = 104;
const RTM_DELNEXTHOP = 105;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
const NLMSG_HEADER = 16;
/** struct ndmsg and struct rtmsg are both 12 bytes. */
const BODY = 12;
const NUD_PERMANENT = 0x80;
const NTF_SELF = 0x02;
const NDA_DST = 1;
const NDA_LLADDR = 2;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_GATEWAY = 5;
const RTA_NH_ID = 30;
/** struct nhmsg is 8 bytes: family, scope, protocol, reserved, flags. */
const NH_BODY = 8;
const RT_SCOPE_UNIVERSE = 0;
const RTN_UNICAST = 1;
const LE = HOST_LITTLE_ENDIAN;
export const writeU16 = (buf: Buffer, value: number, at: number): number => LE ? buf.writeUInt16LE(value, at) : buf.writeUInt16BE(value, at);
export const writeU32 = (buf: Buffer, value: number, at: number): number => LE ? buf.writeUInt32LE(value, at) : buf.writeUInt32BE(value, at);
const writeS32 = (buf: Buffer, value: number, at: number): number => LE ? buf.writeInt32LE(value, at) : buf.writeInt32BE(value, at);
/** The largest message written here, an IPv6 route: header 16, rtmsg 12, two addresses 2 x 20, oif 8. */
export const MAX_WRITE_BYTES = 76;

/**
 * Writes the whole message at `offset` of `buf` (zero-filled, with MAX_WRITE_BYTES left), padded to
 * a 4-byte boundary so that several can share one datagram (NLMSG_ALIGN); returns the offset after it.
 */
export function encodeWriteInto(w: KernelWrite, seq: number, port: number, ack: boolean, buf: Buffer, offset: number): number {
  const flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0) | writeFlags(w);
  let at = offset + NLMSG_HEADER;
  let type: number;
  switch (w.op) {
    case 'set-neighbor':
    case 'del-neighbor':
      writeNdmsg(buf, at, addressFamily(w.ip.family), w.index, 0);
      at = putAddress(buf, at + BODY, NDA_DST, w.ip);
      if (w.op === 'set-neighbor') at = putMac(buf, at, NDA_LLADDR, w.mac);
      type = w.op === 'set-neighbor' ? RTM_NEWNEIGH : RTM_DELNEIGH;
      break;
    case 'set-fdb':
    case 'del-fdb':
      writeNdmsg(buf, at, AF_BRIDGE, w.index, NTF_SELF);
      at = putMac(buf, at + BODY, NDA_LLADDR, w.mac);
      at = putAddress(buf, at, NDA_DST, w.dst);
      type = w.op === 'set-fdb' ? RTM_NEWNEIGH : RTM_DELNEIGH;
      break;
    case 'set-route':
    case 'del-route': {
      const r = w.route;
      buf[at] = addressFamily(r.dst.address.family);
      buf[at + 1] = r.dst.prefixLength;
      buf[at + 4] = MAIN_TABLE;
      buf[at + 5] = r.protocol;
      buf[at + 6] = RT_SCOPE_UNIVERSE;
      buf[at + 7] = RTN_UNICAST;
      at = putAddress(buf, at + BODY, RTA_DST, r.dst.address);
      if (r.nexthopId !== undefined) {
        at = putU32(buf, at, RTA_NH_ID, r.nexthopId); // the kernel refuses a gateway or device beside it
      } else {
        writeU32(buf, r.onlink ? RTNH_F_ONLINK : 0, offset + NLMSG_HEADER + 8);
        at = putAddress(buf, at, RTA_GATEWAY, r.gateway);
        at = putU32(buf, at, RTA_OIF, r.oif);
      }
      type = w.op === 'set-route' ? RTM_NEWROUTE : RTM_DELROUTE;
      break;
    }
    case 'set-nexthop': {
      const n = w.nexthop;
      buf[at] = addressFamily(n.gateway.family);
      buf[at + 2] = n.protocol;
      writeU32(buf, n.onlink ? RTNH_F_ONLINK : 0, at + 4);
      at = putU32(buf, at + NH_BODY, NHA_ID, n.id);
      at = putU32(buf, at, NHA_OIF, n.oif);
      at = putAddress(buf, at, NHA_GATEWAY, n.gateway);
      type = RTM_NEWNEXTHOP;
      break;
    }
    case 'del-nexthop':
      at = putU32(buf, at + NH_BODY, NHA_ID, w.id); // family AF_UNSPEC: the id alone names it
      type = RTM_DELNEXTHOP;
      break;
  }
  // nlmsghdr: the length counts the message without its trailing padding (as the package writes it).
  writeU32(buf, at - offset, offset);
  writeU16(buf, type, offset + 4);
  writeU16(buf, flags, offset + 6);
  writeU32(buf, seq, offset + 8);
  writeU32(buf, port, offset + 12);
  return align(at);
}

/** Writes replace what is there, except a new nexthop object, which must not take over someone else's id. */
function writeFlags(w: KernelWrite): number {
  if (w.op === 'set-nexthop') return w.exclusive ? EXCLUSIVE : REPLACE;
  return w.op.startsWith('set-') ? REPLACE : 0;
}

/** struct ndmsg: family, ifindex, state (always permanent here), flags. */
function writeNdmsg(buf: Buffer, at: number, family: number, ifindex: number, flags: number): void {
  buf[at] = family;
  writeS32(buf, ifindex, at + 4);
  writeU16(buf, NUD_PERMANENT, at + 8);
  buf[at + 10] = flags;
}

/** An attribute's header at the next 4-byte boundary; returns where its data goes. */
function putHeader(buf: Buffer, at: number, type: number, dataLength: number): number {
  const start = align(at);
  writeU16(buf, 4 + dataLength, start);
  writeU16(buf, type, start + 2);
  return start + 4;
}

function putAddress(buf: Buffer, at: number, type: number, ip: IpAddress): number {
  const bytes = ip.toBytes();
  let data = putHeader(buf, at, type, bytes.length);
  for (const byte of bytes) buf[data++] = byte;
  return data;
}

function putMac(buf: Buffer, at: number, type: number, mac: string): number {
  const groups = mac.split(':');
  let data = putHeader(buf, at, type, groups.length);
  for (const group of groups) buf[data++] = parseInt(group, 16);
  return data;
}

function putU32(buf: Buffer, at: number, type: number, value: number): number {
  const data = putHeader(buf, at, type, 4);
  writeU32(buf, value, data);
  return data + 4;
}

function align(offset: number): number {
  return (offset + 3) & ~3;
}

export function parseMac(text: string): Buffer {
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

export function describe(w: KernelWrite): string {
  const names = {
    'set-neighbor': 'set neighbour', 'del-neighbor': 'delete neighbour', 'set-fdb': 'set fdb entry',
    'del-fdb': 'delete fdb entry', 'set-route': 'replace route', 'del-route': 'delete route',
    'set-nexthop': 'set nexthop', 'del-nexthop': 'delete nexthop',
  };
  return names[w.op];
}

export function objectOf(w: KernelWrite): string {
  switch (w.op) {
    case 'set-neighbor':
    case 'del-neighbor':
      return w.ip.toString();
    case 'set-fdb':
    case 'del-fdb':
      return `${w.mac} dst ${w.dst.toString()}`;
    case 'set-route':
    case 'del-route':
      return w.route.dst.toString();
    case 'set-nexthop':
      return `id ${w.nexthop.id} via ${w.nexthop.gateway.toString()}`;
    case 'del-nexthop':
      return `id ${w.id}`;
  }
}
