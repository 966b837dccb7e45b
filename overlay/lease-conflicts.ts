// Leases that claim the same public IP (of either family) or the same VTEP MAC: a node that registered again before
// its old lease expired, or two nodes configured alike. Both stay installed (the backends keep an
// entry two leases share until neither wants it), but an operator must hear of it: each pair is
// logged once, naming both leases (by leaseKey: their IPv4 subnet, else their IPv6 subnet).
// Kept compact, as it holds every peer: a claim's holder is one subnet string (a list only while
// two leases share the claim), and each subnet keeps a reference to its lease, not copies.
import type { Logger } from 'winston';
import { leaseKey, type Lease } from '../subnet/lease.js';

/** The subnet holding a claim, or the subnets of leases that share it. */
type Holders = string | string[];

export class LeaseConflicts {
  /** By the address's value, one map per family: a value is no heavier than the address it belongs to. */
  private readonly byPublicIp = new Map<bigint, Holders>();
  private readonly byPublicIpv6 = new Map<bigint, Holders>();
  private readonly byVtepMac = new Map<string, Holders>();
  /** Each subnet's lease as last seen: what it claimed, to withdraw when it changes or goes. */
  private readonly leases = new Map<string, Lease>();
  private readonly reported = new Set<string>();

  constructor(private readonly logger: Logger) {}

  /** Replaces everything known (a complete lease list). */
  reset(leases: Iterable<Lease>): void {
    this.byPublicIp.clear();
    this.byPublicIpv6.clear();
    this.byVtepMac.clear();
    this.leases.clear();
    for (const lease of leases) this.upsert(lease);
  }

  upsert(lease: Lease): void {
    const subnet = leaseKey(lease);
    this.remove(lease);
    const { publicIp, publicIpv6 } = lease;
    if (publicIp) this.claim(this.byPublicIp, publicIp.value, subnet, () => `public IP ${publicIp.toString()}`);
    if (publicIpv6) this.claim(this.byPublicIpv6, publicIpv6.value, subnet, () => `public IP ${publicIpv6.toString()}`);
    for (const mac of vtepMacs(lease)) this.claim(this.byVtepMac, mac, subnet, () => `VTEP MAC ${mac}`);
    this.leases.set(subnet, lease);
  }

  remove(lease: Lease): void {
    const subnet = leaseKey(lease);
    const known = this.leases.get(subnet);
    if (!known) return;
    if (known.publicIp) release(this.byPublicIp, known.publicIp.value, subnet);
    if (known.publicIpv6) release(this.byPublicIpv6, known.publicIpv6.value, subnet);
    for (const mac of vtepMacs(known)) release(this.byVtepMac, mac, subnet);
    this.leases.delete(subnet);
  }

  private claim<K>(holdersByClaim: Map<K, Holders>, key: K, subnet: string, describe: () => string): void {
    const holders = holdersByClaim.get(key);
    if (holders === undefined) {
      holdersByClaim.set(key, subnet);
      return;
    }
    const others = typeof holders === 'string' ? [holders] : holders;
    for (const other of others) this.report(describe(), other, subnet);
    holdersByClaim.set(key, [...others, subnet]);
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

/** The MACs of a lease's VXLAN devices (flannel.N and flannel-v6.N), each once. */
function vtepMacs(lease: Lease): string[] {
  const [v4, v6] = [lease.backendData?.vtepMac, lease.backendV6Data?.vtepMac];
  return [v4, v6 !== v4 ? v6 : undefined].filter((mac): mac is string => mac !== undefined);
}

function release<K>(holdersByClaim: Map<K, Holders>, key: K, subnet: string): void {
  const holders = holdersByClaim.get(key);
  if (holders === undefined || holders === subnet) {
    holdersByClaim.delete(key);
    return;
  }
  if (typeof holders === 'string') return;
  const rest = holders.filter((h) => h !== subnet);
  if (rest.length === 0) holdersByClaim.delete(key);
  else holdersByClaim.set(key, rest.length === 1 ? (rest[0] as string) : rest);
}
