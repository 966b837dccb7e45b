// Reads the subnet.env weftd writes (flannel's format) for the plugin. Like flannel's plugin, a file
// may be IPv4 only, IPv6 only or dual stack; FLANNEL_NETWORK may list several networks.
import { readFileSync } from 'node:fs';
import { isCidr, networkOf } from './cidr.js';
import { CniCode, CniError } from './cni-error.js';

export { networkOf } from './cidr.js';

export interface SubnetEnv {
  /** FLANNEL_NETWORK then FLANNEL_IPV6_NETWORK: the pod networks to route via the bridge. */
  networks: string[];
  /** One per family: the node's subnet as a network (weftd writes 10.244.1.1/24; host-local wants 10.244.1.0/24). */
  subnets: string[];
  /** The bridge's address in each subnet (the address written in subnet.env), same order as `subnets`. */
  gateways: string[];
  mtu: number;
  ipMasq: boolean;
}

export function parseSubnetEnv(text: string, path: string): SubnetEnv {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z_0-9]+)=(.*)$/.exec(line);
    if (match?.[1] !== undefined) values.set(match[1], (match[2] ?? '').trim());
  }
  const get = (key: string): string | undefined => {
    const value = values.get(key);
    return value === '' ? undefined : value;
  };
  const bad = (key: string, value: string, why: string): CniError =>
    new CniError(CniCode.invalidConfig, `${path}: ${key} "${value}" ${why}`, 'weftd rewrites this file on start; check its log');

  const cidrs = (key: string, family: 4 | 6): string[] =>
    (get(key) ?? '').split(',').map((n) => n.trim()).filter((n) => n !== '').map((cidr) => {
      if (!isCidr(cidr, family)) throw bad(key, cidr, `is not an IPv${family} CIDR`);
      return networkOf(cidr);
    });
  const networks = [...cidrs('FLANNEL_NETWORK', 4), ...cidrs('FLANNEL_IPV6_NETWORK', 6)];
  const subnetLines = [['FLANNEL_SUBNET', 4], ['FLANNEL_IPV6_SUBNET', 6]] as const;
  const subnets: string[] = [];
  const gateways: string[] = [];
  for (const [key, family] of subnetLines) {
    const value = get(key);
    if (value === undefined) continue;
    if (!isCidr(value, family) || value.includes(',')) throw bad(key, value, `is not an IPv${family} CIDR`);
    subnets.push(networkOf(value));
    gateways.push(value.split('/')[0] ?? '');
  }

  const missing = [
    ...(networks.length === 0 ? ['FLANNEL_NETWORK (or FLANNEL_IPV6_NETWORK)'] : []),
    ...(subnets.length === 0 ? ['FLANNEL_SUBNET (or FLANNEL_IPV6_SUBNET)'] : []),
    ...(get('FLANNEL_MTU') === undefined ? ['FLANNEL_MTU'] : []),
    // flannel's plugin refuses a file without it rather than guess who masquerades.
    ...(get('FLANNEL_IPMASQ') === undefined ? ['FLANNEL_IPMASQ'] : []),
  ];
  if (missing.length > 0) {
    throw new CniError(CniCode.invalidConfig, `${path} has no ${missing.join(', ')}`, 'weftd writes this file once it holds a lease; check its log');
  }
  const mtuText = get('FLANNEL_MTU') ?? '';
  const mtu = Number(mtuText);
  if (!/^\d+$/.test(mtuText) || mtu < 576 || mtu > 65535) throw bad('FLANNEL_MTU', mtuText, 'is not a valid MTU (576..65535)');
  return { networks, subnets, gateways, mtu, ipMasq: get('FLANNEL_IPMASQ') === 'true' };
}

/** Synchronous: see cni/delegate.ts. */
export function readSubnetEnv(path: string): SubnetEnv {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CniError(
        CniCode.tryAgainLater,
        `${path} does not exist: weftd may not be running on this node yet`,
        'start weftd (kubectl -n kube-weft get pods -o wide) or set "subnetFile" to where it writes subnet.env',
      );
    }
    throw new CniError(CniCode.ioFailure, `reading ${path}: ${(err as Error).message}`);
  }
  return parseSubnetEnv(text, path);
}
