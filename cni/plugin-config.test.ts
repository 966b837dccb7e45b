import { CniError } from './cni-error.js';
import { buildDelegateConfig, parsePluginConfig } from './plugin-config.js';
import { networkOf, parseSubnetEnv } from './subnet-env-file.js';
import { delegateVersion, hasCheck } from './cni-versions.js';

const env = parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n', 'subnet.env');

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof CniError ? err.code : -1;
  }
  return undefined;
}

describe('parsePluginConfig', () => {
  it('applies flannel defaults for subnetFile and dataDir', () => {
    const conf = parsePluginConfig('{"name":"cbr0","cniVersion":"0.3.1","type":"weft"}');
    expect(conf).toMatchObject({ subnetFile: '/run/flannel/subnet.env', dataDir: '/var/lib/cni/flannel', delegate: {} });
  });

  it.each([
    ['', 6],
    ['[1]', 6],
    ['{"cniVersion":"1.0.0"}', 7],
    ['{"name":"n","cniVersion":"0.2.0"}', 1],
    ['{"name":"n","cniVersion":"1.0.0","delegate":[]}', 7],
    ['{"name":"n","cniVersion":"1.0.0","delegate":{"name":"x"}}', 7],
    ['{"name":"n","cniVersion":"1.0.0","subnetFile":""}', 7],
  ])('rejects %j with code %d', (stdin, code) => {
    expect(codeOf(() => parsePluginConfig(stdin))).toBe(code);
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
    const multi = parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16,10.245.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1400\n', 'f');
    const conf = parsePluginConfig('{"name":"n","cniVersion":"0.4.0","delegate":{"type":"macvlan","mtu":1300,"ipMasq":true}}');
    const delegate = buildDelegateConfig(conf, multi, '0.4.0');
    expect(delegate).toMatchObject({ type: 'macvlan', mtu: 1300, ipMasq: true });
    expect(delegate).not.toHaveProperty('isGateway');
    expect((delegate['ipam'] as { routes: unknown[] }).routes).toEqual([
      { dst: '10.244.0.0/16', gw: '10.244.3.1' }, { dst: '10.245.0.0/16', gw: '10.244.3.1' },
    ]);
  });
});

describe('subnet.env and versions', () => {
  it('names the missing key', () => {
    expect(() => parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\n', '/run/flannel/subnet.env')).toThrow('/run/flannel/subnet.env has no FLANNEL_SUBNET');
    expect(() => parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=x\nFLANNEL_MTU=1450', 'f')).toThrow('"x" is not an IPv4 CIDR');
  });

  it('masks a subnet to its network', () => {
    expect(networkOf('10.244.3.1/24')).toBe('10.244.3.0/24');
    expect(networkOf('10.244.255.129/25')).toBe('10.244.255.128/25');
    expect(networkOf('192.0.2.7/32')).toBe('192.0.2.7/32');
  });

  it('delegates 1.1.0 as 1.0.0 and knows where CHECK exists', () => {
    expect(delegateVersion('1.1.0')).toBe('1.0.0');
    expect(delegateVersion('0.3.1')).toBe('0.3.1');
    expect([hasCheck('0.3.1'), hasCheck('0.4.0')]).toEqual([false, true]);
  });
});
