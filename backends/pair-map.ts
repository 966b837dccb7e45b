// A map keyed by a small number and an address value (a prefix length and a network address; a
// device and a gateway), without building a key string per entry: the tables that hold one entry
// per peer kept a string like "10.244.3.0/24" or "10 10.244.3.0 onlink" each (60-170 bytes a peer at
// 10 000 peers), where the bigint they are made of is already held by the entry's address.
import type { IpPrefix } from '../subnet/ip-prefix.js';

export class PairMap<V> {
  private readonly maps = new Map<number, Map<bigint, V>>();

  get(outer: number, inner: bigint): V | undefined {
    return this.maps.get(outer)?.get(inner);
  }

  set(outer: number, inner: bigint, value: V): void {
    let map = this.maps.get(outer);
    if (!map) this.maps.set(outer, (map = new Map<bigint, V>()));
    map.set(inner, value);
  }

  /** Whether the key was there. */
  delete(outer: number, inner: bigint): boolean {
    const map = this.maps.get(outer);
    if (!map?.delete(inner)) return false;
    if (map.size === 0) this.maps.delete(outer);
    return true;
  }

  clear(): void {
    this.maps.clear();
  }

  *values(): IterableIterator<V> {
    for (const map of this.maps.values()) yield* map.values();
  }
}

/** By network (prefix length and address), as routes are. */
export class PrefixMap<V> {
  private readonly pairs = new PairMap<V>();

  get(prefix: IpPrefix): V | undefined {
    return this.pairs.get(prefix.prefixLength, prefix.address.value);
  }

  has(prefix: IpPrefix): boolean {
    return this.get(prefix) !== undefined;
  }

  set(prefix: IpPrefix, value: V): void {
    this.pairs.set(prefix.prefixLength, prefix.address.value, value);
  }

  delete(prefix: IpPrefix): boolean {
    return this.pairs.delete(prefix.prefixLength, prefix.address.value);
  }

  clear(): void {
    this.pairs.clear();
  }

  values(): IterableIterator<V> {
    return this.pairs.values();
  }
}
