// The seam between the reconcile loop and a datapath (vxlan, host-gw).
import type { Logger } from 'winston';
import { leaseKey, type Lease, type LeaseAttrs, type LeaseHalf, type VxlanBackendData } from '../subnet/lease.js';
import type { KernelEvent } from './rtnetlink.js';
import type { IpAddress, IpFamily } from '../subnet/ip-address.js';

/** The flag that sets each family's published address (see UnderlayAddresses.publicIp). */
export const PUBLIC_IP_FLAG: Readonly<Record<IpFamily, string>> = { ipv4: '--public-ip', ipv6: '--public-ipv6' };

/** weft's own route protocol number (`proto 87`): host-gw and DirectRouting routes, and every nexthop object of ours. */
export const WEFT_ROUTE_PROTOCOL = 0x57;

/** One family's underlay addresses on the external interface. */
export interface UnderlayAddresses {
  /** The interface's own address (the VXLAN local address). */
  ifaceIp: IpAddress;
  /** The address published to peers (--public-ip / --public-ipv6, else ifaceIp). */
  publicIp: IpAddress;
}

/** The underlay interface the overlay runs on, chosen by --iface / --iface-regex / default route. */
export interface ExternalInterface {
  name: string;
  index: number;
  mtu: number;
  /** Per family the network runs (EnableIPv4 / EnableIPv6); undefined for a family it does not. */
  ipv4: UnderlayAddresses | undefined;
  ipv6: UnderlayAddresses | undefined;
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

/** What one family's datapath publishes in the lease (publicIp / backendData, or their IPv6 twins). */
export interface FamilyAttrs {
  publicIp: IpAddress;
  backendData: VxlanBackendData | undefined;
}

/** One address family's datapath (a VXLAN device, or host-gw routes); PerFamilyBackend runs one per family. */
export interface FamilyDatapath {
  readonly family: IpFamily;
  readonly podMtu: number;
  prepare(): Promise<FamilyAttrs>;
  configureOwnLease(half: LeaseHalf): Promise<void>;
  applyPeers(peers: ReadonlyMap<string, Lease>): Promise<ApplyResult>;
  applyChanges?(upserts: readonly Lease[], removals: readonly Lease[]): Promise<ApplyResult>;
  ownsKernelEvent(event: KernelEvent): boolean;
}

/**
 * Peers the datapath cannot program: of another backend type (e.g. udp), or a family's half
 * without its public IP or backend data. Each is warned about once, not every pass.
 */
export class SkippedPeers {
  private readonly warned = new Set<string>();

  constructor(
    private readonly backendType: string,
    private readonly logger: Logger,
  ) {}

  warnOnce(lease: Lease): void {
    this.warn(`${leaseKey(lease)} ${lease.backendType}`, `skipping a peer of another backend type: this node uses ${this.backendType}`, lease);
  }

  warnIncomplete(lease: Lease, family: IpFamily): void {
    const what = family === 'ipv4' ? 'PublicIP/BackendData' : 'PublicIPv6/BackendV6Data';
    this.warn(`${leaseKey(lease)} ${family}`, `skipping the ${family} half of a peer: its lease has no ${what}`, lease);
  }

  private warn(key: string, message: string, lease: Lease): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(message, { subnet: leaseKey(lease), backendType: lease.backendType });
  }
}
