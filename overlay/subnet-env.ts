// subnet.env: flannel's hand-off file to the CNI plugin. Written atomically (temp file + rename)
// so a plugin never reads half a file. Lines and their order are flannel's WriteSubnetFile
// (pkg/subnet/subnetfile_unix.go): the IPv4 pair when IPv4 is on, the IPv6 pair when IPv6 is on,
// then MTU and IPMASQ; each *_SUBNET line carries the subnet's first host address.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { IpFamily } from '../subnet/ip-address.js';
import { IpPrefix } from '../subnet/ip-prefix.js';

export interface FamilySubnet {
  /** The whole pod network of the family (Network / IPv6Network). */
  network: IpPrefix;
  /** This node's subnet of it. */
  subnet: IpPrefix;
}

export interface SubnetEnv {
  ipv4: FamilySubnet | undefined;
  ipv6: FamilySubnet | undefined;
  mtu: number;
  ipMasq: boolean;
}

const VARIABLES: Readonly<Record<IpFamily, { network: string; subnet: string }>> = {
  ipv4: { network: 'FLANNEL_NETWORK', subnet: 'FLANNEL_SUBNET' },
  ipv6: { network: 'FLANNEL_IPV6_NETWORK', subnet: 'FLANNEL_IPV6_SUBNET' },
};

export function formatSubnetEnv(env: SubnetEnv): string {
  const familyLines = (family: IpFamily): string[] => {
    const part = env[family];
    if (part === undefined) return [];
    // The first host address is the bridge's gateway, as flannel writes it.
    const gateway = part.subnet.host(1n);
    if (gateway === undefined) throw new RangeError(`subnet ${part.subnet.toString()} has no host address`);
    return [`${VARIABLES[family].network}=${part.network.toString()}`, `${VARIABLES[family].subnet}=${gateway.toString()}/${part.subnet.prefixLength}`];
  };
  return [...familyLines('ipv4'), ...familyLines('ipv6'), `FLANNEL_MTU=${env.mtu}`, `FLANNEL_IPMASQ=${env.ipMasq}`, ''].join('\n');
}

export async function writeSubnetEnv(path: string, env: SubnetEnv): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, formatSubnetEnv(env), { mode: 0o644 });
  await rename(temp, path);
}

/**
 * The subnets of an earlier run (FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET), tried first when leasing as
 * flannel does. A missing file, line or unreadable value is simply absent.
 */
export async function readPreviousSubnets(path: string): Promise<Partial<Record<IpFamily, IpPrefix>>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return {};
  }
  const lines = text.split('\n');
  const previous: Partial<Record<IpFamily, IpPrefix>> = {};
  for (const family of ['ipv4', 'ipv6'] as const) {
    const name = `${VARIABLES[family].subnet}=`;
    const value = lines.find((l) => l.startsWith(name))?.slice(name.length).trim();
    const subnet = value === undefined ? undefined : IpPrefix.parse(value, { family, strict: false });
    if (subnet !== undefined) previous[family] = subnet;
  }
  return previous;
}
