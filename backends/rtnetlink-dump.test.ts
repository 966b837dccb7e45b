// The byte-level dump parsers against the netlink package's parser (what the adapter used before):
// the same entries out of the same messages, including the attributes the kernel adds that the
// datapath ignores, other tables, other interfaces and entries without a MAC.
import { rt } from 'netlink';
import { AttrStream } from 'netlink/dist/structs.js';
import { formatNeighborMessage, formatRouteMessage, parseMessage } from 'netlink/dist/rt/structs.js';
import { AF_BRIDGE, AF_INET, AF_INET6, fdbEntryOf, neighborEntryOf, routeEntryOf, type NeighborMessage, type RouteMessage } from './rtnetlink-decode.js';
import { fdbOfDump, neighborDumpRequest, neighborOfDump, routeOfDump } from './rtnetlink-dump.js';

const bytes = (...b: number[]): Buffer => Buffer.from(b);
const u32 = (value: number): Buffer => {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(value); // these tests run on little-endian machines (x64)
  return buf;
};

function routePayload(data: rt.Route, attrs: rt.RouteAttrs): Buffer {
  const stream = new AttrStream();
  formatRouteMessage({ kind: 'route', data, attrs }, stream);
  return Buffer.concat(stream.bufs);
}

function neighborPayload(data: rt.Neighbor, attrs: rt.NeighborAttrs): Buffer {
  const stream = new AttrStream();
  formatNeighborMessage({ kind: 'neighbor', data, attrs }, stream);
  return Buffer.concat(stream.bufs);
}

/** weft's route protocol: route protocol numbers are open-ended, the package's type is not. */
// eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- see above
const WEFT = 87 as rt.RouteProtocol;

const ROUTES: [string, Buffer][] = [
  ['a route through a nexthop object (compat mode: gateway and oif shown)', routePayload(
    { family: AF_INET, dstLen: 24, table: 254, protocol: WEFT, scope: 'UNIVERSE', type: 'UNICAST', flags: { __unknown: 4 } },
    { table: 254, dst: bytes(10, 244, 3, 0), gateway: bytes(10, 244, 3, 0), oif: 7, nhId: u32(77), priority: 0 },
  )],
  ['a plain via-route', routePayload(
    { family: AF_INET, dstLen: 24, table: 254, protocol: WEFT, scope: 'UNIVERSE', type: 'UNICAST', flags: {} },
    { table: 254, dst: bytes(10, 244, 4, 0), gateway: bytes(192, 0, 2, 14), oif: 2 },
  )],
  ['a connected route with a preferred source', routePayload(
    { family: AF_INET, dstLen: 24, table: 254, protocol: 'KERNEL', scope: 'LINK', type: 'UNICAST', flags: {} },
    { table: 254, dst: bytes(192, 0, 2, 0), prefsrc: bytes(192, 0, 2, 1), oif: 2 },
  )],
  ['an IPv4 default route (no dst)', routePayload(
    { family: AF_INET, dstLen: 0, table: 254, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST', flags: {} },
    { table: 254, gateway: bytes(192, 0, 2, 254), oif: 2 },
  )],
  ['an IPv6 default route', routePayload(
    { family: AF_INET6, dstLen: 0, table: 254, protocol: 'BOOT', scope: 'UNIVERSE', type: 'UNICAST', flags: {} },
    { table: 254, gateway: Buffer.from('20010db8000000000000000000000001', 'hex'), oif: 2 },
  )],
  ['an IPv6 route', routePayload(
    { family: AF_INET6, dstLen: 64, table: 254, protocol: WEFT, scope: 'UNIVERSE', type: 'UNICAST', flags: { __unknown: 4 } },
    { table: 254, dst: Buffer.from('fd001002440003000000000000000000', 'hex'), gateway: Buffer.from('fd001002440003000000000000000000', 'hex'), oif: 9 },
  )],
  ['a route of the local table', routePayload(
    { family: AF_INET, dstLen: 32, table: 255, protocol: 'KERNEL', scope: 'HOST', type: 'LOCAL', flags: {} },
    { table: 255, dst: bytes(192, 0, 2, 1), oif: 2 },
  )],
  ['a table above 255 (only in RTA_TABLE)', routePayload(
    { family: AF_INET, dstLen: 24, table: 252, protocol: 'STATIC', scope: 'UNIVERSE', type: 'UNICAST', flags: {} },
    { table: 1000, dst: bytes(10, 9, 0, 0), oif: 2 },
  )],
];

const NEIGHBORS: [string, Buffer][] = [
  ['a permanent neighbour', neighborPayload({ family: AF_INET, ifindex: 7, state: { permanent: true } }, { dst: bytes(10, 244, 3, 0), lladdr: bytes(0x0a, 0x58, 0x0a, 0xf4, 0x03, 0x01) })],
  ['a learned neighbour with cache info', neighborPayload({ family: AF_INET, ifindex: 7, state: { reachable: true } }, { dst: bytes(10, 244, 5, 0), lladdr: bytes(0xff, 0xee, 0, 1, 2, 3), probes: 0 })],
  ['a neighbour without a MAC (failed)', neighborPayload({ family: AF_INET, ifindex: 7, state: { failed: true } }, { dst: bytes(10, 244, 6, 0) })],
  ['a neighbour on another interface', neighborPayload({ family: AF_INET, ifindex: 8, state: { permanent: true } }, { dst: bytes(10, 244, 7, 0), lladdr: bytes(1, 2, 3, 4, 5, 6) })],
  ['an IPv6 neighbour', neighborPayload({ family: AF_INET6, ifindex: 7, state: { permanent: true } }, { dst: Buffer.from('fd001002440003000000000000000000', 'hex'), lladdr: bytes(0x0a, 0x58, 0, 0, 0, 9) })],
];

const FDB: [string, Buffer][] = [
  ['an FDB entry', neighborPayload({ family: AF_BRIDGE, ifindex: 7, state: { permanent: true }, flags: { self: true } }, { lladdr: bytes(0x0a, 0x58, 0x0a, 0xf4, 0x03, 0x01), dst: bytes(198, 51, 100, 7) })],
  ['an FDB entry with an IPv6 destination', neighborPayload({ family: AF_BRIDGE, ifindex: 7, state: { permanent: true }, flags: { self: true } }, { lladdr: bytes(0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44), dst: Buffer.from('20010db8000000000000000000000007', 'hex') })],
  ['an FDB entry without a destination (the device\'s own MAC)', neighborPayload({ family: AF_BRIDGE, ifindex: 7, state: { permanent: true }, flags: { self: true } }, { lladdr: bytes(0x0a, 0x58, 0, 0, 0, 1) })],
  ['an FDB entry of another device', neighborPayload({ family: AF_BRIDGE, ifindex: 8, state: { permanent: true }, flags: { self: true } }, { lladdr: bytes(1, 2, 3, 4, 5, 6), dst: bytes(198, 51, 100, 8) })],
];

describe('dump parsers read what the package parser read', () => {
  it.each(ROUTES)('%s', (_what, payload) => {
    expect(routeOfDump(payload)).toEqual(routeEntryOf(parseMessage(rt.MessageType.NEWROUTE, payload) as RouteMessage));
  });

  it.each(NEIGHBORS)('%s', (_what, payload) => {
    const old = parseMessage(rt.MessageType.NEWNEIGH, payload) as NeighborMessage;
    const entry = old.data.ifindex === 7 ? neighborEntryOf(old) : undefined;
    expect(neighborOfDump(payload, 7)).toEqual(entry?.mac === '' ? undefined : entry);
  });

  it.each(FDB)('%s', (_what, payload) => {
    const old = parseMessage(rt.MessageType.NEWNEIGH, payload) as NeighborMessage;
    expect(fdbOfDump(payload, 7)).toEqual(old.data.ifindex === 7 ? fdbEntryOf(old) : undefined);
  });

  it('finds the entries it should (the comparisons above are not all "undefined")', () => {
    expect(ROUTES.map(([, p]) => routeOfDump(p)).filter(Boolean)).toHaveLength(6);
    expect(NEIGHBORS.map(([, p]) => neighborOfDump(p, 7)?.mac)).toEqual(['0a:58:0a:f4:03:01', 'ff:ee:00:01:02:03', undefined, undefined, '0a:58:00:00:00:09']);
    expect(FDB.map(([, p]) => fdbOfDump(p, 7)?.dst.toString())).toEqual(['198.51.100.7', '2001:db8::7', undefined, undefined]);
  });

  it('stops at a truncated attribute instead of reading past the message', () => {
    const payload = ROUTES[0]?.[1] ?? Buffer.alloc(0);
    const cut = Buffer.concat([payload.subarray(0, 12), Buffer.from([40, 0, 1, 0, 10, 244])]); // RTA_DST claiming 40 bytes
    expect(routeOfDump(cut)).toMatchObject({ gateway: undefined, oif: undefined });
  });

  it('asks the kernel for one interface\'s neighbours (struct ndmsg, then NDA_IFINDEX)', () => {
    expect(neighborDumpRequest(AF_BRIDGE, 7).toString('hex')).toBe(`07${'00'.repeat(11)}0800080007000000`);
  });
});
