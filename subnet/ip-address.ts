// IP addresses of either family as one type: the family is data (its bit width), not a second copy
// of the code. Values are unsigned bigints, so that arithmetic (masks, next subnet, first host) is
// the same expression for 32 and 128 bits. IPv6 text is parsed with ip-address (IPv4 by a pattern
// that accepts what its Address4 does, without building one: leases are parsed by the thousand)
// and printed in the form Go's net.IP.String() gives (RFC 5952 for IPv6), because flannel writes these strings into etcd
// keys, lease values and subnet.env, and peers compare them as text.
import { Address6 } from 'ip-address';

export type IpFamily = 'ipv4' | 'ipv6';

export interface FamilyTraits {
  readonly bits: number;
  /** For messages: "IPv4" / "IPv6". */
  readonly label: string;
  /** An example network, for the "write it like ..." part of messages. */
  readonly exampleNetwork: string;
}

export const FAMILIES: Readonly<Record<IpFamily, FamilyTraits>> = {
  ipv4: { bits: 32, label: 'IPv4', exampleNetwork: '10.244.0.0/16' },
  ipv6: { bits: 128, label: 'IPv6', exampleNetwork: 'fd00:10:244::/56' },
};

/** The netmask of `prefixLength` leading ones in a `bits`-wide word. */
export function maskOf(bits: number, prefixLength: number): bigint {
  // Made once per width and length: every lease parsed and every containment test needs one.
  const cacheable = Number.isInteger(prefixLength) && prefixLength >= 0 && prefixLength <= bits && bits <= 128;
  const key = bits * 256 + prefixLength;
  let mask = cacheable ? MASKS.get(key) : undefined;
  if (mask === undefined) {
    const all = (1n << BigInt(bits)) - 1n;
    mask = all ^ ((1n << BigInt(bits - prefixLength)) - 1n);
    if (cacheable) MASKS.set(key, mask);
  }
  return mask;
}
const MASKS = new Map<number, bigint>();
/** 2^bits of each family: the first value past its address space. */
const LIMITS: Readonly<Record<IpFamily, bigint>> = { ipv4: 1n << 32n, ipv6: 1n << 128n };

export class IpAddress {
  private constructor(
    readonly family: IpFamily,
    /** Unsigned, below 2^bits. */
    readonly value: bigint,
  ) {}

  /** The address `value` of `family`; undefined when the value does not fit the family. */
  static of(family: IpFamily, value: bigint): IpAddress | undefined {
    if (value < 0n || value >= LIMITS[family]) return undefined;
    return new IpAddress(family, value);
  }

  /**
   * Parses dotted IPv4 ("10.0.0.1") or IPv6 text ("fd00::1", any case). Refused: zones ("%eth0"),
   * prefixes, and IPv4 written inside IPv6 ("::ffff:1.2.3.4"), none of which a lease, a key or a
   * config field holds. With `family`, text of the other family is refused too.
   */
  static parse(text: string, family?: IpFamily): IpAddress | undefined {
    const parsed = text.includes(':') ? parseIpv6Text(text) : parseIpv4Text(text);
    if (parsed === undefined || (family !== undefined && parsed.family !== family)) return undefined;
    return parsed;
  }

  /** From network-order bytes: 4 make an IPv4 address, 16 an IPv6 address. */
  static fromBytes(bytes: ArrayLike<number>): IpAddress | undefined {
    if (bytes.length !== 4 && bytes.length !== 16) return undefined;
    // Number arithmetic per 4 bytes, one bigint per word: bigint steps per byte showed in profiles
    // (every kernel entry listed is parsed through here).
    let value = 0n;
    for (let word = 0; word < bytes.length; word += 4) {
      let w = 0;
      for (let i = word; i < word + 4; i++) {
        const byte = bytes[i] ?? -1;
        if (!Number.isInteger(byte) || byte < 0 || byte > 255) return undefined;
        w = w * 256 + byte;
      }
      value = bytes.length === 4 ? BigInt(w) : (value << 32n) | BigInt(w);
    }
    return new IpAddress(bytes.length === 4 ? 'ipv4' : 'ipv6', value);
  }

  get bits(): number {
    return FAMILIES[this.family].bits;
  }

  /** Network-order bytes (4 or 16), as netlink takes them. */
  toBytes(): number[] {
    if (this.family === 'ipv4') return ipv4Octets(Number(this.value));
    const bytes: number[] = [];
    for (let shift = 96n; shift >= 0n; shift -= 32n) bytes.push(...ipv4Octets(Number((this.value >> shift) & 0xffffffffn)));
    return bytes;
  }

  /** This address moved by `delta`; undefined when that leaves the family's address space. */
  plus(delta: bigint): IpAddress | undefined {
    return IpAddress.of(this.family, this.value + delta);
  }

  /** Orders IPv4 before IPv6, then by value. */
  compare(other: IpAddress): number {
    if (this.family !== other.family) return this.family === 'ipv4' ? -1 : 1;
    return this.value < other.value ? -1 : this.value > other.value ? 1 : 0;
  }

  equals(other: IpAddress): boolean {
    return this.family === other.family && this.value === other.value;
  }

  /** Whether two optional addresses are both absent or the same (addresses are values: never compare with ===). */
  static same(a: IpAddress | undefined, b: IpAddress | undefined): boolean {
    return a === undefined || b === undefined ? a === b : a.equals(b);
  }

  /** 0.0.0.0 or :: (flannel writes PublicIP "0.0.0.0" for a node without IPv4). */
  isUnspecified(): boolean {
    return this.value === 0n;
  }

  /** 169.254.0.0/16 or fe80::/10: an address the kernel gives itself, never one weft manages. */
  isLinkLocal(): boolean {
    return this.family === 'ipv4' ? this.value >> 16n === 0xa9fen : this.value >> 118n === 0x3fan;
  }

  /** Text in JSON too (log fields, API output): JSON.stringify cannot write a bigint. */
  toJSON(): string {
    return this.toString();
  }

  toString(): string {
    if (this.family === 'ipv4') {
      const v = Number(this.value);
      return `${Math.floor(v / 0x1000000)}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
    }
    return formatIpv6(this.value);
  }
}

/**
 * RFC 5952 text, as ip-address's correctForm() and Go print it: lower-case hextets without leading
 * zeros, the longest run of two or more zero hextets (the first of equal runs) written as "::".
 * By hand because going through Address6 cost ~20 µs an address, and a pass over 5000 dual-stack
 * peers prints tens of thousands of them (a unit test compares both on many values).
 */
function formatIpv6(value: bigint): string {
  const hex = value.toString(16).padStart(32, '0');
  const hextets: number[] = [];
  for (let i = 0; i < 32; i += 4) hextets.push(parseInt(hex.slice(i, i + 4), 16));
  let runStart = -1;
  let runLength = 0;
  for (let i = 0; i < 8; ) {
    if (hextets[i] !== 0) {
      i += 1;
      continue;
    }
    let j = i;
    while (j < 8 && hextets[j] === 0) j += 1;
    if (j - i > runLength) [runStart, runLength] = [i, j - i];
    i = j;
  }
  const text = (part: number[]): string => part.map((h) => h.toString(16)).join(':');
  if (runLength < 2) return text(hextets);
  return `${text(hextets.slice(0, runStart))}::${text(hextets.slice(runStart + runLength))}`;
}

/** Four octets of a 32-bit word, most significant first. */
function ipv4Octets(word: number): number[] {
  return [Math.floor(word / 0x1000000), (word >>> 16) & 255, (word >>> 8) & 255, word & 255];
}

/** Dotted decimal as ip-address's Address4 accepts it (no leading zeros, octets up to 255), without building one. */
const IPV4_TEXT = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;

function parseIpv4Text(text: string): IpAddress | undefined {
  const octets = IPV4_TEXT.exec(text);
  if (!octets) return undefined;
  let value = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(octets[i]);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return IpAddress.of('ipv4', BigInt(value));
}

function parseIpv6Text(text: string): IpAddress | undefined {
  if (!/^[0-9a-fA-F:]{2,39}$/.test(text) || !Address6.isValid(text)) return undefined;
  return IpAddress.of('ipv6', new Address6(text).bigInt());
}
