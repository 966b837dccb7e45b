// host-gw backend: no encapsulation. Each peer's subnet is routed via the peer's public IP on the
// external interface, so every node must sit on one L2 segment. Our routes carry our own route
// protocol number: that is how a pass tells them from routes it does not own, which it never
// touches. Each pass lists them and writes only the difference, restoring deleted routes.
import type { Logger } from 'winston';
import { ConfigError } from '../subnet/errors.js';
import { leaseHalf, type Lease, type LeaseAttrs } from '../subnet/lease.js';
import { SkippedPeers, type ApplyResult, type Backend, type ExternalInterface } from './backend.js';
import { planKernelWrites, type DesiredEntries } from './kernel-diff.js';
import type { KernelEvent, RtNetlink } from './rtnetlink.js';
import { WEFT_ROUTE_PROTOCOL } from './vxlan-backend.js';
import { WantedEntries } from './wanted-entries.js';

export type HostGwNetlink = Pick<RtNetlink, 'listIpv4Addresses' | 'listRoutes' | 'writeAll' | 'listLinks' | 'deleteLink'>;

export class HostGwBackend implements Backend {
  readonly type = 'host-gw';
  readonly podMtu: number;
  private readonly wanted = new WantedEntries();
  private readonly skipped: SkippedPeers;

  constructor(
    private readonly netlink: HostGwNetlink,
    private readonly external: ExternalInterface,
    private readonly logger: Logger,
  ) {
    this.podMtu = external.mtu;
    this.skipped = new SkippedPeers('host-gw', logger);
  }

  async prepare(): Promise<LeaseAttrs> {
    const own = (await this.netlink.listIpv4Addresses()).filter((a) => a.index === this.external.index);
    if (!own.some((a) => a.ip.equals(this.external.publicIp))) {
      throw new ConfigError(
        '--public-ip',
        `host-gw needs the public IP ${this.external.publicIp.toString()} to be on ${this.external.name}; drop --public-ip or use vxlan`,
      );
    }
    // Switching from vxlan: the old device would keep routes to peers that no longer use it.
    for (const link of await this.netlink.listLinks()) {
      if (link.kind === 'vxlan' && /^flannel\.\d+$/.test(link.name)) {
        this.logger.info(`removing ${link.name}: this node now uses host-gw`);
        await this.netlink.deleteLink(link.index);
      }
    }
    return { publicIp: this.external.publicIp, backendType: 'host-gw' };
  }

  /** Only a change that leaves our routes other than wanted calls for a pass; our own writes do not. */
  ownsKernelEvent(event: KernelEvent): boolean {
    const route = event.kind === 'route' ? event.route : undefined;
    return route !== undefined && route.oif === this.external.index && route.protocol === WEFT_ROUTE_PROTOCOL &&
      this.wanted.routeNeedsPass(route, event.deleted);
  }

  configureOwnLease(): Promise<void> {
    return Promise.resolve(); // nothing on the node itself: the bridge holds the gateway address
  }

  async applyPeers(peers: ReadonlyMap<string, Lease>): Promise<ApplyResult> {
    const perPeer = new Map<string, DesiredEntries>();
    for (const [key, lease] of peers) {
      if (lease.backendType !== 'host-gw') {
        this.skipped.warnOnce(lease);
        continue;
      }
      const half = leaseHalf(lease, 'ipv4');
      if (half?.publicIp === undefined) continue; // an IPv6-only peer: no IPv4 route to it
      const route = { dst: half.subnet, gateway: half.publicIp, oif: this.external.index, onlink: false, protocol: WEFT_ROUTE_PROTOCOL };
      perPeer.set(key, { neighbors: [], fdb: [], routes: [route] });
    }
    const desired = this.wanted.reset(perPeer);
    const routes = (await this.netlink.listRoutes(this.external.index)).filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL);
    const plan = planKernelWrites(this.external.index, desired, { neighbors: [], fdb: [], routes });
    const { failed } = await this.netlink.writeAll(plan.writes);
    if (failed.length > 0) {
      throw new Error(`${failed.length} of ${plan.writes.length} route writes failed (first: ${failed[0]?.error.message ?? ''})`);
    }
    return { repaired: { route: plan.repaired.route }, removed: plan.removed };
  }
}
