// Dual-stack and IPv6-only leases written by hand in flannel's format into a real etcd 3.4 on
// 127.0.0.1 (host namespace, no links touched), as an IPv4-only weft node sees them: a dual-stack
// lease is a peer (its IPv4 half blocks that subnet, its IPv6 attributes are read); an IPv6-only
// lease is a peer with only an IPv6 half (an IPv4 datapath programs nothing for it); a key whose
// IPv6 half is malformed is logged and skipped as a whole.
// Then a dual-stack node: its own key with a subnet of each family, renewed and taken back.
import type { EtcdLeaseManager } from '../../subnet/etcd-lease-manager.js';
import { EtcdServer } from '../lab/etcd-server.js';
import { waitFor } from '../lab/netns.js';
import type { LeaseAttrs } from '../../subnet/lease.js';
import { ip } from '../addresses.js';
import { etcdLeaseId, etcdValue, makeManager, PeerRecorder, pool, vxlan } from './lease-test-helpers.js';

const T = 60_000;
const PREFIX = `/weft-dual-${process.pid}/network`;
// As flannel's vxlan backend writes it for a node with both devices (pkg/backend/vxlan/vxlan.go, pkg/lease/lease.go).
const DUAL_VALUE =
  '{"PublicIP":"192.0.2.7","PublicIPv6":"2001:db8::7","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:07"},"BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:06:07"}}';
const V6_ONLY_VALUE = '{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::8","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:06:08"}}';

let etcd: EtcdServer;
let manager: EtcdLeaseManager | undefined;

beforeAll(async () => {
  etcd = await EtcdServer.start();
}, T);

afterAll(async () => {
  await manager?.close();
  await etcd.dispose();
});

describe('flannel dual-stack leases in etcd, seen by an IPv4-only node', () => {
  it('takes a dual-stack lease as a peer with its IPv6 attributes, an IPv6-only lease as a peer with one half, skips malformed keys, and drops it when deleted', async () => {
    const dualKey = `${PREFIX}/subnets/10.244.7.0-24&fd00:10:244:7::-64`;
    await etcd.etcdctl(['put', dualKey, DUAL_VALUE]);
    const made = makeManager(etcd.endpoint, PREFIX);
    manager = made.manager;
    // Only two subnets to choose from: the dual-stack lease holds the first.
    const own = await manager.acquireLease({ pool: pool('10.244.0.0/16', '10.244.7.0', '10.244.8.0'), attrs: vxlan('192.0.2.1', '02:00:00:00:00:01') }, AbortSignal.timeout(10_000));
    expect(own.subnet?.toString()).toBe('10.244.8.0/24');

    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = manager.watchLeases(recorder, stop.signal);
    try {
      await waitFor('the dual-stack peer', () => (recorder.peers.has('10.244.7.0/24') ? true : undefined), 5000);
      const peer = recorder.peers.get('10.244.7.0/24');
      expect([peer?.ipv6Subnet?.toString(), peer?.publicIpv6?.toString(), peer?.backendV6Data?.vtepMac, peer?.backendData?.vtepMac]).toEqual([
        'fd00:10:244:7::/64', '2001:db8::7', '02:00:00:00:06:07', '02:00:00:00:00:07',
      ]);

      await etcd.etcdctl(['put', `${PREFIX}/subnets/0.0.0.0-0&fd00:10:244:8::-64`, V6_ONLY_VALUE]);
      await etcd.etcdctl(['put', `${PREFIX}/subnets/10.244.9.0-24&fd00:10:244:9::1-64`, DUAL_VALUE]); // host bits in the IPv6 half
      await etcd.etcdctl(['put', `${PREFIX}/subnets/10.244.10.0-24&fd00:10:244:a::-64`, DUAL_VALUE]);
      await waitFor('the peer after the skipped ones', () => (recorder.peers.has('10.244.10.0/24') ? true : undefined), 5000);
      expect(recorder.subnets()).toEqual(['10.244.10.0/24', '10.244.7.0/24', 'fd00:10:244:8::/64']);
      const v6Only = recorder.peers.get('fd00:10:244:8::/64');
      expect([v6Only?.subnet, v6Only?.publicIp, v6Only?.publicIpv6?.toString(), v6Only?.backendV6Data?.vtepMac]).toEqual([
        undefined, undefined, '2001:db8::8', '02:00:00:00:06:08',
      ]);
      const warnings = made.lines.filter((l) => l.startsWith('warn: skipping peer lease'));
      expect(warnings).toHaveLength(1);
      expect(warnings.join('\n')).toMatch(/10\.244\.9\.0-24&fd00:10:244:9::1-64.*malformed IPv6 part of the subnet key/);

      await etcd.etcdctl(['del', dualKey]);
      await waitFor('the removed peer', () => (recorder.peers.has('10.244.7.0/24') ? undefined : true), 5000);
      const removed = recorder.batches.filter((b) => b.kind === 'removed');
      expect(removed.at(-1)?.leases.map((l) => [l.subnet?.toString(), l.ipv6Subnet?.toString()])).toEqual([['10.244.7.0/24', 'fd00:10:244:7::/64']]);
    } finally {
      stop.abort();
      await watching;
    }
  }, T);
});

describe('a dual-stack node in etcd', () => {
  const prefix = `/weft-dual-node-${process.pid}/network`;
  // One free subnet of each family: the peers hold the others (an IPv6-only key holds an IPv6 one).
  const pools = {
    pool: pool('10.1.0.0/16', '10.1.15.0', '10.1.16.0'),
    ipv6Pool: pool('fd00:12::/32', 'fd00:12:13::', 'fd00:12:13:200::', 56),
  };
  const attrs: LeaseAttrs = {
    ...vxlan('192.0.2.1', '02:00:00:00:00:01'),
    publicIpv6: ip('2001:db8::1'),
    backendV6Data: { vni: 1, vtepMac: '02:00:00:00:06:01' },
  };
  const ownKey = `${prefix}/subnets/10.1.16.0-24&fd00:12:13:200::-56`;
  const ownValue =
    '{"PublicIP":"192.0.2.1","PublicIPv6":"2001:db8::1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:01"},"BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:06:01"}}';

  it('takes one key with a subnet of each family, renews it in place, sees peers with both halves, and takes it back on restart', async () => {
    await manager?.close(); // the IPv4-only node of the test before
    await etcd.etcdctl(['put', `${prefix}/subnets/10.1.15.0-24&fd00:12:13::-56`, DUAL_VALUE]);
    await etcd.etcdctl(['put', `${prefix}/subnets/0.0.0.0-0&fd00:12:13:100::-56`, V6_ONLY_VALUE]);
    // A lease renewed about every second (5 s TTL, 4 s margin).
    const first = makeManager(etcd.endpoint, prefix, { ttlSeconds: 5, renewMarginMinutes: 4 / 60 });
    manager = first.manager;
    const own = await manager.acquireLease({ ...pools, attrs }, AbortSignal.timeout(10_000));
    expect([own.subnet?.toString(), own.ipv6Subnet?.toString()]).toEqual(['10.1.16.0/24', 'fd00:12:13:200::/56']);
    expect(await etcdValue(etcd, ownKey)).toBe(ownValue);

    const leaseId = await etcdLeaseId(etcd, ownKey);
    expect(leaseId).not.toBe('0');
    await waitFor('a renewal (a new etcd lease on the same key)', async () => ((await etcdLeaseId(etcd, ownKey)) !== leaseId ? true : undefined), 5000);
    expect(await etcdValue(etcd, ownKey)).toBe(ownValue);

    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = manager.watchLeases(recorder, stop.signal);
    try {
      await waitFor('the dual-stack peer', () => (recorder.peers.has('10.1.15.0/24') ? true : undefined), 5000);
      expect(recorder.subnets()).toEqual(['10.1.15.0/24', 'fd00:12:13:100::/56']); // not our own key
      expect(recorder.peers.get('10.1.15.0/24')?.ipv6Subnet?.toString()).toBe('fd00:12:13::/56');
    } finally {
      stop.abort();
      await watching;
    }
    await manager.close();

    const second = makeManager(etcd.endpoint, prefix);
    manager = second.manager;
    const again = await manager.acquireLease({ ...pools, attrs }, AbortSignal.timeout(10_000));
    expect([again.subnet?.toString(), again.ipv6Subnet?.toString()]).toEqual(['10.1.16.0/24', 'fd00:12:13:200::/56']);
    expect(second.lines.some((l) => l.includes('reusing our earlier subnet'))).toBe(true);
    expect((await etcd.etcdctl(['get', `${prefix}/subnets/`, '--prefix', '--keys-only'])).split('\n').filter((k) => k !== '')).toHaveLength(3);
  }, T);
});
