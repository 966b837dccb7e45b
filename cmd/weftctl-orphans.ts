// Whether a new network config would strand existing leases: a lease whose subnet lies outside the new
// Network, or whose prefix length differs from the new SubnetLen, no longer fits any node's pool, so
// its node would take another subnet at its next start and its pods would be renumbered.
import type { SubnetPool } from '../subnet/lease.js';
import type { IpPrefix } from '../subnet/ip-prefix.js';

export interface OrphanedLease {
  subnet: IpPrefix;
  reason: string;
}

export function findOrphanedLeases(pool: Pick<SubnetPool, 'network' | 'subnetLen'>, subnets: readonly IpPrefix[]): OrphanedLease[] {
  const orphans: OrphanedLease[] = [];
  for (const subnet of subnets) {
    if (!pool.network.containsPrefix(subnet)) {
      orphans.push({ subnet, reason: `outside Network ${pool.network.toString()}` });
    } else if (subnet.prefixLength !== pool.subnetLen) {
      orphans.push({ subnet, reason: `prefix /${subnet.prefixLength} differs from SubnetLen ${pool.subnetLen}` });
    }
  }
  return orphans;
}
