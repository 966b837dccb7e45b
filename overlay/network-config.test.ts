import { ConfigError } from '../subnet/errors.js';
import type { SubnetPool } from '../subnet/lease.js';
import { enabledFamilies, parseNetworkConfig, type NetworkConfig } from './network-config.js';

const v4 = (conf: NetworkConfig): SubnetPool => {
  if (!conf.ipv4) throw new Error('no IPv4 pool');
  return conf.ipv4;
};
const v6 = (conf: NetworkConfig): SubnetPool => {
  if (!conf.ipv6) throw new Error('no IPv6 pool');
  return conf.ipv6;
};
/** The pool as text, to compare in one expectation. */
const show = (pool: SubnetPool): string[] => [pool.network.toString(), `/${pool.subnetLen}`, pool.subnetMin.toString(), pool.subnetMax.toString()];

/** The ConfigError `run` throws (the expectation fails if it throws none, or something else). */
function configErrorOf(run: () => unknown): ConfigError {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ConfigError);
  return caught as ConfigError;
}
const refusal = (text: string): ConfigError => configErrorOf(() => parseNetworkConfig(text));

describe('parseNetworkConfig', () => {
  it('applies flannel defaults for a /16', () => {
    const conf = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    expect(show(v4(conf))).toEqual(['10.244.0.0/16', '/24', '10.244.1.0', '10.244.255.0']);
    expect(conf.ipv6).toBeUndefined();
    expect(conf.backend).toEqual({
      type: 'vxlan', vni: 1, port: 0, mtu: undefined, gbp: false, learning: false, directRouting: false,
    });
    expect(conf.enableNFTables).toBe(false);
    expect(conf.warnings).toEqual([]);
  });

  it('matches keys case-insensitively and lower-cases the backend type', () => {
    const conf = parseNetworkConfig(
      '{"network":"10.1.0.0/16","SUBNETLEN":26,"backend":{"type":"VXLAN","vni":4,"port":4789,"directrouting":true,"mtu":9000}}',
    );
    expect(v4(conf).subnetLen).toBe(26);
    expect(conf.backend).toMatchObject({ type: 'vxlan', vni: 4, port: 4789, directRouting: true, mtu: 9000 });
  });

  it.each([
    ['10.0.0.0/22', 24],
    ['10.0.0.0/23', 25],
    ['10.0.0.0/28', 30],
  ])('defaults SubnetLen for %s to %d', (network, len) => {
    expect(v4(parseNetworkConfig(JSON.stringify({ Network: network }))).subnetLen).toBe(len);
  });

  it('defaults to vxlan with a warning when Backend is missing', () => {
    const conf = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    expect(conf.backend.type).toBe('vxlan');
    expect(conf.warnings[0]).toMatch(/Backend is not set; using vxlan/);
  });

  it('masks a Network with host bits set to its network address, as flannel does, with a warning', () => {
    const conf = parseNetworkConfig('{"Network":"10.3.1.0/16","Backend":{"Type":"vxlan"}}');
    expect(show(v4(conf))).toEqual(['10.3.0.0/16', '/24', '10.3.1.0', '10.3.255.0']);
    expect(conf.warnings).toEqual(['Network "10.3.1.0/16" has host bits set; using 10.3.0.0/16 as flannel does (write it so to silence this)']);
    expect(parseNetworkConfig('{"Network":"10.3.0.0/16","Backend":{"Type":"vxlan"}}').warnings).toEqual([]);
  });

  it('accepts host-gw and honours SubnetMin/SubnetMax', () => {
    const conf = parseNetworkConfig(
      '{"Network":"10.244.0.0/16","SubnetMin":"10.244.10.0","SubnetMax":"10.244.20.0","Backend":{"Type":"host-gw"}}',
    );
    expect(conf.backend).toEqual({ type: 'host-gw' });
    expect(show(v4(conf))).toEqual(['10.244.0.0/16', '/24', '10.244.10.0', '10.244.20.0']);
  });

  it.each([
    ['not json', 'net-conf.json', /not valid JSON/],
    ['[]', 'net-conf.json', /must be a JSON object/],
    ['{}', 'Network', /is missing/],
    ['{"Network":5}', 'Network', /must be a string/],
    ['{"Network":"10.244.0.0"}', 'Network', /not an IPv4 CIDR/],
    ['{"Network":"10.0.0.0/29"}', 'Network', /too small/],
    ['{"Network":"10.0.0.0/16","SubnetLen":31}', 'SubnetLen', /at least a \/30/],
    ['{"Network":"10.0.0.0/16","SubnetLen":17}', 'SubnetLen', /use at least 18/],
    ['{"Network":"10.0.0.0/16","SubnetLen":"24"}', 'SubnetLen', /whole number/],
    ['{"Network":"10.0.0.0/16","SubnetMin":"10.1.0.0"}', 'SubnetMin', /not inside Network/],
    ['{"Network":"10.0.0.0/16","SubnetMin":"10.0.1.5"}', 'SubnetMin', /boundary; did you mean 10.0.1.0/],
    ['{"Network":"10.0.0.0/16","SubnetMax":"banana"}', 'SubnetMax', /not an IPv4 address/],
    ['{"Network":"10.0.0.0/16","SubnetMin":"10.0.9.0","SubnetMax":"10.0.2.0"}', 'SubnetMin', /above SubnetMax/],
    ['{"Network":"10.0.0.0/16","EnableIPv6":true}', 'IPv6Network', /is missing; set it to the pod network, e.g. "fd00:10:244::\/56"/],
    ['{"Network":"10.0.0.0/16","EnableIPv4":false}', 'EnableIPv4', /no address family is left/],
    ['{"Network":"10.0.0.0/16","EnableIPv6":"yes"}', 'EnableIPv6', /true or false/],
    ['{"Network":"10.0.0.0/16","EnableNFTables":"yes"}', 'EnableNFTables', /true or false/],
    ['{"Network":"10.0.0.0/16","Backend":"vxlan"}', 'Backend', /JSON object/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"udp"}}', 'Backend.Type', /"udp" is not supported; use one of vxlan, host-gw/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","VNI":0}}', 'Backend.VNI', /out of range/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","Port":70000}}', 'Backend.Port', /out of range/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","MTU":50}}', 'Backend.MTU', /out of range/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","DirectRouting":1}}', 'Backend.DirectRouting', /true or false/],
  ])('rejects %s naming %s', (text, field, message) => {
    const caught = refusal(text);
    expect(caught.field).toBe(field);
    expect(caught.message).toMatch(message);
    expect(caught.message).not.toContain('\n');
  });
});

// flannel's CheckNetworkConfig for IPv6 (pkg/subnet/config.go): IPv6SubnetLen at most 126, at least
// IPv6Network's prefix + 2; unset, 64 when the network is a /62 or shorter, else prefix + 2, and a
// network longer than /124 is too small; IPv6SubnetMin/Max default to the second and the last subnet.
describe('parseNetworkConfig: IPv6', () => {
  const DUAL = { Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56', Backend: { Type: 'vxlan' } };

  it('applies flannel defaults to a dual-stack network', () => {
    const conf = parseNetworkConfig(JSON.stringify(DUAL));
    expect(show(v4(conf))).toEqual(['10.244.0.0/16', '/24', '10.244.1.0', '10.244.255.0']);
    expect(show(v6(conf))).toEqual(['fd00:10:244::/56', '/64', 'fd00:10:244:1::', 'fd00:10:244:ff::']);
    expect(conf.warnings).toEqual([]);
  });

  it('takes an IPv6-only network (EnableIPv4 false) without any IPv4 field', () => {
    const conf = parseNetworkConfig('{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/8","Backend":{"Type":"host-gw"}}');
    expect(conf.ipv4).toBeUndefined();
    expect(show(v6(conf))).toEqual(['fd00::/8', '/64', 'fd00:0:0:1::', 'fdff:ffff:ffff:ffff::']);
    expect(conf.backend).toEqual({ type: 'host-gw' });
  });

  // flannel's own TestIPv6ConfigDefaults and TestIPv6ConfigOverrides (pkg/subnet/config_test.go).
  it.each([
    ['{ "enableIPv6": true, "ipv6Network": "fc00::/48", "enableIPv4": false }', ['fc00::/48', '/64', 'fc00:0:0:1::', 'fc00:0:0:ffff::']],
    [
      '{ "EnableIPv6": true, "IPv6Network": "fc00::/48", "IPv6SubnetMin": "fc00:0:0:1::", "IPv6SubnetMax": "fc00:0:0:f::", "IPv6SubnetLen": 124, "enableIPv4": false }',
      ['fc00::/48', '/124', 'fc00:0:0:1::', 'fc00:0:0:f::'],
    ],
  ])('gives what flannel\'s tests expect for %s', (text, expected) => {
    const conf = parseNetworkConfig(text);
    expect(conf.ipv4).toBeUndefined();
    expect(show(v6(conf))).toEqual(expected);
  });

  it.each([
    ['fd00::/8', 64],
    ['fd00::/62', 64],
    ['fd00::/63', 65],
    ['fd00::/124', 126],
  ])('defaults IPv6SubnetLen for %s to %d', (network, len) => {
    expect(v6(parseNetworkConfig(JSON.stringify({ ...DUAL, IPv6Network: network }))).subnetLen).toBe(len);
  });

  it('matches IPv6 keys case-insensitively and honours IPv6SubnetLen/Min/Max', () => {
    const conf = parseNetworkConfig(
      '{"network":"10.244.0.0/16","enableipv6":true,"ipv6network":"FD00:12::/48","IPV6SUBNETLEN":56,"ipv6subnetmin":"fd00:12:0:a00::","IPv6SubnetMax":"fd00:12:0:f00::"}',
    );
    expect(show(v6(conf))).toEqual(['fd00:12::/48', '/56', 'fd00:12:0:a00::', 'fd00:12:0:f00::']);
  });

  it('masks an IPv6Network with host bits set, as flannel does, with a warning', () => {
    const conf = parseNetworkConfig(JSON.stringify({ ...DUAL, IPv6Network: 'fd00:10:244:1::/56' }));
    expect(show(v6(conf))).toEqual(['fd00:10:244::/56', '/64', 'fd00:10:244:1::', 'fd00:10:244:ff::']);
    expect(conf.warnings).toEqual(['IPv6Network "fd00:10:244:1::/56" has host bits set; using fd00:10:244::/56 as flannel does (write it so to silence this)']);
  });

  it("warns about a family's fields that its Enable flag leaves unused", () => {
    const ipv4Only = parseNetworkConfig('{"Network":"10.244.0.0/16","IPv6Network":"fd00::/8","IPv6SubnetLen":64,"Backend":{"Type":"vxlan"}}');
    expect(ipv4Only.ipv6).toBeUndefined();
    expect(ipv4Only.warnings).toEqual(['IPv6Network, IPv6SubnetLen ignored: EnableIPv6 is not true (flannel ignores them too)']);
    const ipv6Only = parseNetworkConfig('{"EnableIPv4":false,"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/8","Backend":{"Type":"vxlan"}}');
    expect(ipv6Only.ipv4).toBeUndefined();
    expect(ipv6Only.warnings).toEqual(['Network ignored: EnableIPv4 is not true (flannel ignores them too)']);
  });

  it.each([
    [{ IPv6Network: 5 }, 'IPv6Network', /must be a string/],
    [{ IPv6Network: 'fd00::' }, 'IPv6Network', /"fd00::" is not an IPv6 CIDR; write it like "fd00:10:244::\/56"/],
    [{ IPv6Network: '10.0.0.0/8' }, 'IPv6Network', /not an IPv6 CIDR/],
    [{ IPv6Network: 'fd00::/125' }, 'IPv6Network', /fd00::\/125 is too small; the smallest useful network is a \/124/],
    [{ IPv6SubnetLen: 127 }, 'IPv6SubnetLen', /127 is too long: each node needs at least a \/126; use 126 or less/],
    [{ IPv6SubnetLen: 57 }, 'IPv6SubnetLen', /^IPv6SubnetLen: \/57 fits fewer than four times into fd00:10:244::\/56; use at least 58$/],
    [{ IPv6SubnetLen: '64' }, 'IPv6SubnetLen', /whole number/],
    [{ IPv6SubnetMin: 'fd00:10:245::' }, 'IPv6SubnetMin', /fd00:10:245:: is not inside IPv6Network fd00:10:244::\/56; pick an address inside it/],
    [{ IPv6SubnetMin: 'fd00:10:244:1::1' }, 'IPv6SubnetMin', /not on a \/64 boundary; did you mean fd00:10:244:1::\?/],
    [{ IPv6SubnetMax: '10.244.1.0' }, 'IPv6SubnetMax', /"10.244.1.0" is not an IPv6 address; write it like "fd00:10:244:1::"/],
    [{ IPv6SubnetMax: 'fd00:10:244:1::/64' }, 'IPv6SubnetMax', /not an IPv6 address/],
    [{ IPv6SubnetMin: 'fd00:10:244:9::', IPv6SubnetMax: 'fd00:10:244:2::' }, 'IPv6SubnetMin', /fd00:10:244:9:: is above IPv6SubnetMax fd00:10:244:2::; swap them/],
    [{ SubnetMin: 'fd00:10:244:1::' }, 'SubnetMin', /not an IPv4 address/],
    [{ IPv6Network: undefined }, 'IPv6Network', /is missing/],
  ])('rejects %j naming %s', (fields, field, message) => {
    const caught = refusal(JSON.stringify({ ...DUAL, ...fields }));
    expect(caught.field).toBe(field);
    expect(caught.message).toMatch(message);
    expect(caught.message).not.toContain('\n');
  });
});

describe('enabledFamilies', () => {
  it.each([
    ['{"Network":"10.244.0.0/16"}', ['ipv4']],
    ['{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00::/8"}', ['ipv4', 'ipv6']],
    ['{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00::/8"}', ['ipv6']],
  ])('lists the families %s runs, IPv4 first', (text, families) => {
    expect(enabledFamilies(parseNetworkConfig(text))).toEqual(families);
  });
});
