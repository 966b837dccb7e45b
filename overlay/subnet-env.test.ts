import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IpPrefix } from '../subnet/ip-prefix.js';
import { formatSubnetEnv, readPreviousSubnets, writeSubnetEnv } from './subnet-env.js';

const net = (text: string): IpPrefix => {
  const parsed = IpPrefix.parse(text);
  if (!parsed) throw new Error(text);
  return parsed;
};
const V4 = { network: net('10.244.0.0/16'), subnet: net('10.244.1.0/24') };
const V6 = { network: net('fd00:10:244::/56'), subnet: net('fd00:10:244:1::/64') };

describe('subnet.env', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-env-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is written in flannel format with mode 0644 and read back', async () => {
    const path = join(dir, 'run', 'subnet.env');
    await writeSubnetEnv(path, { ipv4: V4, ipv6: undefined, mtu: 1450, ipMasq: true });
    expect(await readFile(path, 'utf8')).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
    );
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    const previous = await readPreviousSubnets(path);
    expect(previous.ipv4?.toString()).toBe('10.244.1.0/24');
    expect(previous.ipv6).toBeUndefined();
  });

  // flannel's WriteSubnetFile: the IPv4 pair, then the IPv6 pair, then MTU and IPMASQ; an IPv6-only
  // network has no FLANNEL_NETWORK / FLANNEL_SUBNET lines at all.
  it('writes the IPv6 lines after the IPv4 ones in a dual-stack network', () => {
    expect(formatSubnetEnv({ ipv4: V4, ipv6: V6, mtu: 1430, ipMasq: false })).toBe(
      [
        'FLANNEL_NETWORK=10.244.0.0/16',
        'FLANNEL_SUBNET=10.244.1.1/24',
        'FLANNEL_IPV6_NETWORK=fd00:10:244::/56',
        'FLANNEL_IPV6_SUBNET=fd00:10:244:1::1/64',
        'FLANNEL_MTU=1430',
        'FLANNEL_IPMASQ=false',
        '',
      ].join('\n'),
    );
  });

  it('writes only the IPv6 lines in an IPv6-only network, and reads both families back', async () => {
    const path = join(dir, 'subnet.env');
    await writeSubnetEnv(path, { ipv4: undefined, ipv6: { network: net('fd00:12::/48'), subnet: net('fd00:12:13::/56') }, mtu: 1430, ipMasq: true });
    expect(await readFile(path, 'utf8')).toBe('FLANNEL_IPV6_NETWORK=fd00:12::/48\nFLANNEL_IPV6_SUBNET=fd00:12:13::1/56\nFLANNEL_MTU=1430\nFLANNEL_IPMASQ=true\n');
    expect(await readPreviousSubnets(path)).toEqual({ ipv6: net('fd00:12:13::/56') });

    await writeSubnetEnv(path, { ipv4: V4, ipv6: V6, mtu: 1430, ipMasq: true });
    const both = await readPreviousSubnets(path);
    expect([both.ipv4?.toString(), both.ipv6?.toString()]).toEqual(['10.244.1.0/24', 'fd00:10:244:1::/64']);
  });

  it('ignores a missing or garbled file, and a value of the wrong family', async () => {
    expect(await readPreviousSubnets(join(dir, 'absent'))).toEqual({});
    const garbled = join(dir, 'garbled');
    await writeFile(garbled, 'FLANNEL_SUBNET=nonsense\nFLANNEL_IPV6_SUBNET=10.244.1.1/24\n');
    expect(await readPreviousSubnets(garbled)).toEqual({});
    await writeFile(garbled, 'FLANNEL_SUBNET=fd00::1/64\nFLANNEL_IPV6_SUBNET=fd00::zz/64\n');
    expect(await readPreviousSubnets(garbled)).toEqual({});
  });
});
