import { IpAddress } from './ip-address.js';
import { IpPrefix } from './ip-prefix.js';
import { leaseHalf, leaseKey, publishedBy, sameDatapath, type Lease } from './lease.js';
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

describe('IPv6-only leases', () => {
  const v6Only = (overrides: Partial<Lease> = {}): Lease => dual({ subnet: undefined, publicIp: undefined, backendData: undefined, ...overrides });

  it('have only an IPv6 half, and are keyed by their IPv6 subnet', () => {
    expect(leaseHalf(v6Only(), 'ipv4')).toBeUndefined();
    expect(leaseHalf(v6Only(), 'ipv6')).toEqual({ subnet: IpPrefix.parse('fd00:10:244:3::/64'), publicIp: IpAddress.parse('2001:db8::3'), backendData: { vni: 1, vtepMac: '02:00:00:00:06:03' } });
    expect([leaseKey(v6Only()), leaseKey(dual())]).toEqual(['fd00:10:244:3::/64', '10.244.3.0/24']);
    expect(() => leaseKey(v6Only({ ipv6Subnet: undefined }))).toThrow(TypeError);
  });

  it('see a change of either half appearing or going', () => {
    expect(sameDatapath(v6Only(), v6Only({ expiresAt: new Date(5) }))).toBe(true);
    expect(sameDatapath(v6Only(), dual())).toBe(false);
    expect(sameDatapath(dual(), v6Only())).toBe(false);
  });

  it("are a node's own by its public IPv6 address (every one carries PublicIP 0.0.0.0), other leases by the public IPv4 address", () => {
    const attrs = { publicIpv6: IpAddress.parse('2001:db8::3'), backendType: 'vxlan' };
    expect(publishedBy(v6Only(), attrs)).toBe(true);
    expect(publishedBy(v6Only({ publicIpv6: IpAddress.parse('2001:db8::4') }), attrs)).toBe(false);
    expect(publishedBy(dual(), attrs)).toBe(false); // a dual-stack lease is another node's (or an old config's)
    expect(publishedBy(dual({ publicIpv6: undefined }), { publicIp: ip('192.0.2.3'), backendType: 'vxlan' })).toBe(true);
    expect(publishedBy(v6Only(), { publicIp: ip('192.0.2.3'), backendType: 'vxlan' })).toBe(false);
  });
});
