import { RemoteDataError } from './errors.js';
import {
  configKey,
  encodeLeaseValue,
  parseLeaseRecord,
  parseLeaseValue,
  parseSubnetKey,
  subnetKey,
  subnetsDir,
} from './etcd-lease-codec.js';
import { Ipv4Net, parseIpv4 } from './ipv4.js';

const P = '/coreos.com/network';
const ip = (text: string): number => parseIpv4(text) ?? 0;
const net = (text: string): Ipv4Net => Ipv4Net.parse(text) ?? Ipv4Net.of(0, 0);
const FLANNEL_VXLAN =
  '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}';

describe('keys', () => {
  it("builds flannel's key names", () => {
    expect(configKey(P)).toBe('/coreos.com/network/config');
    expect(subnetsDir(P)).toBe('/coreos.com/network/subnets/');
    expect(subnetKey(P, net('10.1.15.0/24'))).toBe('/coreos.com/network/subnets/10.1.15.0-24');
  });

  it('parses subnet keys, including the IPv4 half of a dual-stack key', () => {
    expect(parseSubnetKey(P, `${P}/subnets/10.1.15.0-24`).toString()).toBe('10.1.15.0/24');
    expect(parseSubnetKey(P, `${P}/subnets/10.1.15.0-24&fd00:12:13::-56`).toString()).toBe('10.1.15.0/24');
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
    expect(() => parseSubnetKey(P, key)).toThrow(RemoteDataError);
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
    const leased = parseLeaseRecord(P, { key: `${P}/subnets/10.244.3.0-24`, value: FLANNEL_VXLAN, leaseId: '7587' }, net('10.244.0.0/16'), expiresAt);
    expect(leased.subnet.toString()).toBe('10.244.3.0/24');
    expect(leased.expiresAt).toBe(expiresAt);
    const reserved = parseLeaseRecord(P, { key: `${P}/subnets/10.244.3.0-24`, value: FLANNEL_VXLAN, leaseId: '0' }, undefined, expiresAt);
    expect(reserved.expiresAt).toBeUndefined();
  });

  it('refuses a subnet outside the network', () => {
    expect(() => parseLeaseRecord(P, { key: `${P}/subnets/10.9.3.0-24`, value: FLANNEL_VXLAN, leaseId: '1' }, net('10.244.0.0/16'))).toThrow(
      /outside the network 10.244.0.0\/16/,
    );
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
  const SEEDS = [
    `${P}/subnets/10.244.1.0-24`,
    `${P}/subnets/10.244.1.0-24&fd00::-64`,
    FLANNEL_VXLAN,
    '{"PublicIP":"192.0.2.7","PublicIPv6":null,"BackendType":"host-gw"}',
  ];
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
    if (depth > 2 || r < 0.3) return [null, true, 0, -1, 1.5, 2 ** 40, '192.0.2.1', '02:00:00:00:00:01', '', 'vxlan', 'host-gw'][Math.floor(rand() * 11)];
    if (r < 0.4) return [randomValue(rand, depth + 1)];
    const obj: Record<string, unknown> = {};
    for (const name of ['PublicIP', 'publicip', 'PublicIPv6', 'BackendType', 'BackendData', 'VNI', 'VtepMAC', 'vtepmac', '__proto__', 'constructor']) {
      if (rand() < 0.5) obj[name] = randomValue(rand, depth + 1);
    }
    return obj;
  }

  function check(key: string, value: string): 'lease' | 'refused' {
    try {
      const lease = parseLeaseRecord(P, { key, value, leaseId: '1' }, net('10.0.0.0/8'));
      // A returned Lease is well-formed.
      expect(Number.isInteger(lease.publicIp) && lease.publicIp >= 0 && lease.publicIp <= 0xffffffff).toBe(true);
      expect(net('10.0.0.0/8').containsNet(lease.subnet)).toBe(true);
      // No BackendType is read as flannel reads it (''), and then carries no backend data.
      if (lease.backendType === '') expect(lease.backendData).toBeUndefined();
      if (lease.backendType === 'vxlan') expect(lease.backendData?.vtepMac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
      return 'lease';
    } catch (err) {
      if (!(err instanceof RemoteDataError)) throw new Error(`non-RemoteDataError for key ${JSON.stringify(key)} value ${JSON.stringify(value)}: ${String(err)}`);
      return 'refused';
    }
  }

  it('survives 6000 mutated keys and values and 2000 random JSON objects', () => {
    const rand = prng(20261122);
    const outcomes = { lease: 0, refused: 0 };
    const started = Date.now();
    for (let i = 0; i < 6000; i++) {
      const key = rand() < 0.5 ? mutate(SEEDS[rand() < 0.5 ? 0 : 1] ?? '', rand) : (SEEDS[0] ?? '');
      const value = rand() < 0.8 ? mutate(SEEDS[2 + Math.floor(rand() * 2)] ?? '', rand) : (SEEDS[2] ?? '');
      outcomes[check(key, value)]++;
    }
    for (let i = 0; i < 2000; i++) {
      outcomes[check(SEEDS[0] ?? '', JSON.stringify(randomValue(rand)))]++;
    }
    // Both outcomes happen (the mutations are neither all harmless nor all fatal), within a time bound.
    expect(outcomes.lease).toBeGreaterThan(100);
    expect(outcomes.refused).toBeGreaterThan(1000);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
