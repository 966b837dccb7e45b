// The seam between the reconcile loop and a datapath (vxlan, host-gw).
import type { Logger } from 'winston';
import { leaseKey, type Lease, type LeaseAttrs } from '../subnet/lease.js';
import type { KernelEvent } from './rtnetlink.js';
import type { IpAddress } from '../subnet/ip-address.js';

/** The underlay interface the overlay runs on, chosen by --iface / --iface-regex / default route. */
export interface ExternalInterface {
  name: string;
  index: number;
  /** The interface's own IPv4 address (the VXLAN local address). */
  ifaceIp: IpAddress;
  /** The address published to peers (--public-ip, else ifaceIp). */
  publicIp: IpAddress;
  mtu: number;
}

export interface ApplyResult {
  /** Kernel entries written because they were missing or wrong (neighbour, fdb, route, link). */
  repaired: Record<string, number>;
  /** Stale entries removed. */
  removed: number;
}

export interface Backend {
  readonly type: string;
  /** Creates or adopts the datapath device; returns what to publish in the lease. */
  prepare(signal: AbortSignal): Promise<LeaseAttrs>;
  /** Configures the device for our own lease (address, MTU). Idempotent. */
  configureOwnLease(lease: Lease): Promise<void>;
  /** The MTU pods should use (written to subnet.env). */
  readonly podMtu: number;
  /**
   * Converges the kernel onto exactly these peers (keyed by subnet string). Idempotent. The map is
   * the loop's live peer map, not a copy: read it in one synchronous step, never across an await.
   */
  applyPeers(peers: ReadonlyMap<string, Lease>): Promise<ApplyResult>;
  /**
   * Writes only what these lease changes need, without reading the kernel first (the fast path for
   * lease churn). Throws when it cannot; the loop then falls back to a full applyPeers pass.
   */
  applyChanges?(upserts: readonly Lease[], removals: readonly Lease[]): Promise<ApplyResult>;
  /**
   * Whether a kernel notification calls for a pass: it shows state this backend owns other than
   * wanted (deleted, changed, or unwanted). Notifications of the backend's own writes do not.
   */
  ownsKernelEvent(event: KernelEvent): boolean;
}

/** Peers of another backend type (e.g. udp) are skipped; each is warned about once, not every pass. */
export class SkippedPeers {
  private readonly warned = new Set<string>();

  constructor(
    private readonly backendType: string,
    private readonly logger: Logger,
  ) {}

  warnOnce(lease: Lease): void {
    const key = `${leaseKey(lease)} ${lease.backendType}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(`skipping a peer of another backend type: this node uses ${this.backendType}`, {
      subnet: leaseKey(lease), backendType: lease.backendType,
    });
  }
}
