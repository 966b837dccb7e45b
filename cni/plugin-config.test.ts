import { CniError } from './cni-error.js';
import { buildDelegateConfig, parsePluginConfig } from './plugin-config.js';
import { parseSubnetEnv } from './subnet-env-file.js';

const env = parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n', 'subnet.env');

function failureOf(fn: () => unknown): CniError | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof CniError) return err;
    throw err;
  }
  return undefined;
}

describe('parsePluginConfig', () => {
  it('applies flannel defaults for subnetFile and dataDir', () => {
    const conf = parsePluginConfig('{"name":"cbr0","cniVersion":"0.3.1","type":"weft"}');
    expect(conf).toMatchObject({ subnetFile: '/run/flannel/subnet.env', dataDir: '/var/lib/cni/flannel', delegate: {}, ipam: {} });
  });

  it('reads a config without cniVersion as 0.1.0, as the reference skel does', () => {
    expect(parsePluginConfig('{"name":"n"}').cniVersion).toBe('0.1.0');
  });

  it.each([
    ['', 6, /no network configuration on stdin/],
    ['   \n', 6, /no network configuration on stdin/],
    ['{"cniVersion": ', 6, /not JSON/],
    ['[1]', 6, /must be a JSON object/],
    ['{"cniVersion":"1.0.0"}', 7, /"name" must be a non-empty string/],
    ['{"name":"n","cniVersion":"0.5.0"}', 1, /cniVersion "0.5.0" is not supported/],
    ['{"name":"n","cniVersion":"1.0.0","delegate":[]}', 7, /"delegate" must be an object/],
    ['{"name":"n","cniVersion":"1.0.0","delegate":{"name":"x"}}', 7, /"delegate" must not set "name"/],
    ['{"name":"n","cniVersion":"1.0.0","delegate":{"ipam":{}}}', 7, /"delegate" must not set "ipam"/],
    ['{"name":"n","cniVersion":"1.0.0","delegate":{"type":7}}', 7, /"delegate.type" must be a plugin name/],
    ['{"name":"n","cniVersion":"1.0.0","ipam":"host-local"}', 7, /"ipam" must be an object/],
    ['{"name":"n","cniVersion":"1.0.0","ipam":{"routes":{}}}', 7, /"ipam.routes" must be a list/],
    ['{"name":"n","cniVersion":"1.0.0","subnetFile":""}', 7, /"subnetFile" must be a non-empty string/],
  ])('rejects %j with code %d', (stdin, code, message) => {
    const failure = failureOf(() => parsePluginConfig(stdin));
    expect(failure?.code).toBe(code);
    expect(failure?.message).toMatch(message);
  });

  it('tells how to fix a delegate with "ipam"', () => {
    expect(failureOf(() => parsePluginConfig('{"name":"n","cniVersion":"1.0.0","delegate":{"ipam":{}}}'))?.details).toMatch(/remove "ipam" from "delegate"/);
  });
});

describe('buildDelegateConfig', () => {
  it('builds bridge + host-local from subnet.env, masquerading in the bridge only when weftd does not', () => {
    const conf = parsePluginConfig('{"name":"cbr0","cniVersion":"1.0.0","delegate":{"hairpinMode":true},"runtimeConfig":{"portMappings":[]}}');
    expect(buildDelegateConfig(conf, env, '1.0.0')).toEqual({
      type: 'bridge', name: 'cbr0', cniVersion: '1.0.0', hairpinMode: true, mtu: 1450, ipMasq: false, isGateway: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.3.0/24' }]], routes: [{ dst: '10.244.0.0/16', gw: '10.244.3.1' }] },
      runtimeConfig: { portMappings: [] },
    });
  });

  it('lets the delegate override the defaults, and routes every network of a multi-network subnet.env', () => {
    const multi = parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16,10.245.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n', 'f');
    const conf = parsePluginConfig('{"name":"n","cniVersion":"0.4.0","delegate":{"type":"macvlan","mtu":1300,"ipMasq":true}}');
    const delegate = buildDelegateConfig(conf, multi, '0.4.0');
    expect(delegate).toMatchObject({ type: 'macvlan', mtu: 1300, ipMasq: true });
    expect(delegate).not.toHaveProperty('isGateway');
    expect((delegate['ipam'] as { routes: unknown[] }).routes).toEqual([
      { dst: '10.244.0.0/16', gw: '10.244.3.1' }, { dst: '10.245.0.0/16', gw: '10.244.3.1' },
    ]);
  });

  it('keeps the top-level "ipam" keys as flannel does: dataDir stays, ranges come from subnet.env, routes are appended', () => {
    const conf = parsePluginConfig(JSON.stringify({
      name: 'n', cniVersion: '1.0.0',
      ipam: { dataDir: '/tmp/ipam', ranges: [[{ subnet: '10.9.0.0/24' }]], routes: [{ dst: '192.0.2.0/24' }] },
    }));
    expect(buildDelegateConfig(conf, env, '1.0.0')['ipam']).toEqual({
      type: 'host-local',
      dataDir: '/tmp/ipam',
      ranges: [[{ subnet: '10.244.3.0/24' }]],
      routes: [{ dst: '192.0.2.0/24' }, { dst: '10.244.0.0/16', gw: '10.244.3.1' }],
    });
  });

  it('accepts the ipamDataDir shorthand; an explicit ipam.dataDir wins', () => {
    const short = parsePluginConfig('{"name":"n","cniVersion":"1.0.0","ipamDataDir":"/a"}');
    expect(buildDelegateConfig(short, env, '1.0.0')['ipam']).toMatchObject({ dataDir: '/a' });
    const both = parsePluginConfig('{"name":"n","cniVersion":"1.0.0","ipamDataDir":"/a","ipam":{"dataDir":"/b"}}');
    expect(buildDelegateConfig(both, env, '1.0.0')['ipam']).toMatchObject({ dataDir: '/b' });
  });

  it('gives a dual-stack node one range per family, each network routed via its own family\'s gateway', () => {
    const dual = parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_IPV6_NETWORK=fd00::/48\nFLANNEL_IPV6_SUBNET=fd00:0:0:3::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true', 'f');
    const ipam = buildDelegateConfig(parsePluginConfig('{"name":"n","cniVersion":"1.0.0"}'), dual, '1.0.0')['ipam'];
    expect(ipam).toMatchObject({
      ranges: [[{ subnet: '10.244.3.0/24' }], [{ subnet: 'fd00:0:0:3::/64' }]],
      routes: [{ dst: '10.244.0.0/16', gw: '10.244.3.1' }, { dst: 'fd00::/48', gw: 'fd00:0:0:3::1' }],
    });
  });
});
