// host-gw backend: no encapsulation. Each peer's subnet is routed via the peer's public IP on the
// external interface, so every node must sit on one L2 segment. Our routes carry our own route
// protocol number: that is how a pass tells them from routes it does not own, which it never
// touches. Each pass lists them and writes only the difference, restoring deleted routes.
import type { Logger } from 'winston';
import { ConfigError } from '../subnet/errors.js';
import { formatIpv4 } from '../subnet/ipv4.js';
import type { Lease, LeaseAttrs } from '../subnet/lease.js';
import type { ApplyResult, Backend, ExternalInterface } from './backend.js';
import { planKernelWrites, type DesiredEntries } from './kernel-diff.js';
import type { KernelEvent, RtNetlink } from './rtnetlink.js';
import { WEFT_ROUTE_PROTOCOL } from './vxlan-backend.js';

export type HostGwNetlink = Pick<RtNetlink, 'listIpv4Addresses' | 'listRoutes' | 'writeAll' | 'listLinks' | 'deleteLink'>;

export class HostGwBackend implements Backend {
  readonly type = 'host-gw';
  readonly podMtu: number;
  /** Peers of another backend already warned about, so each is reported once, not every pass. */
  private readonly ignoredPeers = new Set<string>();

  constructor(
    private readonly netlink: HostGwNetlink,
    private readonly external: ExternalInterface,
    private readonly logger: Logger,
  ) {
    this.podMtu = external.mtu;
  }

  async prepare(): Promise<LeaseAttrs> {
    const own = (await this.netlink.listIpv4Addresses()).filter((a) => a.index === this.external.index);
    if (!own.some((a) => a.ip === this.external.publicIp)) {
      throw new ConfigError(
        '--public-ip',
        `host-gw needs the public IP ${formatIpv4(this.external.publicIp)} to be on ${this.external.name}; drop --public-ip or use vxlan`,
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

  ownsKernelEvent(event: KernelEvent): boolean {
    return event.kind === 'route' && event.ifindex === this.external.index;
  }

  configureOwnLease(): Promise<void> {
    return Promise.resolve(); // nothing on the node itself: the bridge holds the gateway address
  }

  async applyPeers(peers: ReadonlyMap<string, Lease>): Promise<ApplyResult> {
    const desired: DesiredEntries = { neighbors: [], fdb: [], routes: [] };
    for (const lease of peers.values()) {
      if (lease.backendType !== 'host-gw') {
        const key = `${lease.subnet.toString()} ${lease.backendType}`;
        if (!this.ignoredPeers.has(key)) {
          this.ignoredPeers.add(key);
          this.logger.warn('ignoring a peer of another backend type', { subnet: lease.subnet.toString(), backendType: lease.backendType });
        }
        continue;
      }
      desired.routes.push({ dst: lease.subnet, gateway: lease.publicIp, oif: this.external.index, onlink: false, protocol: WEFT_ROUTE_PROTOCOL });
    }
    const routes = (await this.netlink.listRoutes(this.external.index)).filter((r) => r.protocol === WEFT_ROUTE_PROTOCOL);
    const plan = planKernelWrites(this.external.index, desired, { neighbors: [], fdb: [], routes });
    const { failed } = await this.netlink.writeAll(plan.writes);
    if (failed.length > 0) {
      throw new Error(`${failed.length} of ${plan.writes.length} route writes failed (first: ${failed[0]?.error.message ?? ''})`);
    }
    return { repaired: { route: plan.repaired.route }, removed: plan.removed };
  }
}
