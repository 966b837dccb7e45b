// An IP network of either family ("10.244.1.0/24", "fd00:10:244:1::/64"). The address is always the
// network address (host bits zero): parse() refuses host bits unless asked to mask them, as Go's
// net.ParseCIDR does and flannel relies on for Network and IPv6Network.
import { FAMILIES, IpAddress, maskOf, type IpFamily } from './ip-address.js';

/** What "a.b.c.d/n" or "x::y/n" says: the address as written, and the network it lies in. */
export interface Cidr {
  address: IpAddress;
  prefix: IpPrefix;
}

export class IpPrefix {
  private constructor(
    /** The network address: host bits are always zero. */
    readonly address: IpAddress,
    readonly prefixLength: number,
  ) {}

  /** The network of `prefixLength` bits that holds `address` (host bits masked off). */
  static of(address: IpAddress, prefixLength: number): IpPrefix {
    if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > address.bits) {
      throw new RangeError(`/${prefixLength} is not a prefix length for ${FAMILIES[address.family].label}`);
    }
    const masked = IpAddress.of(address.family, address.value & maskOf(address.bits, prefixLength));
    if (masked === undefined) throw new RangeError('unreachable: a masked address stays in its family');
    return new IpPrefix(masked, prefixLength);
  }

  /** Parses "address/length" like Go's net.ParseCIDR: the written address and its network. */
  static parseCidr(text: string, family?: IpFamily): Cidr | undefined {
    const slash = text.indexOf('/');
    if (slash < 0) return undefined;
    const address = IpAddress.parse(text.slice(0, slash), family);
    const lengthText = text.slice(slash + 1);
    if (address === undefined || !/^\d{1,3}$/.test(lengthText)) return undefined;
    const prefixLength = Number(lengthText);
    if (prefixLength > address.bits) return undefined;
    return { address, prefix: IpPrefix.of(address, prefixLength) };
  }

  /** Parses "address/length"; with `strict` (the default), host bits must be zero. */
  static parse(text: string, options: { family?: IpFamily; strict?: boolean } = {}): IpPrefix | undefined {
    const cidr = IpPrefix.parseCidr(text, options.family);
    if (cidr === undefined) return undefined;
    if ((options.strict ?? true) && !cidr.address.equals(cidr.prefix.address)) return undefined;
    return cidr.prefix;
  }

  get family(): IpFamily {
    return this.address.family;
  }

  /** How many bits of an address are left to the hosts. */
  get hostBits(): number {
    return this.address.bits - this.prefixLength;
  }

  /** How many addresses the network holds. */
  get size(): bigint {
    return 1n << BigInt(this.hostBits);
  }

  /** The netmask as an address (255.255.255.0 for a /24). */
  get mask(): IpAddress {
    return this.addressOf(maskOf(this.address.bits, this.prefixLength));
  }

  /** The last address of the network (the broadcast address for IPv4). */
  get last(): IpAddress {
    return this.addressOf(this.address.value + this.size - 1n);
  }

  /** The `index`-th address of the network (0 is the network address); undefined past its end. */
  host(index: bigint): IpAddress | undefined {
    if (index < 0n || index >= this.size) return undefined;
    return this.address.plus(index);
  }

  contains(address: IpAddress): boolean {
    return address.family === this.family && (address.value & maskOf(address.bits, this.prefixLength)) === this.address.value;
  }

  containsPrefix(other: IpPrefix): boolean {
    return other.prefixLength >= this.prefixLength && this.contains(other.address);
  }

  overlaps(other: IpPrefix): boolean {
    return this.containsPrefix(other) || other.containsPrefix(this);
  }

  equals(other: IpPrefix): boolean {
    return this.prefixLength === other.prefixLength && this.address.equals(other.address);
  }

  /** The network of the same length right after this one; undefined past the end of the address space. */
  next(): IpPrefix | undefined {
    const address = this.address.plus(this.size);
    return address === undefined ? undefined : new IpPrefix(address, this.prefixLength);
  }

  /** Text in JSON too (log fields, API output). */
  toJSON(): string {
    return this.toString();
  }

  toString(): string {
    return `${this.address.toString()}/${this.prefixLength}`;
  }

  private addressOf(value: bigint): IpAddress {
    const address = IpAddress.of(this.family, value);
    if (address === undefined) throw new RangeError('unreachable: an address of the network stays in its family');
    return address;
  }
}
