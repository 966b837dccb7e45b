// IPv6-only networks (net-conf "EnableIPv4": false) in a real etcd 3.4 on 127.0.0.1 (host
// namespace, no links touched): our own key is flannel's `0.0.0.0-0&<IPv6 subnet>` with flannel's
// value ("PublicIP":"0.0.0.0") under a 24 h-style etcd lease (here 5 s, renewed in place), taken
// from the IPv6 pool alone and taken back on restart by our public IPv6 address; peers' IPv6-only
// keys, written by hand as flannel writes them, are leases with only an IPv6 half, and their
// deletion is seen; a key whose IPv6 half is malformed is logged and skipped.
import type { EtcdLeaseManager } from '../../subnet/etcd-lease-manager.js';
import type { LeaseAttrs } from '../../subnet/lease.js';
import { EtcdServer } from '../lab/etcd-server.js';
import { waitFor } from '../lab/netns.js';
import { ip } from '../addresses.js';
import { etcdLeaseId, etcdValue, makeManager, PeerRecorder, pool } from './lease-test-helpers.js';

const T = 60_000;
const PREFIX = `/weft-v6only-${process.pid}/network`;
// Two subnets: a flannel peer's key holds fd00:10:244:1::/64 at first.
const ipv6Pool = pool('fd00:10:244::/56', 'fd00:10:244:1::', 'fd00:10:244:2::', 64);
const attrs = (n: number): LeaseAttrs => ({
  publicIpv6: ip(`2001:db8::${n}`),
  backendType: 'vxlan',
  backendV6Data: { vni: 1, vtepMac: `02:00:00:00:06:0${n}` },
});
/** flannel's vxlan value for a node without IPv4 (pkg/backend/vxlan/vxlan.go newSubnetAttrs, pkg/lease LeaseAttrs). */
const flannelV6Value = (n: number): string =>
  `{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::${n}","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:06:0${n}"}}`;
const keyOf = (subnet: string): string => `${PREFIX}/subnets/0.0.0.0-0&${subnet}`;

let etcd: EtcdServer;
const managers: EtcdLeaseManager[] = [];

beforeAll(async () => {
  etcd = await EtcdServer.start();
}, T);

afterAll(async () => {
  for (const m of managers) await m.close();
  await etcd.dispose();
});

describe('an IPv6-only node in etcd', () => {
  it("takes flannel's IPv6-only key and value, renews it in place, and takes it back on restart", async () => {
    await etcd.etcdctl(['put', keyOf('fd00:10:244:1::-64'), flannelV6Value(9)]); // a flannel node's lease
    // A lease renewed about every second (5 s TTL, 4 s margin).
    const first = makeManager(etcd.endpoint, PREFIX, { ttlSeconds: 5, renewMarginMinutes: 4 / 60, random: () => 0 });
    managers.push(first.manager);
    const own = await first.manager.acquireLease({ ipv6Pool, attrs: attrs(1) }, AbortSignal.timeout(10_000));
    expect([own.subnet, own.publicIp, own.ipv6Subnet?.toString()]).toEqual([undefined, undefined, 'fd00:10:244:2::/64']);
    const ownKey = keyOf('fd00:10:244:2::-64');
    expect(await etcdValue(etcd, ownKey)).toBe(flannelV6Value(1));
    const ttl = await etcd.etcdctl(['lease', 'timetolive', (BigInt(await etcdLeaseId(etcd, ownKey))).toString(16)]);
    expect(ttl).toMatch(/granted with TTL\(5s\)/);

    const leaseId = await etcdLeaseId(etcd, ownKey);
    expect(leaseId).not.toBe('0');
    await waitFor('a renewal (a new etcd lease on the same key)', async () => ((await etcdLeaseId(etcd, ownKey)) !== leaseId ? true : undefined), 5000);
    expect(await etcdValue(etcd, ownKey)).toBe(flannelV6Value(1));
    expect(first.lines.some((l) => l.startsWith('info: renewed subnet lease'))).toBe(true);
    await first.manager.close();

    // flannel would take the first IPv6-only key it lists (PublicIP "0.0.0.0" matches every one); we take ours.
    const second = makeManager(etcd.endpoint, PREFIX, { random: () => 0 });
    managers.push(second.manager);
    const again = await second.manager.acquireLease({ ipv6Pool, attrs: attrs(1) }, AbortSignal.timeout(10_000));
    expect(again.ipv6Subnet?.toString()).toBe('fd00:10:244:2::/64');
    expect(second.lines).toContain('info: reusing our earlier subnet');
    expect(await etcdValue(etcd, keyOf('fd00:10:244:1::-64'))).toBe(flannelV6Value(9));
    await second.manager.close();
  }, T);

  it('sees IPv6-only peers as leases with an IPv6 half, their deletion, and skips a key whose IPv6 half is malformed', async () => {
    const { manager, lines } = makeManager(etcd.endpoint, PREFIX, { random: () => 0 });
    managers.push(manager);
    await manager.acquireLease({ ipv6Pool, attrs: attrs(1) }, AbortSignal.timeout(10_000));
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = manager.watchLeases(recorder, stop.signal);
    try {
      await waitFor('the snapshot', () => (recorder.count('snapshot') === 1 ? true : undefined), 5000);
      expect(recorder.subnets()).toEqual(['fd00:10:244:1::/64']); // not our own key
      const peer = recorder.peers.get('fd00:10:244:1::/64');
      expect([peer?.subnet, peer?.publicIp, peer?.publicIpv6?.toString(), peer?.backendV6Data?.vtepMac, peer?.backendData]).toEqual([
        undefined, undefined, '2001:db8::9', '02:00:00:00:06:09', undefined,
      ]);

      await etcd.etcdctl(['put', keyOf('fd00:10:244:4::1-64'), flannelV6Value(4)]); // host bits in the IPv6 half
      await etcd.etcdctl(['put', `${PREFIX}/subnets/0.0.0.0-0&fd00:10:244:5::-64`, '{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::5","BackendType":"host-gw"}']);
      await waitFor('the host-gw peer', () => (recorder.peers.has('fd00:10:244:5::/64') ? true : undefined), 5000);
      expect(recorder.peers.get('fd00:10:244:5::/64')?.publicIpv6?.toString()).toBe('2001:db8::5');
      expect(recorder.subnets()).toEqual(['fd00:10:244:1::/64', 'fd00:10:244:5::/64']);
      const warnings = lines.filter((l) => l.startsWith('warn: skipping peer lease'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/0\.0\.0\.0-0&fd00:10:244:4::1-64.*malformed IPv6 part of the subnet key/);

      await etcd.etcdctl(['del', keyOf('fd00:10:244:1::-64')]);
      await waitFor('the removed peer', () => (recorder.peers.has('fd00:10:244:1::/64') ? undefined : true), 5000);
      const removed = recorder.batches.filter((b) => b.kind === 'removed');
      expect(removed.at(-1)?.leases.map((l) => [l.subnet, l.ipv6Subnet?.toString()])).toEqual([[undefined, 'fd00:10:244:1::/64']]);
      expect(recorder.ownChanges).toEqual([]);
    } finally {
      stop.abort();
      await watching;
    }
  }, T);

  it('gives another IPv6-only node the last free subnet, then says it is out of subnets', async () => {
    const other = makeManager(etcd.endpoint, PREFIX, { random: () => 0 });
    managers.push(other.manager);
    const lease = await other.manager.acquireLease({ ipv6Pool, attrs: attrs(3) }, AbortSignal.timeout(10_000));
    expect(lease.ipv6Subnet?.toString()).toBe('fd00:10:244:1::/64'); // freed by the deletion above
    expect(await etcdValue(etcd, keyOf('fd00:10:244:1::-64'))).toBe(flannelV6Value(3));
    const full = makeManager(etcd.endpoint, PREFIX, { random: () => 0 });
    managers.push(full.manager);
    await expect(full.manager.acquireLease({ ipv6Pool, attrs: attrs(7) }, AbortSignal.timeout(10_000))).rejects.toThrow(/out of subnets: every \/64 from fd00:10:244:1:: to fd00:10:244:2::.*widen IPv6Network/);
  }, T);
});
