// Address ranges: what an ipBlock (CIDR minus its excepts) and a set of pod IPs both become, so a
// rule's peers are one sorted, merged list per family that nftables takes as an interval set.
import { Address4, Address6 } from 'ip-address';

export type Family = 4 | 6;

export interface AddressRange {
  family: Family;
  first: bigint;
  last: bigint;
}

/** Thrown for a CIDR or address that does not parse; the caller names the policy and field. */
export class AddressError extends Error {}

/** A CIDR ("10.0.0.0/8", "fd00::/64") or a single address as an inclusive range. */
export function parseRange(text: string): AddressRange {
  const value = text.trim();
  const family: Family = value.includes(':') ? 6 : 4;
  try {
    // Host bits are ignored, as Go's net.ParseCIDR (the API server's validation) ignores them.
    const address = family === 4 ? new Address4(value) : new Address6(value);
    return { family, first: address.startAddress().bigInt(), last: address.endAddress().bigInt() };
  } catch {
    throw new AddressError(`"${text}" is not an IPv4 or IPv6 address or CIDR`);
  }
}

/** A single address as a range of one. */
export function addressRange(ip: string): AddressRange {
  const range = parseRange(ip);
  if (range.first !== range.last) throw new AddressError(`"${ip}" is a network, not an address`);
  return range;
}

/** `ranges` minus every range in `holes` (same family only). */
export function subtract(ranges: readonly AddressRange[], holes: readonly AddressRange[]): AddressRange[] {
  let out = [...ranges];
  for (const hole of holes) {
    out = out.flatMap((r) => {
      if (r.family !== hole.family || hole.last < r.first || hole.first > r.last) return [r];
      const pieces: AddressRange[] = [];
      if (hole.first > r.first) pieces.push({ family: r.family, first: r.first, last: hole.first - 1n });
      if (hole.last < r.last) pieces.push({ family: r.family, first: hole.last + 1n, last: r.last });
      return pieces;
    });
  }
  return out;
}

/** Sorted by family then start, overlapping and adjacent ranges joined: nftables refuses overlaps. */
export function mergeRanges(ranges: readonly AddressRange[]): AddressRange[] {
  const sorted = [...ranges].sort((a, b) => a.family - b.family || (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  const out: AddressRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && last.family === r.family && r.first <= last.last + 1n) {
      if (r.last > last.last) last.last = r.last;
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

export function contains(ranges: readonly AddressRange[], address: AddressRange): boolean {
  return ranges.some((r) => r.family === address.family && r.first <= address.first && address.last <= r.last);
}

export function formatAddress(family: Family, value: bigint): string {
  return family === 4 ? Address4.fromBigInt(value).correctForm() : Address6.fromBigInt(value).correctForm();
}

/** "10.0.0.1" for a single address, "10.0.0.0-10.0.0.127" otherwise (nftables' interval syntax). */
export function formatRange(range: AddressRange): string {
  const first = formatAddress(range.family, range.first);
  return range.first === range.last ? first : `${first}-${formatAddress(range.family, range.last)}`;
}
