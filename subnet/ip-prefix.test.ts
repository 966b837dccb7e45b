import { ip as addr, net as prefix } from '../test/addresses.js';
import { IpPrefix } from './ip-prefix.js';

describe('IpPrefix parse and format', () => {
  it.each([
    ['10.244.0.0/16', 'ipv4', 16, 16],
    ['0.0.0.0/0', 'ipv4', 0, 32],
    ['10.1.2.3/32', 'ipv4', 32, 0],
    ['fd00:12:13::/56', 'ipv6', 56, 72],
    ['FD00:0012:0013:0000::/56', 'ipv6', 56, 72],
    ['::/0', 'ipv6', 0, 128],
    ['fd00::1/128', 'ipv6', 128, 0],
  ])('parses %s', (text, family, length, hostBits) => {
    const parsed = prefix(text);
    expect(parsed.family).toBe(family);
    expect(parsed.prefixLength).toBe(length);
    expect(parsed.hostBits).toBe(hostBits);
    expect(IpPrefix.parse(parsed.toString())?.equals(parsed)).toBe(true);
  });

  it('prints the canonical form', () => {
    expect(prefix('FD00:0012:0013:0000::/56').toString()).toBe('fd00:12:13::/56');
    expect(prefix('2001:db8:0:0:1:0:0:0/80').toString()).toBe('2001:db8:0:0:1::/80');
  });

  it.each(['10.244.0.0', '10.244.0.0/33', '10.244.0.0/-1', '10.244.0.0/ 16', '10.244.0.0/016x', 'fd00::/129', 'fd00::', '/64', 'fd00::/64/1', 'fd00::%eth0/64'])(
    'refuses %j',
    (text) => {
      expect(IpPrefix.parse(text, { strict: false })).toBeUndefined();
    },
  );

  it('refuses host bits unless asked to mask them, and reports the written address (net.ParseCIDR)', () => {
    expect(IpPrefix.parse('10.3.1.0/16')).toBeUndefined();
    expect(IpPrefix.parse('10.3.1.0/16', { strict: false })?.toString()).toBe('10.3.0.0/16');
    expect(IpPrefix.parse('fd00:12:13:1::/56')).toBeUndefined();
    expect(IpPrefix.parse('fd00:12:13:1::/56', { strict: false })?.toString()).toBe('fd00:12:13::/56');
    const cidr = IpPrefix.parseCidr('fd00:12:13::7/64');
    expect(cidr?.address.toString()).toBe('fd00:12:13::7');
    expect(cidr?.prefix.toString()).toBe('fd00:12:13::/64');
  });

  it('refuses the other family when one is asked for', () => {
    expect(IpPrefix.parse('10.0.0.0/8', { family: 'ipv6' })).toBeUndefined();
    expect(IpPrefix.parse('fd00::/8', { family: 'ipv4' })).toBeUndefined();
  });

  it('masks host bits when built from an address', () => {
    expect(IpPrefix.of(addr('10.1.2.3'), 24).toString()).toBe('10.1.2.0/24');
    expect(IpPrefix.of(addr('fd00:12:13:ab::1'), 56).toString()).toBe('fd00:12:13::/56');
    expect(IpPrefix.of(addr('fd00::1'), 0).toString()).toBe('::/0');
    expect(() => IpPrefix.of(addr('10.0.0.0'), 33)).toThrow(RangeError);
    expect(() => IpPrefix.of(addr('fd00::'), 129)).toThrow(RangeError);
  });
});

describe('IpPrefix arithmetic, the same for both families', () => {
  it.each([
    ['10.244.1.0/24', '255.255.255.0', '10.244.1.255', 256n],
    ['10.0.0.0/30', '255.255.255.252', '10.0.0.3', 4n],
    ['fd00:12:13::/56', 'ffff:ffff:ffff:ff00::', 'fd00:12:13:ff:ffff:ffff:ffff:ffff', 1n << 72n],
    ['fd00::/126', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffc', 'fd00::3', 4n],
  ])('%s: mask %s, last %s, size %s', (text, mask, last, size) => {
    const p = prefix(text);
    expect(p.mask.toString()).toBe(mask);
    expect(p.last.toString()).toBe(last);
    expect(p.size).toBe(size);
  });

  it('gives host addresses by index inside the network only', () => {
    expect(prefix('10.244.1.0/24').host(1n)?.toString()).toBe('10.244.1.1');
    expect(prefix('fd00:12:13::/56').host(1n)?.toString()).toBe('fd00:12:13::1');
    expect(prefix('10.244.1.0/24').host(256n)).toBeUndefined();
    expect(prefix('fd00::/126').host(-1n)).toBeUndefined();
  });

  it('steps to the next subnet and stops at the end of the address space', () => {
    expect(prefix('10.244.1.0/24').next()?.toString()).toBe('10.244.2.0/24');
    expect(prefix('10.244.255.0/24').next()?.toString()).toBe('10.245.0.0/24');
    expect(prefix('255.255.255.0/24').next()).toBeUndefined();
    expect(prefix('fd00:12:13::/64').next()?.toString()).toBe('fd00:12:13:1::/64');
    expect(prefix('fd00:12:13:ffff::/64').next()?.toString()).toBe('fd00:12:14::/64');
    expect(prefix('ffff:ffff:ffff:ffff::/64').next()).toBeUndefined();
  });

  it('answers containment and overlap, never across families', () => {
    const v4 = prefix('10.244.0.0/16');
    const v6 = prefix('fd00:12::/48');
    expect(v4.contains(addr('10.244.7.9'))).toBe(true);
    expect(v4.contains(addr('10.245.0.0'))).toBe(false);
    expect(v6.contains(addr('fd00:12:0:ffff::1'))).toBe(true);
    expect(v6.contains(addr('fd00:13::'))).toBe(false);
    expect(v4.containsPrefix(prefix('10.244.3.0/24'))).toBe(true);
    expect(prefix('10.244.3.0/24').containsPrefix(v4)).toBe(false);
    expect(v6.containsPrefix(prefix('fd00:12:0:5::/64'))).toBe(true);
    expect(v6.overlaps(prefix('fd00::/16'))).toBe(true);
    expect(v6.overlaps(prefix('fd00:13::/48'))).toBe(false);
    // 10.244.0.0 and ::a0f4:0 have the same value; the family keeps them apart.
    expect(prefix('::/0').contains(addr('10.244.0.0'))).toBe(false);
    expect(prefix('0.0.0.0/0').overlaps(prefix('::/0'))).toBe(false);
    expect(prefix('10.0.0.0/8').equals(prefix('10.0.0.0/8'))).toBe(true);
    expect(prefix('10.0.0.0/8').equals(prefix('10.0.0.0/9'))).toBe(false);
  });

  // What the former 32-bit Ipv4Net gave for these (masked network, last address, size).
  it.each([
    ['10.244.0.0/16', '10.244.0.0/16', '10.244.255.255', 65536n],
    ['10.3.1.0/16', '10.3.0.0/16', '10.3.255.255', 65536n],
    ['0.0.0.0/0', '0.0.0.0/0', '255.255.255.255', 4294967296n],
    ['192.0.2.7/32', '192.0.2.7/32', '192.0.2.7', 1n],
    ['10.0.0.0/31', '10.0.0.0/31', '10.0.0.1', 2n],
  ])('reads the IPv4 network %s as %s, last %s, size %d', (text, network, last, size) => {
    const parsed = IpPrefix.parse(text, { strict: false });
    expect([parsed?.toString(), parsed?.last.toString(), parsed?.size]).toEqual([network, last, size]);
    expect(JSON.stringify(parsed)).toBe(`"${network}"`);
  });
});
