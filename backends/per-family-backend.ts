// A backend is one datapath per address family the network runs (IPv4, IPv6, or both), each with
// its own device or routes, driven as one: the lease carries each family's half (PublicIP +
// BackendData, PublicIPv6 + BackendV6Data), kernel passes run family after family, and pods get the
// smallest MTU of the families so that neither family's packets outgrow its tunnel.
import type { ApplyResult, Backend, FamilyDatapath } from './backend.js';
import { leaseHalf, type Lease, type LeaseAttrs } from '../subnet/lease.js';
import type { KernelEvent } from './rtnetlink.js';

export class PerFamilyBackend implements Backend {
  readonly podMtu: number;
  readonly applyChanges?: (upserts: readonly Lease[], removals: readonly Lease[]) => Promise<ApplyResult>;

  constructor(
    readonly type: string,
    private readonly datapaths: readonly FamilyDatapath[],
  ) {
    if (datapaths.length === 0) throw new RangeError('a backend runs at least one address family');
    this.podMtu = Math.min(...datapaths.map((d) => d.podMtu));
    if (datapaths.every((d) => d.applyChanges !== undefined)) {
      this.applyChanges = (upserts, removals) => this.eachFamily((d) => d.applyChanges?.(upserts, removals));
    }
  }

  async prepare(): Promise<LeaseAttrs> {
    const attrs: LeaseAttrs = { backendType: this.type }; // no publicIp without IPv4: the codec writes flannel's "0.0.0.0"
    for (const datapath of this.datapaths) {
      const { publicIp, backendData } = await datapath.prepare();
      if (datapath.family === 'ipv4') Object.assign(attrs, { publicIp, backendData });
      else Object.assign(attrs, { publicIpv6: publicIp, backendV6Data: backendData });
    }
    return attrs;
  }

  async configureOwnLease(lease: Lease): Promise<void> {
    for (const datapath of this.datapaths) {
      const half = leaseHalf(lease, datapath.family);
      if (!half) throw new Error(`the own lease has no ${datapath.family} subnet, which the network config enables`);
      await datapath.configureOwnLease(half);
    }
  }

  applyPeers(peers: ReadonlyMap<string, Lease>): Promise<ApplyResult> {
    return this.eachFamily((d) => d.applyPeers(peers));
  }

  ownsKernelEvent(event: KernelEvent): boolean {
    return this.datapaths.some((d) => d.ownsKernelEvent(event));
  }

  /** Runs `step` for each family in turn (one netlink socket serves them all) and adds up what they did. */
  private async eachFamily(step: (datapath: FamilyDatapath) => Promise<ApplyResult> | undefined): Promise<ApplyResult> {
    const total: ApplyResult = { repaired: {}, removed: 0 };
    for (const datapath of this.datapaths) {
      const result = await step(datapath);
      if (!result) continue;
      for (const [kind, count] of Object.entries(result.repaired)) total.repaired[kind] = (total.repaired[kind] ?? 0) + count;
      total.removed += result.removed;
    }
    return total;
  }
}
