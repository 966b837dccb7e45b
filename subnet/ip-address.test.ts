import { ip as addr } from '../test/addresses.js';
import { Address4, Address6 } from 'ip-address';
import { IpAddress, maskOf } from './ip-address.js';

describe('IpAddress.parse and toString', () => {
  it.each([
    ['10.244.1.0', 'ipv4', '10.244.1.0'],
    ['0.0.0.0', 'ipv4', '0.0.0.0'],
    ['255.255.255.255', 'ipv4', '255.255.255.255'],
    ['fd00:12:13::', 'ipv6', 'fd00:12:13::'],
    ['FD00:0012:0013:0000:0000:0000:0000:0001', 'ipv6', 'fd00:12:13::1'],
    ['::', 'ipv6', '::'],
    ['::1', 'ipv6', '::1'],
    ['2001:db8::', 'ipv6', '2001:db8::'],
    // RFC 5952, as Go prints them: one zero group is not shortened, the longest run is, the first on a tie.
    ['2001:db8:0:1:1:1:1:1', 'ipv6', '2001:db8:0:1:1:1:1:1'],
    ['2001:db8:0:0:1:0:0:1', 'ipv6', '2001:db8::1:0:0:1'],
    ['1:0:0:1:0:0:0:1', 'ipv6', '1:0:0:1::1'],
    ['0:0:1:0:0:0:1:0', 'ipv6', '0:0:1::1:0'],
    ['fd00:0:0:0:0:0:0:0', 'ipv6', 'fd00::'],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', 'ipv6', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('parses %s as %s and prints %s', (text, family, printed) => {
    const parsed = addr(text);
    expect(parsed.family).toBe(family);
    expect(parsed.toString()).toBe(printed);
    expect(IpAddress.parse(printed)?.equals(parsed)).toBe(true);
  });

  it.each([
    '', '10.0.0', '10.0.0.256', '10.0.0.1/24', ' 10.0.0.1', '10.0.0.1 ', '1.2.3.4.5', '-1.0.0.0', '1e1.0.0.0',
    'fd00:::1', '12345::', 'fd00::g', ':', 'fd00::1%eth0', 'fd00::/64', '::ffff:1.2.3.4', '1:2:3:4:5:6:7:8:9', 'fd00::1::2',
  ])('refuses %j', (text) => {
    expect(IpAddress.parse(text)).toBeUndefined();
  });

  it('refuses the other family when one is asked for', () => {
    expect(IpAddress.parse('10.0.0.1', 'ipv6')).toBeUndefined();
    expect(IpAddress.parse('fd00::1', 'ipv4')).toBeUndefined();
    expect(IpAddress.parse('fd00::1', 'ipv6')?.toString()).toBe('fd00::1');
  });

  // The table the 32-bit parser of the former subnet/ipv4.ts gave: leading zeros, short forms and spaces refused.
  it.each([
    ['0.0.0.0', '0.0.0.0'], ['10.244.1.0', '10.244.1.0'], ['192.0.2.255', '192.0.2.255'], ['255.255.255.255', '255.255.255.255'],
    ['010.1.1.1', undefined], ['1.2.3', undefined], ['256.1.1.1', undefined], ['1.2.3.4 ', undefined], ['a.b.c.d', undefined],
  ])('parses IPv4 %j as %s', (text, expected) => {
    expect(IpAddress.parse(text, 'ipv4')?.toString()).toBe(expected);
  });
});

describe('IpAddress values', () => {
  it('converts to and from network-order bytes for both families', () => {
    expect(addr('192.0.2.1').toBytes()).toEqual([192, 0, 2, 1]);
    expect(addr('2001:db8::1').toBytes()).toEqual([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    expect(IpAddress.fromBytes([192, 0, 2, 1])?.toString()).toBe('192.0.2.1');
    expect(IpAddress.fromBytes(addr('fd00:12:13::ff').toBytes())?.toString()).toBe('fd00:12:13::ff');
    expect(IpAddress.fromBytes([1, 2, 3])).toBeUndefined();
    expect(IpAddress.fromBytes([1, 2, 3, 256])).toBeUndefined();
  });

  it('compares optional addresses by value, and writes them as text in JSON', () => {
    expect(IpAddress.same(addr('192.0.2.1'), addr('192.0.2.1'))).toBe(true);
    expect(IpAddress.same(addr('192.0.2.1'), addr('192.0.2.2'))).toBe(false);
    expect(IpAddress.same(addr('0.0.0.0'), addr('::'))).toBe(false);
    expect(IpAddress.same(undefined, undefined)).toBe(true);
    expect(IpAddress.same(addr('192.0.2.1'), undefined)).toBe(false);
    expect(JSON.stringify({ ip: addr('fd00::1'), v4: addr('10.0.0.1') })).toBe('{"ip":"fd00::1","v4":"10.0.0.1"}');
  });

  it('moves by a delta inside its family only', () => {
    expect(addr('10.0.0.255').plus(1n)?.toString()).toBe('10.0.1.0');
    expect(addr('255.255.255.255').plus(1n)).toBeUndefined();
    expect(addr('0.0.0.0').plus(-1n)).toBeUndefined();
    expect(addr('fd00::ffff').plus(1n)?.toString()).toBe('fd00::1:0');
    expect(addr('ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff').plus(1n)).toBeUndefined();
    expect(IpAddress.of('ipv4', 1n << 32n)).toBeUndefined();
  });

  it('compares and recognises the unspecified address', () => {
    expect(addr('10.0.0.1').compare(addr('10.0.0.2'))).toBe(-1);
    expect(addr('fd00::2').compare(addr('fd00::1'))).toBe(1);
    expect(addr('10.0.0.1').compare(addr('::1'))).toBe(-1);
    expect(addr('::a').equals(addr('0::A'))).toBe(true);
    expect(addr('0.0.0.0').equals(addr('::'))).toBe(false);
    expect(addr('0.0.0.0').isUnspecified()).toBe(true);
    expect(addr('::').isUnspecified()).toBe(true);
    expect(addr('::1').isUnspecified()).toBe(false);
  });

  it('knows link-local addresses of both families', () => {
    expect(['fe80::1', 'febf:ffff::1', '169.254.3.4'].map((t) => addr(t).isLinkLocal())).toEqual([true, true, true]);
    expect(['fec0::1', 'fe7f::1', '2001:db8::1', '169.255.0.1', '10.244.0.1'].map((t) => addr(t).isLinkLocal())).toEqual([false, false, false, false, false]);
  });

  it('builds masks of any length for both widths', () => {
    expect(maskOf(32, 0)).toBe(0n);
    expect(maskOf(32, 24)).toBe(0xffffff00n);
    expect(maskOf(32, 32)).toBe(0xffffffffn);
    expect(maskOf(128, 64)).toBe(0xffffffffffffffff0000000000000000n);
    expect(maskOf(128, 128)).toBe((1n << 128n) - 1n);
  });
});

describe('IpAddress fast paths', () => {
  // A fixed linear congruential sequence: the same cases every run.
  const numbers = (count: number, seed: number): number[] => {
    const out: number[] = [];
    let x = seed;
    for (let i = 0; i < count; i++) out.push((x = (x * 1103515245 + 12345) % 2 ** 31));
    return out;
  };

  it('accepts exactly the IPv4 text ip-address accepts', () => {
    const tricky = ['1.2.3.4', '01.2.3.4', '1.2.3.04', '0.0.0.0', '00.0.0.0', '255.255.255.255', '256.0.0.0', '1.2.3.255',
      '1.2.3.256', '1.2.3.1000', '001.2.3.4', '1.2.3', '1.2.3.4.', '.1.2.3.4', '1..2.3', '199.299.0.1', '249.250.251.252'];
    const random = numbers(2000, 7).map((n) => [n % 300, (n >> 3) % 260, (n >> 7) % 256, (n >> 11) % 1100]
      .map((o, i) => (n >> (20 + i)) % 9 === 0 ? `0${o}` : String(o)).join('.'));
    for (const text of [...tricky, ...random]) {
      expect([text, IpAddress.parse(text)?.toString()]).toEqual([text, Address4.isValid(text) ? text : undefined]);
    }
  });

  it('prints IPv6 as ip-address\'s correctForm() does, zero runs of every length and place included', () => {
    const random = numbers(3000, 5).map((n, i) => {
      // Hextets zero, small or full, so that runs of zeros of every length land anywhere.
      let value = 0n;
      for (let h = 0; h < 8; h++) {
        const pick = (n >> (h * 3)) % 4;
        value = (value << 16n) | BigInt(pick === 0 || (i + h) % 5 === 0 ? 0 : pick === 1 ? (n >> h) & 0xf : (n >> h) & 0xffff);
      }
      return value;
    });
    const crafted = [0n, 1n, (1n << 128n) - 1n, 1n << 112n, (1n << 112n) | 1n, 0xfd00_0010_0244_0000_0000_0000_0000_0000n, 0x2001_0db8_0000_0001_0000_0000_0001_0000n];
    for (const value of [...crafted, ...random]) {
      expect([value, (IpAddress.of('ipv6', value) as IpAddress).toString()]).toEqual([value, Address6.fromBigInt(value).correctForm()]);
    }
  });

  it('round-trips values of both families through bytes and text', () => {
    for (const n of numbers(500, 11)) {
      const v4 = IpAddress.of('ipv4', BigInt(n) * 2n + BigInt(n & 1)) as IpAddress;
      expect(IpAddress.fromBytes(v4.toBytes())?.equals(v4)).toBe(true);
      expect(v4.toString()).toBe(Address4.fromBigInt(v4.value).correctForm());
      expect(IpAddress.parse(v4.toString())?.equals(v4)).toBe(true);
      const v6 = IpAddress.of('ipv6', (BigInt(n) << 96n) | (BigInt(n) << 40n) | BigInt(n & 0xffff)) as IpAddress;
      expect(v6.toBytes()).toEqual(Address6.fromBigInt(v6.value).toByteArray().slice(-16).map((b) => b & 255));
      expect(IpAddress.fromBytes(v6.toBytes())?.equals(v6)).toBe(true);
    }
    expect(IpAddress.of('ipv4', 0xffffffffn)?.toBytes()).toEqual([255, 255, 255, 255]);
    expect(IpAddress.fromBytes([255, 255, 255, 255])?.value).toBe(0xffffffffn);
  });
});
