// Choosing a subnet for this node, as flannel does: the candidates are the subnets of SubnetLen from
// SubnetMin to SubnetMax that no existing key (lease or reservation, whatever its size) overlaps; up
// to 100 of them are collected in order and one is chosen at random, so that nodes starting together
// rarely race for the same one.
import type { SubnetPool } from './lease.js';
import type { IpAddress } from './ip-address.js';
import { IpPrefix } from './ip-prefix.js';

export const MAX_CANDIDATES = 100;

/** A subnet this pool could hand out: inside SubnetMin..SubnetMax and of length SubnetLen. */
export function fitsPool(pool: SubnetPool, subnet: IpPrefix): boolean {
  return (
    subnet.prefixLength === pool.subnetLen &&
    pool.network.containsPrefix(subnet) &&
    subnet.address.compare(pool.subnetMin) >= 0 &&
    subnet.address.compare(pool.subnetMax) <= 0
  );
}

/** Whether any taken subnet overlaps `subnet`. */
export function isTaken(subnet: IpPrefix, taken: readonly IpPrefix[]): boolean {
  return taken.some((t) => t.overlaps(subnet));
}

/** Up to `limit` free subnets of the pool, lowest first. Linear in the pool size, not in `taken`. */
export function freeSubnets(pool: SubnetPool, taken: readonly IpPrefix[], limit = MAX_CANDIDATES): IpPrefix[] {
  const sameSize = new Set<bigint>();
  const otherSizes: IpPrefix[] = [];
  for (const t of taken) {
    if (t.prefixLength === pool.subnetLen && t.family === pool.network.family) sameSize.add(t.address.value);
    else otherSizes.push(t);
  }
  const step = 1n << BigInt(pool.network.address.bits - pool.subnetLen);
  const free: IpPrefix[] = [];
  for (let ip: IpAddress | undefined = pool.subnetMin; ip !== undefined && ip.compare(pool.subnetMax) <= 0 && free.length < limit; ip = ip.plus(step)) {
    if (sameSize.has(ip.value)) continue;
    const candidate = IpPrefix.of(ip, pool.subnetLen);
    if (!candidate.address.equals(ip)) continue; // SubnetMin not aligned: skip to aligned ones only
    if (otherSizes.some((t) => t.overlaps(candidate))) continue;
    free.push(candidate);
  }
  return free;
}

/** One free subnet chosen at random among the first `limit`, or undefined when none is left. */
export function pickFreeSubnet(
  pool: SubnetPool,
  taken: readonly IpPrefix[],
  random: () => number = Math.random,
  limit = MAX_CANDIDATES,
): IpPrefix | undefined {
  const free = freeSubnets(pool, taken, limit);
  if (free.length === 0) return undefined;
  return free[Math.min(free.length - 1, Math.floor(random() * free.length))];
}
