import { IpAddress } from './ip-address.js';
import { IpPrefix } from './ip-prefix.js';
import { sameDatapath, type Lease } from './lease.js';
import { ip, net } from '../test/addresses.js';

const dual = (overrides: Partial<Lease> = {}): Lease => ({
  subnet: net('10.244.3.0/24'),
  ipv6Subnet: IpPrefix.parse('fd00:10:244:3::/64'),
  publicIp: ip('192.0.2.3'),
  publicIpv6: IpAddress.parse('2001:db8::3'),
  backendType: 'vxlan',
  backendData: { vni: 1, vtepMac: '02:00:00:00:00:03' },
  backendV6Data: { vni: 1, vtepMac: '02:00:00:00:06:03' },
  expiresAt: new Date(1000),
  ...overrides,
});

describe('sameDatapath', () => {
  it('treats a renewal (new expiry, equal values in new objects) as no change', () => {
    expect(sameDatapath(dual(), dual({ expiresAt: new Date(2000), publicIpv6: IpAddress.parse('2001:DB8::3') }))).toBe(true);
  });

  it.each([
    ['the IPv6 subnet', { ipv6Subnet: IpPrefix.parse('fd00:10:244:4::/64') }],
    ['no IPv6 subnet', { ipv6Subnet: undefined }],
    ['the public IPv6', { publicIpv6: IpAddress.parse('2001:db8::4') }],
    ['no public IPv6', { publicIpv6: undefined }],
    ['the IPv6 VTEP MAC', { backendV6Data: { vni: 1, vtepMac: '02:00:00:00:06:04' } }],
    ['the IPv4 VTEP MAC', { backendData: { vni: 1, vtepMac: '02:00:00:00:00:04' } }],
    ['the public IPv4', { publicIp: ip('192.0.2.4') }],
  ])('sees a change of %s', (_name, overrides) => {
    expect(sameDatapath(dual(), dual(overrides))).toBe(false);
    expect(sameDatapath(dual(overrides), dual())).toBe(false);
  });
});
