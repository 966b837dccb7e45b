// IPv4 addresses and networks as plain numbers, parsed once at the edges.
// Being replaced by the family-generic types of net/ (IpAddress, IpPrefix); fromPrefix/toPrefix
// bridge the two while the importers move over one by one.
import { Address4 } from 'ip-address';
import { IpAddress } from './ip-address.js';
import { IpPrefix } from './ip-prefix.js';

export type Ipv4 = number; // unsigned 32-bit, host order

export function parseIpv4(text: string): Ipv4 | undefined {
  if (!/^\d{1,3}(\.\d{1,3}){3}$/.test(text) || !Address4.isValid(text)) return undefined;
  const parts = text.split('.').map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return (((parts[0] ?? 0) << 24) | ((parts[1] ?? 0) << 16) | ((parts[2] ?? 0) << 8) | (parts[3] ?? 0)) >>> 0;
}

export function formatIpv4(ip: Ipv4): string {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255].join('.');
}

export function ipv4ToBytes(ip: Ipv4): number[] {
  return [ip >>> 24, (ip >>> 16) & 255, (ip >>> 8) & 255, ip & 255];
}

export function ipv4FromBytes(bytes: ArrayLike<number>): Ipv4 {
  return (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
}

/** An IPv4 network: the address is always the network address (host bits zero). */
export class Ipv4Net {
  private constructor(
    readonly ip: Ipv4,
    readonly prefixLength: number,
  ) {}

  static of(ip: Ipv4, prefixLength: number): Ipv4Net {
    return new Ipv4Net((ip & maskOf(prefixLength)) >>> 0, prefixLength);
  }

  /** The IPv4 network `prefix` names; an IPv6 prefix has none. */
  static fromPrefix(prefix: IpPrefix): Ipv4Net {
    return Ipv4Net.of(prefix.address.toIpv4Number(), prefix.prefixLength);
  }

  /** Parses "a.b.c.d/n"; with `strict`, host bits must be zero. */
  static parse(text: string, strict = true): Ipv4Net | undefined {
    const slash = text.indexOf('/');
    if (slash < 0) return undefined;
    const ip = parseIpv4(text.slice(0, slash));
    const lenText = text.slice(slash + 1);
    if (ip === undefined || !/^\d{1,2}$/.test(lenText)) return undefined;
    const len = Number(lenText);
    if (len > 32) return undefined;
    const net = Ipv4Net.of(ip, len);
    if (strict && net.ip !== ip) return undefined;
    return net;
  }

  get size(): number {
    return 2 ** (32 - this.prefixLength);
  }

  get last(): Ipv4 {
    return (this.ip + this.size - 1) >>> 0;
  }

  contains(ip: Ipv4): boolean {
    return ((ip & maskOf(this.prefixLength)) >>> 0) === this.ip;
  }

  containsNet(other: Ipv4Net): boolean {
    return other.prefixLength >= this.prefixLength && this.contains(other.ip);
  }

  overlaps(other: Ipv4Net): boolean {
    return this.containsNet(other) || other.containsNet(this);
  }

  equals(other: Ipv4Net): boolean {
    return this.ip === other.ip && this.prefixLength === other.prefixLength;
  }

  toString(): string {
    return `${formatIpv4(this.ip)}/${this.prefixLength}`;
  }

  toPrefix(): IpPrefix {
    return IpPrefix.of(IpAddress.fromIpv4Number(this.ip), this.prefixLength);
  }
}

function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}
