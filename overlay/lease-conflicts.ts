// Leases that claim the same public IP or the same VTEP MAC: a node that registered again before
// its old lease expired, or two nodes configured alike. Both stay installed (the backends keep an
// entry two leases share until neither wants it), but an operator must hear of it: each pair is
// logged once, naming both leases (by subnet, which is also their etcd key and node annotation).
import type { Logger } from 'winston';
import { formatIpv4 } from '../subnet/ipv4.js';
import type { Lease } from '../subnet/lease.js';

export class LeaseConflicts {
  /** Claim ("public IP 192.0.2.11") -> subnets of the leases that make it. */
  private readonly byClaim = new Map<string, Set<string>>();
  private readonly claimsBySubnet = new Map<string, string[]>();
  private readonly reported = new Set<string>();

  constructor(private readonly logger: Logger) {}

  /** Replaces everything known (a complete lease list). */
  reset(leases: Iterable<Lease>): void {
    this.byClaim.clear();
    this.claimsBySubnet.clear();
    for (const lease of leases) this.upsert(lease);
  }

  upsert(lease: Lease): void {
    const subnet = lease.subnet.toString();
    this.remove(lease);
    const claims = [`public IP ${formatIpv4(lease.publicIp)}`, ...(lease.backendData ? [`VTEP MAC ${lease.backendData.vtepMac}`] : [])];
    for (const claim of claims) {
      const holders = this.byClaim.get(claim) ?? new Set<string>();
      for (const other of holders) this.report(claim, other, subnet);
      holders.add(subnet);
      this.byClaim.set(claim, holders);
    }
    this.claimsBySubnet.set(subnet, claims);
  }

  remove(lease: Lease): void {
    const subnet = lease.subnet.toString();
    for (const claim of this.claimsBySubnet.get(subnet) ?? []) {
      const holders = this.byClaim.get(claim);
      holders?.delete(subnet);
      if (holders?.size === 0) this.byClaim.delete(claim);
    }
    this.claimsBySubnet.delete(subnet);
  }

  private report(claim: string, ...subnets: [string, string]): void {
    const [a, b] = subnets.sort();
    const pair = `${claim} ${a} ${b}`;
    if (this.reported.has(pair)) return;
    this.reported.add(pair);
    this.logger.warn(`two leases claim the same ${claim}: ${a} and ${b}; both stay installed, and what they share stays until neither holds a lease`, {
      claim, leases: [a, b],
    });
  }
}
