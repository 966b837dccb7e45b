// Whether a new network config would strand existing leases: a lease half whose subnet lies outside
// its family's new network, whose prefix length differs from the new subnet length, or whose family
// the new config no longer enables, no longer fits any node's pool, so its node would take another
// subnet at its next start and its pods would be renumbered (or lose that family).
import type { SubnetPool } from '../subnet/lease.js';
import type { IpPrefix } from '../subnet/ip-prefix.js';
import { FAMILIES, type IpFamily } from '../subnet/ip-address.js';

export interface OrphanedLease {
  subnet: IpPrefix;
  reason: string;
}

const FIELDS: Record<IpFamily, { network: string; subnetLen: string; enable: string }> = {
  ipv4: { network: 'Network', subnetLen: 'SubnetLen', enable: 'EnableIPv4' },
  ipv6: { network: 'IPv6Network', subnetLen: 'IPv6SubnetLen', enable: 'EnableIPv6' },
};

/** `pools`: the new config's pool per family it enables; `subnets`: every lease half of either family. */
export function findOrphanedLeases(
  pools: Partial<Record<IpFamily, Pick<SubnetPool, 'network' | 'subnetLen'> | undefined>>,
  subnets: readonly IpPrefix[],
): OrphanedLease[] {
  const orphans: OrphanedLease[] = [];
  for (const subnet of subnets) {
    const pool = pools[subnet.family];
    const fields = FIELDS[subnet.family];
    if (!pool) {
      orphans.push({ subnet, reason: `${FAMILIES[subnet.family].label} is no longer enabled (${fields.enable})` });
    } else if (!pool.network.containsPrefix(subnet)) {
      orphans.push({ subnet, reason: `outside ${fields.network} ${pool.network.toString()}` });
    } else if (subnet.prefixLength !== pool.subnetLen) {
      orphans.push({ subnet, reason: `prefix /${subnet.prefixLength} differs from ${fields.subnetLen} ${pool.subnetLen}` });
    }
  }
  return orphans;
}
