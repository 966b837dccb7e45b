// Reads the subnet.env weftd writes (flannel's format) for the plugin. Like flannel's plugin, a file
// may be IPv4 only, IPv6 only or dual stack; FLANNEL_NETWORK may list several networks.
import { readFile } from 'node:fs/promises';
import { isIPv4, isIPv6 } from 'node:net';
import { CniCode, CniError } from './cni-error.js';

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
  ];
  if (missing.length > 0) {
    throw new CniError(CniCode.invalidConfig, `${path} has no ${missing.join(', ')}`, 'weftd writes this file once it holds a lease; check its log');
  }
  const mtuText = get('FLANNEL_MTU') ?? '';
  const mtu = Number(mtuText);
  if (!/^\d+$/.test(mtuText) || mtu < 576 || mtu > 65535) throw bad('FLANNEL_MTU', mtuText, 'is not a valid MTU (576..65535)');
  return { networks, subnets, gateways, mtu, ipMasq: get('FLANNEL_IPMASQ') === 'true' };
}

function isCidr(cidr: string, family: 4 | 6): boolean {
  const [address = '', length, ...rest] = cidr.split('/');
  if (length === undefined || rest.length > 0 || !/^\d{1,3}$/.test(length)) return false;
  return family === 4 ? isIPv4(address) && Number(length) <= 32 : isIPv6(address) && Number(length) <= 128;
}

/** "10.244.1.1/24" -> "10.244.1.0/24", "fd00:1:2::1/56" -> "fd00:1:2::/56". Input must be a valid CIDR. */
export function networkOf(cidr: string): string {
  const [address = '', length = '0'] = cidr.split('/');
  const bits = Number(length);
  const v6 = address.includes(':');
  if (!isCidr(cidr, v6 ? 6 : 4)) throw new CniError(CniCode.invalidConfig, `"${cidr}" is not a CIDR`);
  const width = v6 ? 128 : 32;
  const value = v6 ? ipv6ToBigInt(address) : address.split('.').reduce((acc, octet) => acc * 256n + BigInt(octet), 0n);
  const mask = ((1n << BigInt(width)) - 1n) ^ ((1n << BigInt(width - bits)) - 1n);
  const network = value & mask;
  return `${v6 ? formatIpv6(network) : formatIpv4(network)}/${bits}`;
}

function formatIpv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 255n)).join('.');
}

function ipv6ToBigInt(address: string): bigint {
  let text = address;
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (v4 !== undefined) {
    const n = v4.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    text = `${text.slice(0, -v4.length)}${(n >>> 16).toString(16)}:${(n & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  return groups.reduce((acc, g) => (acc << 16n) + BigInt(parseInt(g, 16)), 0n);
}

/** RFC 5952 text: lower case, the longest run of two or more zero groups shortened to "::". */
function formatIpv6(value: bigint): string {
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  let best = { start: -1, length: 0 };
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > best.length) best = { start: i, length: j - i };
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best.length < 2) return hex.join(':');
  return `${hex.slice(0, best.start).join(':')}::${hex.slice(best.start + best.length).join(':')}`;
}

export async function readSubnetEnv(path: string): Promise<SubnetEnv> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
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
