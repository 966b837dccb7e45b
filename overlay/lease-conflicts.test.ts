import type { Logger } from 'winston';
import type { Lease } from '../subnet/lease.js';
import { LeaseConflicts } from './lease-conflicts.js';
import { IpPrefix } from '../subnet/ip-prefix.js';
import { ip } from '../test/addresses.js';

function lease(subnet: string, publicIp: string, vtepMac: string): Lease {
  const net = IpPrefix.parse(subnet, { family: 'ipv4' });
  if (!net) throw new Error(subnet);
  return { subnet: net, publicIp: ip(publicIp), backendType: 'vxlan', backendData: { vni: 1, vtepMac } };
}

/** Only warn is used; each warning's message is kept. */
function recordingLogger(lines: string[]): Logger {
  return { warn: (message: string) => lines.push(message) } as unknown as Logger;
}

describe('LeaseConflicts', () => {
  it('reports each pair of leases sharing a public IP or VTEP MAC once, naming both', () => {
    const sink = { lines: [] as string[] };
    const conflicts = new LeaseConflicts(recordingLogger(sink.lines));
    const live = lease('10.244.7.0/24', '192.0.2.12', '02:00:00:00:00:02');
    const old = lease('10.244.1.0/24', '192.0.2.12', '02:00:00:00:00:02');
    conflicts.reset([live, lease('10.244.3.0/24', '192.0.2.13', '02:00:00:00:00:03')]);
    expect(sink.lines).toEqual([]);
    conflicts.upsert(old);
    conflicts.upsert(old);
    conflicts.reset([live, old]);
    expect(sink.lines).toHaveLength(2);
    expect(sink.lines.every((l) => l.includes('10.244.1.0/24 and 10.244.7.0/24'))).toBe(true);
    expect(sink.lines.filter((l) => l.includes('public IP 192.0.2.12'))).toHaveLength(1);
    expect(sink.lines.filter((l) => l.includes('VTEP MAC 02:00:00:00:00:02'))).toHaveLength(1);
    conflicts.remove(old);
    conflicts.upsert(lease('10.244.9.0/24', '192.0.2.19', '02:00:00:00:00:09'));
    expect(sink.lines).toHaveLength(2);
  });
});

describe('LeaseConflicts with IPv6', () => {
  it('reports IPv6-only leases sharing a public IPv6 address or IPv6 VTEP MAC, by their IPv6 subnets', () => {
    const lines: string[] = [];
    const conflicts = new LeaseConflicts(recordingLogger(lines));
    const v6 = (subnet: string, publicIpv6: string, vtepMac: string): Lease => {
      const net = IpPrefix.parse(subnet, { family: 'ipv6' });
      if (!net) throw new Error(subnet);
      return { ipv6Subnet: net, publicIpv6: ip(publicIpv6), backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac } };
    };
    // A dual-stack lease whose two devices share one MAC does not conflict with itself.
    const dual: Lease = { ...lease('10.244.4.0/24', '192.0.2.14', '02:00:00:00:00:04'), ...v6('fd00:10:244:4::/64', '2001:db8::14', '02:00:00:00:00:04') };
    conflicts.reset([v6('fd00:10:244:1::/64', '2001:db8::11', '02:00:00:00:06:01'), dual]);
    expect(lines).toEqual([]);
    conflicts.upsert(v6('fd00:10:244:2::/64', '2001:db8::11', '02:00:00:00:06:01'));
    expect(lines).toHaveLength(2);
    expect(lines.every((l) => l.includes('fd00:10:244:1::/64 and fd00:10:244:2::/64'))).toBe(true);
    expect(lines.filter((l) => l.includes('public IP 2001:db8::11'))).toHaveLength(1);
    // An IPv4 address and an IPv6 address of equal value are not the same claim.
    conflicts.upsert(lease('10.244.5.0/24', '0.0.0.11', '02:00:00:00:00:05'));
    conflicts.upsert(v6('fd00:10:244:6::/64', '::b', '02:00:00:00:06:06'));
    expect(lines).toHaveLength(2);
  });
});
