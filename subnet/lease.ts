// The seam between lease stores (etcd, Kubernetes) and the rest of the daemon.
import type { IpAddress, IpFamily } from './ip-address.js';
import type { IpPrefix } from './ip-prefix.js';

/** What a node publishes about itself in its lease. */
export interface LeaseAttrs {
  /** 0.0.0.0 (as flannel writes it) for a node without IPv4. */
  publicIp: IpAddress;
  /** The node's IPv6 underlay address; undefined (flannel writes null) without IPv6. */
  publicIpv6?: IpAddress | undefined;
  backendType: string;
  /** Backend-specific JSON, e.g. {"VNI":1,"VtepMAC":"..."} for vxlan; undefined for host-gw. */
  backendData?: VxlanBackendData | undefined;
  /** The same for the IPv6 device (vxlan: flannel-v6.<VNI> has its own MAC). */
  backendV6Data?: VxlanBackendData | undefined;
}

export interface VxlanBackendData {
  vni: number;
  vtepMac: string; // lower-case aa:bb:cc:dd:ee:ff
}

export interface Lease extends LeaseAttrs {
  subnet: IpPrefix;
  /** The IPv6 half of a dual-stack lease. */
  ipv6Subnet?: IpPrefix | undefined;
  /** When the lease ends; undefined for a reservation (a key with no TTL), which never expires. */
  expiresAt?: Date | undefined;
}

/** Where subnets are carved from: the parsed Network / SubnetLen / SubnetMin / SubnetMax. */
export interface SubnetPool {
  network: IpPrefix;
  subnetLen: number;
  /** Network addresses of the first and the last subnet a node may lease. */
  subnetMin: IpAddress;
  subnetMax: IpAddress;
}

/**
 * Peer changes, in the order they happened. A snapshot replaces everything known before it
 * (first listing, and re-listing after a compaction or a 410); the own lease is never included.
 */
export type LeaseBatch =
  | { kind: 'snapshot'; leases: Lease[] }
  | { kind: 'added'; leases: Lease[] }
  | { kind: 'removed'; leases: Lease[] };

export interface LeaseWatcher {
  onBatch(batch: LeaseBatch): void;
  /** Our own lease was lost and taken again (possibly with another subnet). */
  onOwnLeaseChanged(lease: Lease): void;
}

export interface AcquireOptions {
  pool: SubnetPool;
  /** With EnableIPv6 (dual stack): the lease gets a subnet from each pool, under one key. */
  ipv6Pool?: SubnetPool | undefined;
  attrs: LeaseAttrs;
  /** The subnets from an earlier subnet.env, tried before random ones. */
  previousSubnet?: IpPrefix | undefined;
  previousIpv6Subnet?: IpPrefix | undefined;
}

export interface LeaseManager {
  /** The network configuration text (net-conf.json) as stored by this manager. */
  readNetworkConfig(signal: AbortSignal): Promise<string>;
  /** Takes (or re-takes) this node's lease and keeps it alive until close(). */
  acquireLease(options: AcquireOptions, signal: AbortSignal): Promise<Lease>;
  /** Streams peer leases to the watcher until the signal aborts; survives store outages. */
  watchLeases(watcher: LeaseWatcher, signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

/** One address family's half of a lease: what a backend programs for that family. */
export interface LeaseHalf {
  subnet: IpPrefix;
  /** undefined when the peer published no underlay address of this family. */
  publicIp: IpAddress | undefined;
  backendData: VxlanBackendData | undefined;
}

/** The lease's half of `family`, or undefined when it holds no subnet of that family. */
export function leaseHalf(lease: Lease, family: IpFamily): LeaseHalf | undefined {
  if (family === 'ipv4') return { subnet: lease.subnet, publicIp: lease.publicIp, backendData: lease.backendData };
  return lease.ipv6Subnet && { subnet: lease.ipv6Subnet, publicIp: lease.publicIpv6, backendData: lease.backendV6Data };
}

/** The text peers are keyed by (maps of peers, wanted kernel entries): one per lease. */
export function leaseKey(lease: Lease): string {
  return lease.subnet.toString();
}

/** Whether two leases program the same kernel entries: a renewal (new expiry) is not a change. */
export function sameDatapath(a: Lease, b: Lease): boolean {
  return (
    a.subnet.equals(b.subnet) &&
    a.publicIp.equals(b.publicIp) &&
    a.backendType === b.backendType &&
    sameBackendData(a.backendData, b.backendData) &&
    sameOptional(a.ipv6Subnet, b.ipv6Subnet) &&
    sameOptional(a.publicIpv6, b.publicIpv6) &&
    sameBackendData(a.backendV6Data, b.backendV6Data)
  );
}

function sameBackendData(a: VxlanBackendData | undefined, b: VxlanBackendData | undefined): boolean {
  return a?.vni === b?.vni && a?.vtepMac === b?.vtepMac;
}

/** Both absent, or both present and equal (values with an equals method: addresses, prefixes). */
export function sameOptional<T extends { equals(other: T): boolean }>(a: T | undefined, b: T | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}
