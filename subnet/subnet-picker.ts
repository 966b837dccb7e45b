// Choosing a subnet for this node, as flannel does: the candidates are the subnets of SubnetLen from
// SubnetMin to SubnetMax that no existing key (lease or reservation, whatever its size) overlaps; up
// to 100 of them are collected in order and one is chosen at random, so that nodes starting together
// rarely race for the same one.
import { Ipv4Net } from './ipv4.js';
import type { SubnetPool } from './lease.js';

export const MAX_CANDIDATES = 100;

/** A subnet this pool could hand out: inside SubnetMin..SubnetMax and of length SubnetLen. */
export function fitsPool(pool: SubnetPool, subnet: Ipv4Net): boolean {
  return (
    subnet.prefixLength === pool.subnetLen &&
    pool.network.containsNet(subnet) &&
    subnet.ip >= pool.subnetMin &&
    subnet.ip <= pool.subnetMax
  );
}

/** Whether any taken subnet overlaps `subnet`. */
export function isTaken(subnet: Ipv4Net, taken: readonly Ipv4Net[]): boolean {
  return taken.some((t) => t.overlaps(subnet));
}

/** Up to `limit` free subnets of the pool, lowest first. Linear in the pool size, not in `taken`. */
export function freeSubnets(pool: SubnetPool, taken: readonly Ipv4Net[], limit = MAX_CANDIDATES): Ipv4Net[] {
  const sameSize = new Set<number>();
  const otherSizes: Ipv4Net[] = [];
  for (const t of taken) {
    if (t.prefixLength === pool.subnetLen) sameSize.add(t.ip);
    else otherSizes.push(t);
  }
  const step = 2 ** (32 - pool.subnetLen);
  const free: Ipv4Net[] = [];
  for (let ip = pool.subnetMin; ip <= pool.subnetMax && free.length < limit; ip += step) {
    if (sameSize.has(ip)) continue;
    const candidate = Ipv4Net.of(ip, pool.subnetLen);
    if (candidate.ip !== ip) continue; // SubnetMin not aligned: skip to aligned ones only
    if (otherSizes.some((t) => t.overlaps(candidate))) continue;
    free.push(candidate);
  }
  return free;
}

/** One free subnet chosen at random among the first `limit`, or undefined when none is left. */
export function pickFreeSubnet(
  pool: SubnetPool,
  taken: readonly Ipv4Net[],
  random: () => number = Math.random,
  limit = MAX_CANDIDATES,
): Ipv4Net | undefined {
  const free = freeSubnets(pool, taken, limit);
  if (free.length === 0) return undefined;
  return free[Math.min(free.length - 1, Math.floor(random() * free.length))];
}
