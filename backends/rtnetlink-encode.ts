// KernelWrite -> one netlink request message (part of the rtnetlink adapter: only
// backends/rtnetlink*.ts import the `netlink` package), and how a write is named in errors.
import { FlagsNew, type rt } from 'netlink';
import { AttrStream, formatMessage } from 'netlink/dist/structs.js';
import { formatNeighborMessage, formatRouteMessage } from 'netlink/dist/rt/structs.js';
import { addressFamily, AF_BRIDGE, MAIN_TABLE, RTNH_F_ONLINK } from './rtnetlink-decode.js';
import type { KernelWrite } from './rtnetlink-types.js';

export const REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_NEWNEIGH = 28;
const RTM_DELNEIGH = 29;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;

/** The whole message, padded to a 4-byte boundary so that several can share one datagram. */
export function encodeWrite(w: KernelWrite, seq: number, port: number, ack: boolean): Buffer {
  const stream = new AttrStream();
  const type = formatBody(w, stream);
  const flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0) | (w.op.startsWith('set-') ? REPLACE : 0);
  const message = Buffer.concat(formatMessage({ type, flags, seq, port, data: stream.bufs }));
  // Messages packed into one datagram must each start on a 4-byte boundary (NLMSG_ALIGN).
  const padding = (4 - (message.length % 4)) % 4;
  return padding === 0 ? message : Buffer.concat([message, Buffer.alloc(padding)]);
}

/** Emits the write's body into `stream`; returns its message type. */
function formatBody(w: KernelWrite, stream: AttrStream): number {
  switch (w.op) {
    case 'set-neighbor':
    case 'del-neighbor': {
      const dst = Buffer.from(w.ip.toBytes());
      const attrs = w.op === 'set-neighbor' ? { dst, lladdr: parseMac(w.mac) } : { dst };
      formatNeighborMessage({ kind: 'neighbor', data: { family: addressFamily(w.ip.family), ifindex: w.index, state: { permanent: true } }, attrs }, stream);
      return w.op === 'set-neighbor' ? RTM_NEWNEIGH : RTM_DELNEIGH;
    }
    case 'set-fdb':
    case 'del-fdb': {
      const data: rt.Neighbor = { family: AF_BRIDGE, ifindex: w.index, state: { permanent: true }, flags: { self: true } };
      formatNeighborMessage({ kind: 'neighbor', data, attrs: { lladdr: parseMac(w.mac), dst: Buffer.from(w.dst.toBytes()) } }, stream);
      return w.op === 'set-fdb' ? RTM_NEWNEIGH : RTM_DELNEIGH;
    }
    case 'set-route':
    case 'del-route': {
      const r = w.route;
      const data: rt.Route = {
        family: addressFamily(r.dst.address.family), dstLen: r.dst.prefixLength, table: MAIN_TABLE,
        // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- route protocol numbers are open-ended
        protocol: r.protocol,
        scope: 'UNIVERSE', type: 'UNICAST', flags: { __unknown: r.onlink ? RTNH_F_ONLINK : 0 },
      };
      const attrs = { dst: Buffer.from(r.dst.address.toBytes()), gateway: Buffer.from(r.gateway.toBytes()), oif: r.oif };
      formatRouteMessage({ kind: 'route', data, attrs }, stream);
      return w.op === 'set-route' ? RTM_NEWROUTE : RTM_DELROUTE;
    }
  }
}

export function parseMac(text: string): Buffer {
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

export function describe(w: KernelWrite): string {
  const names = {
    'set-neighbor': 'set neighbour', 'del-neighbor': 'delete neighbour', 'set-fdb': 'set fdb entry',
    'del-fdb': 'delete fdb entry', 'set-route': 'replace route', 'del-route': 'delete route',
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
  }
}
