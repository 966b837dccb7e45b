// The soak's judgement helpers: what a node must hold for a lease set, the difference from what it
// holds, and how long faults overlapped a difference (a check that cannot fail would prove nothing).
import { FaultLog } from './soak-faults.js';
import { diffEntries, expectedEntries, parseLeases, SUBNETS_PREFIX } from './soak-kernel.js';

const lease = (publicIp: string, mac: string, type = 'vxlan'): string =>
  JSON.stringify({ PublicIP: publicIp, BackendType: type, BackendData: { VNI: 1, VtepMAC: mac } });

describe('soak kernel expectations', () => {
  const leases = parseLeases({
    [`${SUBNETS_PREFIX}10.244.1.0-24`]: lease('192.0.2.11', '0a:58:00:00:00:01'),
    [`${SUBNETS_PREFIX}10.1.3.0-24`]: lease('198.18.0.4', '0a:58:01:03:00:01'),
    [`${SUBNETS_PREFIX}10.1.4.0-24`]: lease('198.18.0.5', '0a:58:01:04:00:01', 'udp'),
    [`${SUBNETS_PREFIX}10.1.5.0-24`]: 'not json',
  });

  it('expects a route, a neighbour and an FDB entry per vxlan peer, not for its own subnet or other types', () => {
    expect([...expectedEntries(leases, '10.244.1.0/24')]).toEqual([
      ['route 10.1.3.0/24', '10.1.3.0'],
      ['neigh 10.1.3.0', '0a:58:01:03:00:01'],
      ['fdb 0a:58:01:03:00:01', '198.18.0.4'],
    ]);
  });

  it('names missing, wrong and left-over entries', () => {
    const want = expectedEntries(leases, '10.244.1.0/24');
    const got = new Map([
      ['route 10.1.3.0/24', '10.1.3.0'],
      ['neigh 10.1.3.0', '0a:58:01:03:00:99'],
      ['route 10.1.9.0/24', '10.1.9.0'],
    ]);
    expect([...diffEntries(want, got).values()]).toEqual([
      'neigh 10.1.3.0: want 0a:58:01:03:00:01, got 0a:58:01:03:00:99',
      'fdb 0a:58:01:03:00:01: want 198.18.0.4, got nothing',
      'route 10.1.9.0/24: left over (10.1.9.0)',
    ]);
    expect(diffEntries(want, new Map(want)).size).toBe(0);
  });
});

describe('soak fault log', () => {
  it('measures how long etcd was down within a span, and which faults are near a moment', () => {
    const log = new FaultLog();
    const down = log.open('etcd-down', '20 s');
    down.startMs = 10_000;
    down.endMs = 30_000;
    const open = log.open('kernel-delete', 'route 10.1.3.0/24');
    open.startMs = 50_000;
    expect(log.overlap('etcd-down', 0, 60_000)).toBe(20_000);
    expect(log.overlap('etcd-down', 25_000, 60_000)).toBe(5000);
    expect(log.overlap('etcd-down', 31_000, 60_000)).toBe(0);
    expect(log.near(35_000, 10_000)).toEqual([down]);
    expect(log.near(45_000, 10_000)).toEqual([]);
    expect(log.near(70_000, 10_000)).toEqual([open]); // still open
  });
});
