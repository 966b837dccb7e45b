import type { IpAddress, IpFamily } from '../subnet/ip-address.js';
import type { IpPrefix } from '../subnet/ip-prefix.js';
// The typed values backends/rtnetlink.ts speaks in: what the kernel holds (links, addresses,
// neighbours, FDB entries, routes), the writes we ask of it, and the changes it announces.

export interface VxlanAttributes {
  vni: number;
  port: number;
  local: IpAddress | undefined;
  parentIndex: number | undefined;
  learning: boolean;
}

export interface LinkInfo {
  index: number;
  name: string;
  kind: string | undefined;
  mac: string;
  mtu: number;
  up: boolean;
  vxlan: VxlanAttributes | undefined;
}

export interface VxlanLinkSpec extends VxlanAttributes {
  name: string;
  mac: string;
  mtu: number;
  gbp: boolean;
}

export interface AddressEntry {
  index: number;
  ip: IpAddress;
  prefixLength: number;
}

export interface NeighborEntry {
  ip: IpAddress;
  mac: string;
  permanent: boolean;
}

export interface FdbEntry {
  mac: string;
  dst: IpAddress;
}

export interface RouteEntry {
  dst: IpPrefix;
  gateway: IpAddress | undefined;
  oif: number | undefined;
  protocol: number;
  onlink: boolean;
  /** The nexthop object the route goes through (`nhid N`); the kernel still shows its gateway and device. */
  nexthopId?: number | undefined;
}

/** A nexthop object with one gateway (`ip nexthop`); groups, blackholes and FDB nexthops have no gateway. */
export interface NexthopEntry {
  id: number;
  family: IpFamily | undefined;
  gateway: IpAddress | undefined;
  oif: number | undefined;
  protocol: number;
  onlink: boolean;
}

/** A nexthop object to write: `id N via <gateway> dev <oif> [onlink] proto <protocol>`. */
export interface NexthopSpec {
  id: number;
  gateway: IpAddress;
  oif: number;
  onlink: boolean;
  protocol: number;
}

/** One kernel write; a list of them is applied with RtNetlink.writeAll(). */
export type KernelWrite =
  | { op: 'set-neighbor'; index: number; ip: IpAddress; mac: string }
  | { op: 'del-neighbor'; index: number; ip: IpAddress }
  | { op: 'set-fdb'; index: number; mac: string; dst: IpAddress }
  | { op: 'del-fdb'; index: number; mac: string; dst: IpAddress }
  | { op: 'set-route'; route: RouteSpec }
  | { op: 'del-route'; route: RouteSpec }
  /** `exclusive`: fail (EEXIST) rather than take over an id someone else holds; else replace ours. */
  | { op: 'set-nexthop'; nexthop: NexthopSpec; exclusive: boolean }
  | { op: 'del-nexthop'; id: number };

export interface RouteSpec {
  dst: IpPrefix;
  gateway: IpAddress;
  oif: number;
  onlink: boolean;
  protocol: number;
  /** Through this nexthop object instead of its own gateway and device (which then only name it). */
  nexthopId?: number | undefined;
}

/** A change the kernel announced, or a gap in what we saw. */
export interface KernelEvent {
  /** 'gap': notifications may have been missed; look at everything. FDB entries come as 'neighbor'. */
  kind: 'link' | 'route' | 'neighbor' | 'nexthop' | 'gap';
  deleted: boolean;
  ifindex: number | undefined;
  ifname?: string | undefined;
  /** The route announced, when it is in the main table. */
  route?: RouteEntry | undefined;
  /** The neighbour announced, either family (one with an address and a link-layer address). */
  neighbor?: NeighborEntry | undefined;
  /** The FDB entry announced (one with a remote destination). */
  fdb?: FdbEntry | undefined;
  /** The nexthop object announced (its deletion silently takes its IPv4 routes with it). */
  nexthop?: NexthopEntry | undefined;
  /** Why a gap: the monitor was paused during our own bulk write, or its queue overflowed. */
  cause?: 'paused' | 'overflow' | undefined;
}
