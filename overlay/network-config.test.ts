import { ConfigError } from '../subnet/errors.js';
import { formatIpv4 } from '../subnet/ipv4.js';
import { parseNetworkConfig } from './network-config.js';

describe('parseNetworkConfig', () => {
  it('applies flannel defaults for a /16', () => {
    const conf = parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}');
    expect(conf.network.toString()).toBe('10.244.0.0/16');
    expect(conf.subnetLen).toBe(24);
    expect(formatIpv4(conf.subnetMin)).toBe('10.244.1.0');
    expect(formatIpv4(conf.subnetMax)).toBe('10.244.255.0');
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
    expect(conf.subnetLen).toBe(26);
    expect(conf.backend).toMatchObject({ type: 'vxlan', vni: 4, port: 4789, directRouting: true, mtu: 9000 });
  });

  it.each([
    ['10.0.0.0/22', 24],
    ['10.0.0.0/23', 25],
    ['10.0.0.0/28', 30],
  ])('defaults SubnetLen for %s to %d', (network, len) => {
    expect(parseNetworkConfig(JSON.stringify({ Network: network })).subnetLen).toBe(len);
  });

  it('defaults to vxlan with a warning when Backend is missing', () => {
    const conf = parseNetworkConfig('{"Network":"10.244.0.0/16"}');
    expect(conf.backend.type).toBe('vxlan');
    expect(conf.warnings[0]).toMatch(/Backend is not set; using vxlan/);
  });

  it('masks a Network with host bits set to its network address, as flannel does, with a warning', () => {
    const conf = parseNetworkConfig('{"Network":"10.3.1.0/16","Backend":{"Type":"vxlan"}}');
    expect(conf.network.toString()).toBe('10.3.0.0/16');
    expect([formatIpv4(conf.network.ip), formatIpv4(conf.subnetMin), formatIpv4(conf.subnetMax)]).toEqual(['10.3.0.0', '10.3.1.0', '10.3.255.0']);
    expect(conf.warnings).toEqual(['Network "10.3.1.0/16" has host bits set; using 10.3.0.0/16 as flannel does (write it so to silence this)']);
    expect(parseNetworkConfig('{"Network":"10.3.0.0/16","Backend":{"Type":"vxlan"}}').warnings).toEqual([]);
  });

  it('accepts host-gw and honours SubnetMin/SubnetMax', () => {
    const conf = parseNetworkConfig(
      '{"Network":"10.244.0.0/16","SubnetMin":"10.244.10.0","SubnetMax":"10.244.20.0","Backend":{"Type":"host-gw"}}',
    );
    expect(conf.backend).toEqual({ type: 'host-gw' });
    expect(formatIpv4(conf.subnetMin)).toBe('10.244.10.0');
    expect(formatIpv4(conf.subnetMax)).toBe('10.244.20.0');
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
    ['{"Network":"10.0.0.0/16","EnableIPv6":true}', 'EnableIPv6', /not supported/],
    ['{"Network":"10.0.0.0/16","EnableIPv4":false}', 'EnableIPv4', /needs IPv4/],
    ['{"Network":"10.0.0.0/16","EnableNFTables":"yes"}', 'EnableNFTables', /true or false/],
    ['{"Network":"10.0.0.0/16","Backend":"vxlan"}', 'Backend', /JSON object/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"udp"}}', 'Backend.Type', /"udp" is not supported; use one of vxlan, host-gw/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","VNI":0}}', 'Backend.VNI', /out of range/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","Port":70000}}', 'Backend.Port', /out of range/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","MTU":50}}', 'Backend.MTU', /out of range/],
    ['{"Network":"10.0.0.0/16","Backend":{"Type":"vxlan","DirectRouting":1}}', 'Backend.DirectRouting', /true or false/],
  ])('rejects %s naming %s', (text, field, message) => {
    let caught: unknown;
    try {
      parseNetworkConfig(text);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).field).toBe(field);
    expect((caught as ConfigError).message).toMatch(message);
    expect((caught as ConfigError).message).not.toContain('\n');
  });
});
