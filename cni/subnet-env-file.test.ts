import { CniError } from './cni-error.js';
import { networkOf, parseSubnetEnv, readSubnetEnv } from './subnet-env-file.js';

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof CniError ? err.code : -1;
  }
  return undefined;
}

describe('parseSubnetEnv', () => {
  it('reads the file weftd writes', () => {
    expect(parseSubnetEnv('FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n', 'f')).toEqual({
      networks: ['10.244.0.0/16'], subnets: ['10.244.3.0/24'], gateways: ['10.244.3.1'], mtu: 1450, ipMasq: true,
    });
  });

  it('takes a comma list of networks and IPv6 lines', () => {
    const text = [
      'FLANNEL_NETWORK=10.244.0.0/16, 10.245.0.0/16',
      'FLANNEL_SUBNET=10.244.3.1/24',
      'FLANNEL_IPV6_NETWORK=fd00:10:244::/56',
      'FLANNEL_IPV6_SUBNET=fd00:10:244:3::1/64',
      'FLANNEL_MTU=1400',
      'FLANNEL_IPMASQ=false',
    ].join('\n');
    expect(parseSubnetEnv(text, 'f')).toEqual({
      networks: ['10.244.0.0/16', '10.245.0.0/16', 'fd00:10:244::/56'],
      subnets: ['10.244.3.0/24', 'fd00:10:244:3::/64'],
      gateways: ['10.244.3.1', 'fd00:10:244:3::1'],
      mtu: 1400,
      ipMasq: false,
    });
  });

  it('accepts an IPv6-only file', () => {
    const env = parseSubnetEnv('FLANNEL_IPV6_NETWORK=fd00::/48\nFLANNEL_IPV6_SUBNET=fd00:0:0:7::1/64\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=false', 'f');
    expect(env).toMatchObject({ networks: ['fd00::/48'], subnets: ['fd00:0:0:7::/64'], gateways: ['fd00:0:0:7::1'] });
  });

  it.each([
    ['', /has no FLANNEL_NETWORK \(or FLANNEL_IPV6_NETWORK\), FLANNEL_SUBNET \(or FLANNEL_IPV6_SUBNET\), FLANNEL_MTU/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_MTU=1450', /has no FLANNEL_SUBNET/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24', /has no FLANNEL_MTU/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=x\nFLANNEL_MTU=1450', /FLANNEL_SUBNET "x" is not an IPv4 CIDR/],
    ['FLANNEL_NETWORK=10.244.0.0/33\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450', /FLANNEL_NETWORK "10.244.0.0\/33"/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1\nFLANNEL_MTU=1450', /"10.244.1.1" is not an IPv4 CIDR/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24,10.244.2.1/24\nFLANNEL_MTU=1450', /is not an IPv4 CIDR/],
    ['FLANNEL_NETWORK=fd00::/48\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450', /FLANNEL_NETWORK "fd00::\/48" is not an IPv4 CIDR/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=15x\nFLANNEL_IPMASQ=true', /FLANNEL_MTU "15x" is not a valid MTU/],
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=100\nFLANNEL_IPMASQ=true', /FLANNEL_MTU "100" is not a valid MTU/],
    // flannel's plugin refuses it too, rather than guess whether to masquerade (issue 12).
    ['FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450', /has no FLANNEL_IPMASQ/],
  ])('rejects %j with code 7: %s', (text, message) => {
    expect(() => parseSubnetEnv(text, '/run/flannel/subnet.env')).toThrow(message);
    expect(codeOf(() => parseSubnetEnv(text, '/run/flannel/subnet.env'))).toBe(7);
  });
});

describe('networkOf', () => {
  it.each([
    ['10.244.3.1/24', '10.244.3.0/24'],
    ['10.244.255.129/25', '10.244.255.128/25'],
    ['192.0.2.7/32', '192.0.2.7/32'],
    ['192.0.2.7/0', '0.0.0.0/0'],
    ['fd00:10:244:3::1/64', 'fd00:10:244:3::/64'],
    ['fd00:0:0:7:1:2:3:4/48', 'fd00::/48'],
    ['2001:db8:0:1:0:0:0:1/128', '2001:db8:0:1::1/128'],
    ['::ffff:192.0.2.1/120', '::ffff:c000:200/120'],
  ])('%s -> %s', (cidr, network) => {
    expect(networkOf(cidr)).toBe(network);
  });
});

describe('readSubnetEnv', () => {
  it('says weftd may not be running and names the path when the file is missing (code 11)', () => {
    let failure: unknown;
    try {
      readSubnetEnv('/nonexistent/weft/subnet.env');
    } catch (err) {
      failure = err;
    }
    expect(failure).toBeInstanceOf(CniError);
    expect((failure as CniError).code).toBe(11);
    expect((failure as CniError).message).toBe('/nonexistent/weft/subnet.env does not exist: weftd may not be running on this node yet');
  });
});
