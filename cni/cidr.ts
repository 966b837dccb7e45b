// Address arithmetic on CIDRs for the plugin: validation, network addresses, and the size of the
// range host-local hands out from a subnet (so STATUS can tell when it is full).
import { isIPv4, isIPv6 } from 'node:net';
import { CniCode, CniError } from './cni-error.js';

export function isCidr(cidr: string, family: 4 | 6): boolean {
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

export function ipv6ToBigInt(address: string): bigint {
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


/** An IPv4 or IPv6 address as a number. */
export function addressValue(address: string): bigint {
  return address.includes(':') ? ipv6ToBigInt(address) : address.split('.').reduce((acc, octet) => acc * 256n + BigInt(octet), 0n);
}

function bounds(subnet: string): { first: bigint; last: bigint; v6: boolean } {
  const [address = '', length = '0'] = networkOf(subnet).split('/');
  const v6 = address.includes(':');
  const first = addressValue(address);
  return { first, last: first + (1n << BigInt((v6 ? 128 : 32) - Number(length))) - 1n, v6 };
}

export function inSubnet(address: string, subnet: string): boolean {
  if (address.includes(':') !== subnet.includes(':')) return false;
  const { first, last } = bounds(subnet);
  const value = addressValue(address);
  return value >= first && value <= last;
}

/**
 * How many pods host-local can address from `subnet` with its defaults: from the network address
 * + 1 to the last address (IPv4: the one before broadcast), less the gateway (network + 1).
 */
export function hostLocalCapacity(subnet: string): bigint {
  const { first, last, v6 } = bounds(subnet);
  const size = (v6 ? last : last - 1n) - (first + 1n) + 1n;
  return size > 1n ? size - 1n : 0n;
}
