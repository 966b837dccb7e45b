// host-gw datapath of one address family: no encapsulation. Each peer's subnet of the family is
// routed via the peer's public IP of that family on the external interface, so every node must
// sit on one L2 segment (through a nexthop object of ours per gateway where the kernel has them:
// nexthop-table.ts). Our routes carry our own route protocol number: that is how a pass tells
// them from routes it does not own, which it never touches. Each pass lists them and writes only
// the difference, restoring deleted routes.
import type { Logger } from 'winston';
import { ConfigError } from '../subnet/errors.js';
import { leaseHalf, type Lease } from '../subnet/lease.js';
import { PUBLIC_IP_FLAG, WEFT_ROUTE_PROTOCOL, type ApplyResult, type ExternalInterface, type FamilyAttrs, type FamilyDatapath, type SkippedPeers, type UnderlayAddresses } from './backend.js';
import { planKernelWrites, type DesiredEntries } from './kernel-diff.js';
import type { KernelEvent, RtNetlink } from './rtnetlink.js';
import { isVxlanDeviceName } from './vxlan-backend.js';
import { NexthopTable } from './nexthop-table.js';
import { WantedEntries } from './wanted-entries.js';
import type { IpFamily } from '../subnet/ip-address.js';

export type HostGwNetlink = Pick<RtNetlink, 'listAddresses' | 'listRoutes' | 'listNexthops' | 'writeAll' | 'listLinks' | 'deleteLink'>;

export class HostGwDatapath implements FamilyDatapath {
  readonly podMtu: number;
  private readonly wanted = new WantedEntries();
  private readonly nexthops: NexthopTable;

  constructor(
    readonly family: IpFamily,
    private readonly netlink: HostGwNetlink,
    private readonly external: Pick<ExternalInterface, 'name' | 'index' | 'mtu'>,
    private readonly underlay: UnderlayAddresses,
    private readonly skipped: SkippedPeers,
    private readonly logger: Logger,
    /** Peer routes through nexthop objects (`nhid N`) where the kernel has them; false: each route carries its gateway. */
    useNexthops = true,
  ) {
    this.podMtu = external.mtu;
    this.nexthops = new NexthopTable(family, useNexthops, logger);
  }

  async prepare(): Promise<FamilyAttrs> {
    const own = (await this.netlink.listAddresses(this.family)).filter((a) => a.index === this.external.index);
    if (!own.some((a) => a.ip.equals(this.underlay.publicIp))) {
      throw new ConfigError(
        PUBLIC_IP_FLAG[this.family],
        `host-gw needs the public IP ${this.underlay.publicIp.toString()} to be on ${this.external.name}; drop ${PUBLIC_IP_FLAG[this.family]} or use vxlan`,
      );
    }
    // Switching from vxlan: the old device would keep routes to peers that no longer use it.
    for (const link of await this.netlink.listLinks()) {
      if (link.kind === 'vxlan' && isVxlanDeviceName(this.family, link.name)) {
        this.logger.info(`removing ${link.name}: this node now uses host-gw`);
        await this.netlink.deleteLink(link.index);
      }
    }
    return { publicIp: this.underlay.publicIp, backendData: undefined };
  }

  /** Only a change that leaves our routes other than wanted calls for a pass; our own writes do not. */
  ownsKernelEvent(event: KernelEvent): boolean {
    if (event.kind === 'nexthop') return event.nexthop !== undefined && this.nexthops.needsPass(event.nexthop, event.deleted);
    const route = event.kind === 'route' ? event.route : undefined;
    return route !== undefined && route.dst.family === this.family && route.oif === this.external.index && route.protocol === WEFT_ROUTE_PROTOCOL &&
      (this.wanted.routeNeedsPass(route, event.deleted) || (!event.deleted && this.nexthops.routeNeedsPass(route)));
  }

  configureOwnLease(): Promise<void> {
    return Promise.resolve(); // nothing on the node itself: the bridge holds the gateway address
  }

  async applyPeers(peers: ReadonlyMap<string, Lease>): Promise<ApplyResult> {
    const perPeer = new Map<string, DesiredEntries>();
    for (const [key, lease] of peers) {
      const half = leaseHalf(lease, this.family);
      if (!half) continue; // a peer without this family
      if (lease.backendType !== 'host-gw') {
        this.skipped.warnOnce(lease);
        continue;
      }
      if (!half.publicIp) {
        this.skipped.warnIncomplete(lease, this.family);
        continue;
      }
      const route = { dst: half.subnet, gateway: half.publicIp, oif: this.external.index, onlink: false, protocol: WEFT_ROUTE_PROTOCOL };
      perPeer.set(key, { neighbors: [], fdb: [], routes: [route] });
    }
    const desired = this.wanted.reset(perPeer);
    const [familyRoutes, nexthops] = await Promise.all([
      this.netlink.listRoutes(this.family, this.external.index),
      this.nexthops.dump(() => this.netlink.listNexthops()),
    ]);
    const routes = familyRoutes.filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL);
    const through = this.nexthops.planAll(desired.routes, nexthops);
    const plan = planKernelWrites(this.external.index, { ...desired, routes: through.routes }, { neighbors: [], fdb: [], routes });
    const writes = [...through.before, ...plan.writes, ...through.after];
    const { failed } = await this.netlink.writeAll(writes);
    if (this.nexthops.refusedIn(writes, failed)) return this.applyPeers(peers); // once: the table is off now
    if (failed.length > 0) {
      throw new Error(`${failed.length} of ${writes.length} route writes failed (first: ${failed[0]?.error.message ?? ''})`);
    }
    return { repaired: { route: plan.repaired.route, nexthop: through.before.length }, removed: plan.removed + through.after.length };
  }
}
