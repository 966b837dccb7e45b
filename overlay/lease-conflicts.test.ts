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
