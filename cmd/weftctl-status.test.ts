import { statusLease, type StatusDocument } from '../overlay/observability/health-server.js';
import type { Lease } from '../subnet/lease.js';
import { formatStatus } from './weftctl-status.js';
import { ip, net } from '../test/addresses.js';

const doc = (lease: Lease): StatusDocument => ({
  version: undefined, ready: true, live: true, checks: [], lease: statusLease(lease), network: undefined, backend: undefined,
  peers: 0, reconcile: undefined, probe: undefined,
});
const leaseLine = (lease: Lease): string | undefined => formatStatus(doc(lease)).split('\n').find((l) => l.startsWith('lease:'));

describe('weftctl status: our lease of each kind', () => {
  const v6: Lease = { ipv6Subnet: net('fd00:10:244:3::/64'), publicIpv6: ip('2001:db8::3'), backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac: '02:00:00:00:06:03' } };
  const v4: Lease = { subnet: net('10.244.3.0/24'), publicIp: ip('192.0.2.3'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '02:00:00:00:00:03' } };

  it('names an IPv6-only lease by its IPv6 half, and shows both halves of a dual-stack one', () => {
    expect(statusLease(v6)).toEqual({
      subnet: 'fd00:10:244:3::/64', publicIp: undefined, backendType: 'vxlan', vni: undefined, vtepMac: undefined,
      ipv6Subnet: 'fd00:10:244:3::/64', publicIpv6: '2001:db8::3', vtepMacV6: '02:00:00:00:06:03', expiresAt: undefined,
    });
    expect(leaseLine(v6)).toBe('lease:      fd00:10:244:3::/64 public 2001:db8::3 vxlan vtep 02:00:00:00:06:03 expires never');
    expect(leaseLine(v4)).toBe('lease:      10.244.3.0/24 public 192.0.2.3 vxlan vtep 02:00:00:00:00:03 expires never');
    expect(leaseLine({ ...v4, ...v6 })).toBe(
      'lease:      10.244.3.0/24 public 192.0.2.3 vxlan vtep 02:00:00:00:00:03 ipv6 fd00:10:244:3::/64 public 2001:db8::3 vtep 02:00:00:00:06:03 expires never',
    );
  });
});
