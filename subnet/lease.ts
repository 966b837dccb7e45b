// The seam between lease stores (etcd, Kubernetes) and the rest of the daemon.
import { IpAddress, type IpFamily } from './ip-address.js';
import type { IpPrefix } from './ip-prefix.js';
import { ConfigError } from './errors.js';

/** What a node publishes about itself in its lease. */
export interface LeaseAttrs {
  /** The node's IPv4 underlay address; undefined without IPv4 (flannel writes PublicIP "0.0.0.0" then). */
  publicIp?: IpAddress | undefined;
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

/** A lease has a subnet of at least one family: IPv4 only, dual stack, or IPv6 only. */
export interface Lease extends LeaseAttrs {
  /** The IPv4 half; undefined in an IPv6-only lease. */
  subnet?: IpPrefix | undefined;
  /** The IPv6 half (dual stack and IPv6 only). */
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

/** At least one pool: IPv4 only, dual stack (a subnet from each pool, under one key), or IPv6 only. */
export interface AcquireOptions {
  /** With EnableIPv4 (the default). */
  pool?: SubnetPool | undefined;
  /** With EnableIPv6. */
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
  if (family === 'ipv4') return lease.subnet && { subnet: lease.subnet, publicIp: lease.publicIp, backendData: lease.backendData };
  return lease.ipv6Subnet && { subnet: lease.ipv6Subnet, publicIp: lease.publicIpv6, backendData: lease.backendV6Data };
}

/** The subnet a lease is named by (logs, tables, keys): its IPv4 half, else its IPv6 half. */
export function leaseSubnet(lease: Pick<Lease, 'subnet' | 'ipv6Subnet'>): IpPrefix {
  const subnet = lease.subnet ?? lease.ipv6Subnet;
  if (subnet === undefined) throw new TypeError('a lease has a subnet of at least one family');
  return subnet;
}

/** The text peers are keyed by (maps of peers, wanted kernel entries): one per lease. */
export function leaseKey(lease: Lease): string {
  return leaseSubnet(lease).toString();
}

/**
 * Whether `lease` was published by the node whose attributes are `attrs`: the same public IP (as
 * flannel matches its own lease), or, for nodes without IPv4, the same public IPv6 address. (Every
 * IPv6-only lease carries PublicIP "0.0.0.0": flannel's match by PublicIP alone takes another
 * IPv6-only node's lease as its own.)
 */
export function publishedBy(lease: LeaseAttrs, attrs: LeaseAttrs): boolean {
  if (attrs.publicIp !== undefined) return IpAddress.same(lease.publicIp, attrs.publicIp);
  return lease.publicIp === undefined && attrs.publicIpv6 !== undefined && IpAddress.same(lease.publicIpv6, attrs.publicIpv6);
}

/** Refuses options no lease can be written for: no pool, or a family without an address to publish. */
export function checkAcquireOptions({ pool, ipv6Pool, attrs }: AcquireOptions): void {
  if (pool === undefined && ipv6Pool === undefined) {
    throw new ConfigError('EnableIPv4', 'no address family to lease a subnet of; set EnableIPv4 or EnableIPv6 to true');
  }
  // Peers refuse a lease whose half has no public address (as flannel's do): never write one.
  if (pool !== undefined && attrs.publicIp === undefined) {
    throw new ConfigError('EnableIPv4', 'the node has no IPv4 address to publish; give --public-ip, or an interface with an IPv4 address');
  }
  if (ipv6Pool !== undefined && attrs.publicIpv6 === undefined) {
    throw new ConfigError('EnableIPv6', 'the node has no IPv6 address to publish; give --public-ipv6, or an interface with an IPv6 address');
  }
}

/** Whether two leases program the same kernel entries: a renewal (new expiry) is not a change. */
export function sameDatapath(a: Lease, b: Lease): boolean {
  return (
    sameOptional(a.subnet, b.subnet) &&
    sameOptional(a.publicIp, b.publicIp) &&
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

/** Whether two leases hold the same subnets of both families. */
export function sameSubnets(a: Pick<Lease, 'subnet' | 'ipv6Subnet'>, b: Pick<Lease, 'subnet' | 'ipv6Subnet'>): boolean {
  return sameOptional(a.subnet, b.subnet) && sameOptional(a.ipv6Subnet, b.ipv6Subnet);
}

/** Both absent, or both present and equal (values with an equals method: addresses, prefixes). */
export function sameOptional<T extends { equals(other: T): boolean }>(a: T | undefined, b: T | undefined): boolean {
  return a === undefined || b === undefined ? a === b : a.equals(b);
}
