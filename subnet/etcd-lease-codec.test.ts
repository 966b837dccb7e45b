import { RemoteDataError } from './errors.js';
import { IpAddress } from './ip-address.js';
import { IpPrefix } from './ip-prefix.js';
import {
  configKey,
  encodeLeaseValue,
  leaseKey,
  parseLeaseKey,
  parseLeaseRecord,
  parseLeaseValue,
  subnetsDir,
} from './etcd-lease-codec.js';
import { ip, net } from '../test/addresses.js';

const P = '/coreos.com/network';
const FLANNEL_VXLAN =
  '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}';
const ip6 = (text: string): IpAddress => IpAddress.parse(text, 'ipv6') ?? ip('0.0.0.0');
const prefix = (text: string): IpPrefix | undefined => IpPrefix.parse(text);
// json.Marshal of flannel's LeaseAttrs{PublicIP, PublicIPv6 *ip.IP6, BackendType, BackendData,
// BackendV6Data (omitempty)} as vxlan.go's newSubnetAttrs fills it: both devices, each with its MAC.
const FLANNEL_DUAL_VXLAN =
  '{"PublicIP":"192.168.64.3","PublicIPv6":"2001:db8::3","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},"BackendV6Data":{"VNI":1,"VtepMAC":"8e:1b:2c:3d:4e:5f"}}';
// IPv6 only: no IPv4 device, so PublicIP stays the zero ip.IP4 and BackendData is empty (omitted).
const FLANNEL_V6_VXLAN = '{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::3","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"8e:1b:2c:3d:4e:5f"}}';
// hostgw.go sets PublicIP and PublicIPv6 and no backend data.
const FLANNEL_DUAL_HOSTGW = '{"PublicIP":"192.0.2.7","PublicIPv6":"2001:db8::7","BackendType":"host-gw"}';

describe('keys', () => {
  it("builds flannel's key names", () => {
    expect(configKey(P)).toBe('/coreos.com/network/config');
    expect(subnetsDir(P)).toBe('/coreos.com/network/subnets/');
    expect(leaseKey(P, { ipv4: net('10.1.15.0/24'), ipv6: undefined })).toBe('/coreos.com/network/subnets/10.1.15.0-24');
  });

  it('parses subnet keys, including the IPv4 half of a dual-stack key', () => {
    expect(parseLeaseKey(P, `${P}/subnets/10.1.15.0-24`).ipv4?.toString()).toBe('10.1.15.0/24');
    expect(parseLeaseKey(P, `${P}/subnets/10.1.15.0-24&fd00:12:13::-56`).ipv4?.toString()).toBe('10.1.15.0/24');
  });

  it.each([
    ['/other/subnets/10.1.15.0-24'],
    [`${P}/subnets/`],
    [`${P}/subnets/10.1.15.0/24`],
    [`${P}/subnets/10.1.15.1-24`], // host bits set
    [`${P}/subnets/10.1.15.0-33`],
    [`${P}/subnets/10.1.256.0-24`],
    [`${P}/subnets/10.1.15-24`],
    [`${P}/subnets/fd00:12:13::-56`],
    [`${P}/subnets/10.1.15.0-24&zz-56`],
    [`${P}/subnets/10.1.15.0-24&a&b`],
    [`${P}/subnets/ 10.1.15.0-24`],
    [`${P}/subnets/10.1.15.0-24/extra`],
  ])('refuses the key %s with a RemoteDataError', (key) => {
    expect(() => parseLeaseKey(P, key)).toThrow(RemoteDataError);
  });
});

describe('values', () => {
  it("encodes a vxlan lease exactly as flannel does", () => {
    expect(encodeLeaseValue({ publicIp: ip('192.168.64.3'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: 'c6:d2:32:6f:8f:44' } })).toBe(
      FLANNEL_VXLAN,
    );
  });

  it('encodes host-gw without BackendData', () => {
    expect(encodeLeaseValue({ publicIp: ip('192.0.2.7'), backendType: 'host-gw' })).toBe(
      '{"PublicIP":"192.0.2.7","PublicIPv6":null,"BackendType":"host-gw"}',
    );
  });

  it("parses flannel's value and round-trips it", () => {
    const attrs = parseLeaseValue('test', FLANNEL_VXLAN);
    expect(attrs).toEqual({ publicIp: ip('192.168.64.3'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: 'c6:d2:32:6f:8f:44' } });
    expect(encodeLeaseValue(attrs)).toBe(FLANNEL_VXLAN);
  });

  it('accepts field names in any case and upper-case MACs, as Go does', () => {
    const attrs = parseLeaseValue('test', '{"publicip":"192.0.2.1","backendtype":"vxlan","backenddata":{"vni":7,"vtepmac":"AA:BB:CC:DD:EE:F0"}}');
    expect(attrs).toEqual({ publicIp: ip('192.0.2.1'), backendType: 'vxlan', backendData: { vni: 7, vtepMac: 'aa:bb:cc:dd:ee:f0' } });
  });

  it('takes the later of two keys that differ only in case, as Go assigns them in order', () => {
    const value = (first: string, second: string): string =>
      `{"PublicIP":"${first}","publicip":"${second}","BackendType":"vxlan","BackendData":{"VNI":1,"vni":2,"VtepMAC":"02:00:00:00:00:01"}}`;
    expect(parseLeaseValue('t', value('192.0.2.1', '192.0.2.2'))).toMatchObject({ publicIp: ip('192.0.2.2'), backendData: { vni: 2 } });
    expect(parseLeaseValue('t', value('192.0.2.2', '192.0.2.1')).publicIp).toEqual(ip('192.0.2.1'));
  });

  it('parses host-gw and unknown backends without backend data', () => {
    expect(parseLeaseValue('t', '{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"host-gw","BackendData":null}')).toEqual({
      publicIp: ip('192.0.2.1'),
      backendType: 'host-gw',
    });
    expect(parseLeaseValue('t', '{"PublicIP":"192.0.2.1","BackendType":"wireguard","BackendData":{"PublicKey":"x"}}')).toEqual({
      publicIp: ip('192.0.2.1'),
      backendType: 'wireguard',
    });
  });

  it('reads a value without BackendType, as flannel does (a hand-written reservation)', () => {
    expect(parseLeaseValue('t', '{"PublicIP":"1.2.3.4","PublicIPv6":null}')).toEqual({ publicIp: ip('1.2.3.4'), backendType: '' });
    expect(parseLeaseValue('t', '{"PublicIP":"1.2.3.4"}')).toEqual({ publicIp: ip('1.2.3.4'), backendType: '' });
  });

  it('keeps what it does not interpret when it rewrites an earlier value', () => {
    const attrs = { publicIp: ip('192.0.2.1'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '02:00:00:00:00:02' } };
    const earlier = '{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:01","GBP":true,"Extra":{"a":[1]}},"Note":"kept"}';
    const value = encodeLeaseValue(attrs, earlier);
    expect(value).toBe(
      '{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:02","GBP":true,"Extra":{"a":[1]}},"Note":"kept"}',
    );
    expect(parseLeaseValue('t', value)).toEqual(attrs); // still flannel-readable, with our attributes
    // Another backend's data is not carried into a vxlan value; a reservation's own fields are.
    expect(encodeLeaseValue(attrs, '{"PublicIP":"192.0.2.1","BackendType":"host-gw","BackendData":{"X":1},"Owner":"ops"}')).toBe(
      '{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:02"},"Owner":"ops"}',
    );
    expect(encodeLeaseValue({ publicIp: ip('192.0.2.7'), backendType: 'host-gw' }, '{"PublicIP":"192.0.2.7","BackendType":"host-gw","BackendData":{"Future":1}}')).toBe(
      '{"PublicIP":"192.0.2.7","PublicIPv6":null,"BackendType":"host-gw","BackendData":{"Future":1}}',
    );
    expect(encodeLeaseValue(attrs, 'not json')).toBe(encodeLeaseValue(attrs));
  });

  it.each([
    ['', /not JSON/],
    ['{', /not JSON/],
    ['null', /not a JSON object/],
    ['[1]', /not a JSON object/],
    ['"x"', /not a JSON object/],
    ['{"BackendType":"vxlan"}', /PublicIP missing/],
    ['{"PublicIP":"192.0.2.300","BackendType":"host-gw"}', /PublicIP "192.0.2.300" is not an IPv4/],
    ['{"PublicIP":"fd00::1","BackendType":"host-gw"}', /not an IPv4/],
    ['{"PublicIP":3221225985,"BackendType":"host-gw"}', /not an IPv4/],
    ['{"PublicIP":"192.0.2.1","BackendType":7}', /BackendType is not a string/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan"}', /no BackendData/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VtepMAC":"02:00:00:00:00:01"}}', /VNI missing/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VNI":1.5,"VtepMAC":"02:00:00:00:00:01"}}', /VNI 1.5/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VNI":16777216,"VtepMAC":"02:00:00:00:00:01"}}', /VNI/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VNI":1}}', /VtepMAC missing/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"zz:00:00:00:00:01"}}', /not a MAC/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00"}}', /not a MAC/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"01:00:5e:00:00:01"}}', /not a unicast/],
    ['{"PublicIP":"192.0.2.1","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"00:00:00:00:00:00"}}', /not a unicast/],
  ])('refuses the value %s', (value, message) => {
    expect(() => parseLeaseValue('src', value)).toThrow(RemoteDataError);
    expect(() => parseLeaseValue('src', value)).toThrow(message);
  });
});

describe('records', () => {
  it('turns a record into a Lease; no etcd lease means a reservation', () => {
    const expiresAt = new Date(1_000_000);
    const leased = parseLeaseRecord(P, { key: `${P}/subnets/10.244.3.0-24`, value: FLANNEL_VXLAN, leaseId: '7587' }, { ipv4: net('10.244.0.0/16') }, expiresAt);
    expect(leased.subnet?.toString()).toBe('10.244.3.0/24');
    expect(leased.expiresAt).toBe(expiresAt);
    const reserved = parseLeaseRecord(P, { key: `${P}/subnets/10.244.3.0-24`, value: FLANNEL_VXLAN, leaseId: '0' }, undefined, expiresAt);
    expect(reserved.expiresAt).toBeUndefined();
  });

  it('refuses a subnet outside the network', () => {
    expect(() => parseLeaseRecord(P, { key: `${P}/subnets/10.9.3.0-24`, value: FLANNEL_VXLAN, leaseId: '1' }, { ipv4: net('10.244.0.0/16') })).toThrow(
      /outside the network 10.244.0.0\/16/,
    );
  });
});

// flannel's own key tests (pkg/subnet/subnet_test.go: TestSubnetNodev6, TestSubnetNodeInvalid), plus
// IPv6-only keys as MakeSubnetKey writes them (the empty IPv4 half prints as 0.0.0.0-0).
describe('dual-stack and IPv6-only keys', () => {
  it('parses a dual-stack key into both halves and writes it back unchanged', () => {
    const key = `${P}/subnets/10.12.13.0-24&fd00:12:13::-56`;
    const subnets = parseLeaseKey(P, key);
    expect([subnets.ipv4?.toString(), subnets.ipv6?.toString()]).toEqual(['10.12.13.0/24', 'fd00:12:13::/56']);
    expect(leaseKey(P, subnets)).toBe(key);
  });

  it('writes and reads IPv6-only keys with flannel\'s empty IPv4 half', () => {
    const key = leaseKey(P, { ipv4: undefined, ipv6: prefix('fd00:12:13::/56') });
    expect(key).toBe(`${P}/subnets/0.0.0.0-0&fd00:12:13::-56`);
    const subnets = parseLeaseKey(P, key);
    expect(subnets.ipv4).toBeUndefined();
    expect(subnets.ipv6?.toString()).toBe('fd00:12:13::/56');
  });

  it('writes IPv4-only keys as before, and the IPv6 half in its canonical form', () => {
    expect(leaseKey(P, { ipv4: prefix('10.1.15.0/24'), ipv6: undefined })).toBe(`${P}/subnets/10.1.15.0-24`);
    expect(leaseKey(P, { ipv4: prefix('10.1.15.0/24'), ipv6: prefix('fd00:0012:0013:0000::/64') })).toBe(`${P}/subnets/10.1.15.0-24&fd00:12:13::-64`);
    expect(() => leaseKey(P, { ipv4: undefined, ipv6: undefined })).toThrow(TypeError);
  });

  it.each([
    // TestSubnetNodeInvalid
    '10', '10.12.13.0', '10.12.13-24', '10.12.13.300-24', '10.12.13.0-24hi', '&2001::-56', '10.12.13.0-24&:12:13:-56',
    '10.12.13.0-24&20011::-56', '10.12.13.0-24&2001-56', '10.12.13.0-24&2001::', '10.12.13.0-24&2001::-56hi',
    // and: upper case (flannel's pattern is [a-f\d:]), host bits, too long a prefix, no subnet at all
    '10.12.13.0-24&FD00:12:13::-56', '10.12.13.0-24&fd00:12:13::1-56', '10.12.13.0-24&fd00::-129', '0.0.0.0-0',
    '0.0.0.0-0&fd00::zz-56', '10.12.13.0-24&', '10.12.13.0-24&fd00::-56&fd01::-56',
  ])('refuses the whole key %s', (name) => {
    expect(() => parseLeaseKey(P, `${P}/subnets/${name}`)).toThrow(RemoteDataError);
  });
});

describe('dual-stack and IPv6-only values', () => {
  it.each([
    ['dual-stack vxlan', FLANNEL_DUAL_VXLAN, {
      publicIp: ip('192.168.64.3'), publicIpv6: ip6('2001:db8::3'), backendType: 'vxlan',
      backendData: { vni: 1, vtepMac: 'c6:d2:32:6f:8f:44' }, backendV6Data: { vni: 1, vtepMac: '8e:1b:2c:3d:4e:5f' },
    }],
    ['IPv6-only vxlan', FLANNEL_V6_VXLAN, {
      publicIpv6: ip6('2001:db8::3'), backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac: '8e:1b:2c:3d:4e:5f' },
    }],
    ['dual-stack host-gw', FLANNEL_DUAL_HOSTGW, { publicIp: ip('192.0.2.7'), publicIpv6: ip6('2001:db8::7'), backendType: 'host-gw' }],
  ])('reads flannel\'s %s value and writes it back byte for byte', (_name, value, attrs) => {
    expect(parseLeaseValue('t', value)).toEqual(attrs);
    expect(encodeLeaseValue(attrs)).toBe(value);
  });

  it('writes PublicIPv6 in the form Go prints, whatever form it was read in', () => {
    const attrs = parseLeaseValue('t', '{"PublicIP":"192.0.2.7","PublicIPv6":"2001:DB8:0:0:0:0:0:7","BackendType":"host-gw"}');
    expect(encodeLeaseValue(attrs)).toBe(FLANNEL_DUAL_HOSTGW);
  });

  it('keeps unknown BackendV6Data fields when it rewrites a dual-stack value', () => {
    const attrs = parseLeaseValue('t', FLANNEL_DUAL_VXLAN);
    const earlier = FLANNEL_DUAL_VXLAN.replace('"VtepMAC":"8e:1b:2c:3d:4e:5f"}', '"VtepMAC":"8e:1b:2c:3d:4e:00","Future":[1]}');
    expect(encodeLeaseValue(attrs, earlier)).toBe(FLANNEL_DUAL_VXLAN.replace('"VtepMAC":"8e:1b:2c:3d:4e:5f"}', '"VtepMAC":"8e:1b:2c:3d:4e:5f","Future":[1]}'));
    // Without an IPv6 device any more, the old IPv6 data is not carried over.
    expect(encodeLeaseValue({ ...attrs, publicIpv6: undefined, backendV6Data: undefined }, earlier)).toBe(FLANNEL_VXLAN);
  });

  it.each([
    ['{"PublicIP":"192.0.2.1","PublicIPv6":"192.0.2.1","BackendType":"host-gw"}', /PublicIPv6 "192.0.2.1" is not an IPv6 address/],
    ['{"PublicIP":"192.0.2.1","PublicIPv6":7,"BackendType":"host-gw"}', /PublicIPv6 7 is not an IPv6/],
    ['{"PublicIP":"192.0.2.1","PublicIPv6":"fd00::zz","BackendType":"host-gw"}', /not an IPv6/],
    ['{"PublicIP":"192.0.2.1","PublicIPv6":"fe80::1%eth0","BackendType":"host-gw"}', /not an IPv6/],
    ['{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::3","BackendType":"vxlan","BackendV6Data":"x"}', /no BackendV6Data object/],
    ['{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::3","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"zz:00:00:00:00:01"}}', /BackendV6Data VtepMAC "zz:00:00:00:00:01" is not a MAC/],
    ['{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::3","BackendType":"vxlan","BackendV6Data":{"VtepMAC":"02:00:00:00:00:01"}}', /BackendV6Data VNI missing/],
    ['{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::3","BackendType":"vxlan","BackendData":null,"BackendV6Data":null}', /no BackendData object \(nor BackendV6Data\)/],
  ])('refuses the value %s', (value, message) => {
    expect(() => parseLeaseValue('src', value)).toThrow(RemoteDataError);
    expect(() => parseLeaseValue('src', value)).toThrow(message);
  });
});

describe('dual-stack records', () => {
  const DUAL_KEY = `${P}/subnets/10.244.3.0-24&fd00:10:244:3::-64`;

  it('turns a dual-stack record into a Lease with both halves', () => {
    const lease = parseLeaseRecord(P, { key: DUAL_KEY, value: FLANNEL_DUAL_VXLAN, leaseId: '7' }, { ipv4: net('10.244.0.0/16') });
    expect(lease.subnet?.toString()).toBe('10.244.3.0/24');
    expect(lease.ipv6Subnet?.toString()).toBe('fd00:10:244:3::/64');
    expect(lease.publicIpv6?.toString()).toBe('2001:db8::3');
    expect(lease.backendV6Data).toEqual({ vni: 1, vtepMac: '8e:1b:2c:3d:4e:5f' });
    // A dual-stack reservation needs no IPv6 attributes.
    const reserved = parseLeaseRecord(P, { key: DUAL_KEY, value: '{"PublicIP":"1.2.3.4","PublicIPv6":null}', leaseId: '0' });
    expect([reserved.backendType, reserved.ipv6Subnet?.toString(), reserved.expiresAt]).toEqual(['', 'fd00:10:244:3::/64', undefined]);
  });

  it.each([
    ['an IPv6-only key with an IPv4 value', `${P}/subnets/0.0.0.0-0&fd00:10:244:3::-64`, FLANNEL_VXLAN, /IPv6-only lease has no PublicIPv6/],
    ['an IPv6-only vxlan key without BackendV6Data', `${P}/subnets/0.0.0.0-0&fd00:10:244:3::-64`, FLANNEL_V6_VXLAN.replace(/,"BackendV6Data":.*}$/, '}'), /IPv6-only vxlan lease has no BackendV6Data|no BackendData object \(nor BackendV6Data\)/],
    ['an IPv4 half without an IPv4 address', DUAL_KEY, FLANNEL_DUAL_HOSTGW.replace('192.0.2.7', '0.0.0.0'), /lease has an IPv4 subnet but PublicIP 0.0.0.0/],
    ['an IPv6 half outside IPv6Network', `${P}/subnets/0.0.0.0-0&fd00:10:245:3::-64`, FLANNEL_V6_VXLAN, /subnet fd00:10:245:3::\/64 is outside the network fd00:10:244::\/48/],
    ['a malformed IPv6 half', `${P}/subnets/10.244.3.0-24&fd00:10:244:3::1-64`, FLANNEL_DUAL_VXLAN, /malformed IPv6 part/],
    ['no PublicIPv6 on a dual-stack key', DUAL_KEY, FLANNEL_VXLAN, /dual-stack lease has no PublicIPv6/],
    ['no BackendV6Data on a dual-stack vxlan key', DUAL_KEY, FLANNEL_DUAL_VXLAN.replace(/,"BackendV6Data":.*}$/, '}'), /no BackendV6Data object/],
    ['no BackendData on an IPv4 half', `${P}/subnets/10.244.3.0-24`, FLANNEL_V6_VXLAN, /no BackendData object for its IPv4 subnet/],
  ])('refuses %s as a whole', (_name, key, value, message) => {
    const networks = { ipv4: net('10.0.0.0/8'), ipv6: net('fd00:10:244::/48') };
    expect(() => parseLeaseRecord(P, { key, value, leaseId: '7' }, networks)).toThrow(RemoteDataError);
    expect(() => parseLeaseRecord(P, { key, value, leaseId: '7' }, networks)).toThrow(message);
  });

  it("turns flannel's IPv6-only record into a Lease with only an IPv6 half (no IPv4 subnet, no IPv4 address)", () => {
    const key = `${P}/subnets/0.0.0.0-0&fd00:10:244:3::-64`;
    const lease = parseLeaseRecord(P, { key, value: FLANNEL_V6_VXLAN, leaseId: '7' }, { ipv4: net('10.244.0.0/16'), ipv6: net('fd00:10:244::/48') });
    expect(lease).toEqual({
      subnet: undefined, ipv6Subnet: prefix('fd00:10:244:3::/64'), publicIpv6: ip6('2001:db8::3'), backendType: 'vxlan',
      backendV6Data: { vni: 1, vtepMac: '8e:1b:2c:3d:4e:5f' }, expiresAt: undefined,
    });
    expect(lease.publicIp).toBeUndefined();
    // host-gw as flannel's hostgw.go writes it without IPv4: PublicIP "0.0.0.0", no backend data.
    const hostGw = parseLeaseRecord(P, { key, value: '{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::7","BackendType":"host-gw"}', leaseId: '7' });
    expect([hostGw.subnet, hostGw.publicIp, hostGw.ipv6Subnet?.toString(), hostGw.publicIpv6?.toString()]).toEqual([undefined, undefined, 'fd00:10:244:3::/64', '2001:db8::7']);
    // An IPv6-only reservation needs no attributes beyond PublicIP.
    const reserved = parseLeaseRecord(P, { key, value: '{"PublicIP":"0.0.0.0","PublicIPv6":null}', leaseId: '0' });
    expect([reserved.backendType, reserved.ipv6Subnet?.toString(), reserved.expiresAt]).toEqual(['', 'fd00:10:244:3::/64', undefined]);
  });
});

/** A small deterministic PRNG (mulberry32), so that a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('fuzz: the parsers return a Lease or throw RemoteDataError, nothing else', () => {
  const ALPHABET = '0123456789abcdefABCDEF.:-/&{}[]",\\ ntrufalse\u0000\u00e9\ud83d';
  const KEYS = [`${P}/subnets/10.244.1.0-24`, `${P}/subnets/10.244.1.0-24&fd00::-64`, `${P}/subnets/0.0.0.0-0&fd00::-64`];
  const VALUES = [FLANNEL_VXLAN, '{"PublicIP":"192.0.2.7","PublicIPv6":null,"BackendType":"host-gw"}', FLANNEL_DUAL_VXLAN, FLANNEL_V6_VXLAN];
  const pick = (list: readonly string[], rand: () => number): string => list[Math.floor(rand() * list.length)] ?? '';
  const JSON_PIECES = ['null', 'true', '1e400', '-0', '"x"', '[]', '{}', '{"VNI":1}', '"02:00:00:00:00:01"', '9007199254740993', '"__proto__"'];

  function mutate(text: string, rand: () => number): string {
    let out = text;
    const edits = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < edits; i++) {
      const at = Math.floor(rand() * (out.length + 1));
      const choice = rand();
      const ch = ALPHABET[Math.floor(rand() * ALPHABET.length)] ?? 'x';
      if (choice < 0.3) out = out.slice(0, at) + ch + out.slice(at);
      else if (choice < 0.6) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rand() * 3));
      else if (choice < 0.8) out = out.slice(0, at) + ch + out.slice(at + 1);
      else out = out.slice(0, at) + (JSON_PIECES[Math.floor(rand() * JSON_PIECES.length)] ?? '') + out.slice(at);
    }
    return out;
  }

  /** Random JSON objects with flannel-like field names and wrong-typed values. */
  function randomValue(rand: () => number, depth = 0): unknown {
    const r = rand();
    if (depth > 2 || r < 0.3) return [null, true, 0, -1, 1.5, 2 ** 40, '192.0.2.1', '02:00:00:00:00:01', '', 'vxlan', 'host-gw', '2001:db8::1'][Math.floor(rand() * 12)];
    if (r < 0.4) return [randomValue(rand, depth + 1)];
    const obj: Record<string, unknown> = {};
    for (const name of ['PublicIP', 'publicip', 'PublicIPv6', 'BackendType', 'BackendData', 'BackendV6Data', 'VNI', 'VtepMAC', 'vtepmac', '__proto__', 'constructor']) {
      if (rand() < 0.5) obj[name] = randomValue(rand, depth + 1);
    }
    return obj;
  }

  function check(key: string, value: string): 'lease' | 'dualLease' | 'ipv6Lease' | 'refused' {
    try {
      const lease = parseLeaseRecord(P, { key, value, leaseId: '1' }, { ipv4: net('10.0.0.0/8'), ipv6: net('fd00::/8') });
      // A returned Lease is well-formed: a half of at least one family, each inside its network.
      expect(lease.subnet ?? lease.ipv6Subnet).toBeDefined();
      if (lease.subnet) expect(net('10.0.0.0/8').containsPrefix(lease.subnet)).toBe(true);
      if (lease.ipv6Subnet) expect(net('fd00::/8').containsPrefix(lease.ipv6Subnet)).toBe(true);
      expect(lease.publicIp?.family ?? 'ipv4').toBe('ipv4');
      // A node's IPv4 half carries its IPv4 address ("0.0.0.0" is none).
      if (lease.subnet && lease.backendType !== '') expect(lease.publicIp?.isUnspecified()).toBe(false);
      // No BackendType is read as flannel reads it (''), and then carries no backend data.
      if (lease.backendType === '') expect(lease.backendData).toBeUndefined();
      if (lease.subnet && lease.backendType === 'vxlan') expect(lease.backendData?.vtepMac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      // A node's dual-stack or IPv6-only lease carries its IPv6 attributes; an IPv6 half is an IPv6 prefix.
      if (lease.ipv6Subnet !== undefined && lease.backendType !== '') expect(lease.publicIpv6?.family).toBe('ipv6');
      if (lease.ipv6Subnet !== undefined && lease.backendType === 'vxlan') expect(lease.backendV6Data?.vtepMac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      expect(lease.ipv6Subnet?.family ?? 'ipv6').toBe('ipv6');
      if (lease.ipv6Subnet === undefined) return 'lease';
      return lease.subnet === undefined ? 'ipv6Lease' : 'dualLease';
    } catch (err) {
      if (!(err instanceof RemoteDataError)) throw new Error(`non-RemoteDataError for key ${JSON.stringify(key)} value ${JSON.stringify(value)}: ${String(err)}`);
      return 'refused';
    }
  }

  it('survives 6000 mutated keys and values and 2000 random JSON objects', () => {
    const rand = prng(20261122);
    const outcomes = { lease: 0, dualLease: 0, ipv6Lease: 0, refused: 0 };
    const started = Date.now();
    for (let i = 0; i < 6000; i++) {
      const key = rand() < 0.5 ? mutate(pick(KEYS, rand), rand) : pick(KEYS, rand);
      const value = rand() < 0.8 ? mutate(pick(VALUES, rand), rand) : pick(VALUES, rand);
      outcomes[check(key, value)]++;
    }
    for (let i = 0; i < 2000; i++) {
      outcomes[check(KEYS[i % KEYS.length] ?? '', JSON.stringify(randomValue(rand)))]++;
    }
    // Every outcome happens (the mutations are neither all harmless nor all fatal), within a time bound.
    expect(outcomes.lease).toBeGreaterThan(100);
    expect(outcomes.dualLease).toBeGreaterThan(20);
    expect(outcomes.ipv6Lease).toBeGreaterThan(20);
    expect(outcomes.refused).toBeGreaterThan(1000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
