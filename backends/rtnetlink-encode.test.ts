// The direct encoder against the netlink package's own: byte for byte the same messages, so that
// writing straight into the datagram changes nothing the kernel sees.
import { type rt } from 'netlink';
import { AttrStream, formatMessage, parseMessages } from 'netlink/dist/structs.js';
import { formatNeighborMessage, formatRouteMessage } from 'netlink/dist/rt/structs.js';
import { ip, net } from '../test/addresses.js';
import { packDatagrams } from './rtnetlink-datagrams.js';
import { addressFamily, AF_BRIDGE, MAIN_TABLE, RTNH_F_ONLINK } from './rtnetlink-decode.js';
import { encodeWriteInto, MAX_WRITE_BYTES, REPLACE } from './rtnetlink-encode.js';
import type { KernelWrite } from './rtnetlink-types.js';

const TYPES = { 'set-neighbor': 28, 'del-neighbor': 29, 'set-fdb': 28, 'del-fdb': 29, 'set-route': 24, 'del-route': 25, 'set-nexthop': 104, 'del-nexthop': 105 };
const u32 = (value: number): Buffer => {
  const buf = Buffer.alloc(4);
  buf.writeUInt32LE(value); // these tests run on little-endian machines (x64)
  return buf;
};
const mac = (text: string): Buffer => Buffer.from(text.split(':').map((h) => parseInt(h, 16)));

/** What the adapter sent before: the package's structs, its attribute stream, then NLMSG_ALIGN padding. */
function packageEncoding(w: KernelWrite, seq: number, port: number, ack: boolean): Buffer {
  const stream = new AttrStream();
  if (w.op === 'set-neighbor' || w.op === 'del-neighbor') {
    const dst = Buffer.from(w.ip.toBytes());
    const attrs = w.op === 'set-neighbor' ? { dst, lladdr: mac(w.mac) } : { dst };
    formatNeighborMessage({ kind: 'neighbor', data: { family: addressFamily(w.ip.family), ifindex: w.index, state: { permanent: true } }, attrs }, stream);
  } else if (w.op === 'set-fdb' || w.op === 'del-fdb') {
    const data: rt.Neighbor = { family: AF_BRIDGE, ifindex: w.index, state: { permanent: true }, flags: { self: true } };
    formatNeighborMessage({ kind: 'neighbor', data, attrs: { lladdr: mac(w.mac), dst: Buffer.from(w.dst.toBytes()) } }, stream);
  } else if (w.op === 'set-route' || w.op === 'del-route') {
    const r = w.route;
    const data: rt.Route = {
      family: addressFamily(r.dst.address.family), dstLen: r.dst.prefixLength, table: MAIN_TABLE,
      // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- route protocol numbers are open-ended
      protocol: r.protocol,
      scope: 'UNIVERSE', type: 'UNICAST', flags: { __unknown: r.onlink && r.nexthopId === undefined ? RTNH_F_ONLINK : 0 },
    };
    const dst = Buffer.from(r.dst.address.toBytes());
    const attrs = r.nexthopId === undefined ? { dst, gateway: Buffer.from(r.gateway.toBytes()), oif: r.oif } : { dst, nhId: u32(r.nexthopId) };
    formatRouteMessage({ kind: 'route', data, attrs }, stream);
  } else {
    throw new Error(`the netlink package has no ${w.op} message`);
  }
  const flags = 1 | (ack ? 4 : 0) | (w.op.startsWith('set-') ? REPLACE : 0);
  const message = Buffer.concat(formatMessage({ type: TYPES[w.op], flags, seq, port, data: stream.bufs }));
  return Buffer.concat([message, Buffer.alloc((4 - (message.length % 4)) % 4)]);
}

const WRITES: KernelWrite[] = [
  { op: 'set-neighbor', index: 7, ip: ip('10.244.3.0'), mac: '0a:58:0a:f4:03:01' },
  { op: 'del-neighbor', index: 7, ip: ip('10.244.3.0') },
  { op: 'set-neighbor', index: 2_000_000, ip: ip('fd00:10:244:3::'), mac: 'ff:ee:dd:cc:bb:aa' },
  { op: 'del-neighbor', index: 9, ip: ip('fd00:10:244:3::') },
  { op: 'set-fdb', index: 7, mac: '0a:58:0a:f4:03:01', dst: ip('198.51.100.7') },
  { op: 'del-fdb', index: 7, mac: '0a:58:0a:f4:03:01', dst: ip('198.51.100.7') },
  { op: 'set-fdb', index: 8, mac: 'c6:d2:32:6f:8f:44', dst: ip('2001:db8::7') },
  { op: 'del-fdb', index: 8, mac: 'c6:d2:32:6f:8f:44', dst: ip('2001:db8::7') },
  { op: 'set-route', route: { dst: net('10.244.3.0/24'), gateway: ip('10.244.3.0'), oif: 7, onlink: true, protocol: 3 } },
  { op: 'del-route', route: { dst: net('10.244.3.0/24'), gateway: ip('10.244.3.0'), oif: 7, onlink: true, protocol: 3 } },
  { op: 'set-route', route: { dst: net('10.244.4.0/24'), gateway: ip('192.0.2.14'), oif: 2, onlink: false, protocol: 0x57 } },
  { op: 'set-route', route: { dst: net('fd00:10:244:3::/64'), gateway: ip('fd00:10:244:3::'), oif: 70_000, onlink: true, protocol: 3 } },
  { op: 'del-route', route: { dst: net('fd00:10:244:4::/64'), gateway: ip('2001:db8::14'), oif: 2, onlink: false, protocol: 0x57 } },
  { op: 'set-route', route: { dst: net('0.0.0.0/0'), gateway: ip('192.0.2.1'), oif: 2, onlink: false, protocol: 3 } },
  // Through a nexthop object: the id alone, no gateway, device or onlink flag (the kernel refuses them beside it).
  { op: 'set-route', route: { dst: net('10.244.3.0/24'), gateway: ip('10.244.3.0'), oif: 7, onlink: true, protocol: 3, nexthopId: 0x9abcdef } },
  { op: 'del-route', route: { dst: net('fd00:10:244:4::/64'), gateway: ip('2001:db8::14'), oif: 2, onlink: false, protocol: 0x57, nexthopId: 7 } },
];

describe('encodeWriteInto', () => {
  it.each(WRITES.map((w, i) => [i, w.op, w] as const))('writes #%d (%s) as the netlink package does', (i, _op, w) => {
    for (const [seq, ack] of [[1, false], [0x7ffffffe, true], [4242 + i, true]] as const) {
      const buf = Buffer.alloc(2 * MAX_WRITE_BYTES);
      const end = encodeWriteInto(w, seq, 31337, ack, buf, 4);
      const expected = packageEncoding(w, seq, 31337, ack);
      expect(buf.subarray(4, end).toString('hex')).toBe(expected.toString('hex'));
      expect(end - 4).toBeLessThanOrEqual(MAX_WRITE_BYTES);
    }
  });
});

describe('encodeWriteInto, nexthop objects (which the netlink package cannot encode)', () => {
  const encode = (w: KernelWrite): string => {
    const buf = Buffer.alloc(MAX_WRITE_BYTES);
    return buf.subarray(0, encodeWriteInto(w, 5, 9, true, buf, 0)).toString('hex');
  };
  const header = (length: number, type: number, flags: number): string => u32(length).toString('hex') + u32(type | (flags << 16)).subarray(0, 4).toString('hex');

  it('writes `ip nexthop add id N via <gw> dev <oif> onlink proto 87` as nhmsg + NHA_ID, NHA_OIF, NHA_GATEWAY', () => {
    const nexthop = { id: 0x01020304, gateway: ip('10.244.3.0'), oif: 7, onlink: true, protocol: 0x57 };
    // nlmsghdr (REQUEST | ACK | CREATE | EXCL), nhmsg (AF_INET, scope 0, proto 87, flags RTNH_F_ONLINK), then the attributes.
    expect(encode({ op: 'set-nexthop', nexthop, exclusive: true })).toBe(
      header(48, 104, 1 | 4 | 0x400 | 0x200) + u32(5).toString('hex') + u32(9).toString('hex') +
      '02005700' + '04000000' + '08000100' + '04030201' + '08000500' + '07000000' + '08000600' + '0af40300');
    // Replacing one of ours: CREATE | REPLACE; IPv6: AF_INET6 and a 16-byte gateway.
    const v6 = encode({ op: 'set-nexthop', nexthop: { ...nexthop, gateway: ip('fd00:10:244:3::'), onlink: false }, exclusive: false });
    expect(v6.slice(0, 16)).toBe(header(60, 104, 1 | 4 | 0x400 | 0x100));
    expect(v6.slice(32, 48)).toBe('0a005700' + '00000000');
    expect(v6.slice(-40)).toBe('14000600' + 'fd000010024400030000000000000000');
  });

  it('deletes a nexthop object by its id alone', () => {
    expect(encode({ op: 'del-nexthop', id: 7 })).toBe(header(32, 105, 1 | 4) + u32(5).toString('hex') + u32(9).toString('hex') + '00000000' + '00000000' + '08000100' + '07000000');
  });
});

describe('packDatagrams', () => {
  it('packs many writes into full datagrams, only the last message of each asking for an acknowledgement', () => {
    const writes = Array.from({ length: 2000 }, (_, i) => WRITES[i % WRITES.length] as KernelWrite);
    let seq = 100;
    const datagrams = [...packDatagrams(writes, () => ++seq, 55)];
    expect(datagrams.length).toBeGreaterThan(1);
    let next = 0;
    for (const datagram of datagrams) {
      expect(datagram.bytes.length).toBeLessThanOrEqual(32 * 1024);
      const expected = datagram.writes.map(({ seq: s, write }, k) => packageEncoding(write, s, 55, k === datagram.writes.length - 1));
      expect(datagram.bytes.equals(Buffer.concat(expected))).toBe(true);
      expect(parseMessages(datagram.bytes).map((m) => m.seq)).toEqual(datagram.writes.map((w) => w.seq));
      for (const { write } of datagram.writes) expect(write).toBe(writes[next++]);
    }
    expect(next).toBe(writes.length);
  });
});
