// Desired vs actual kernel entries, as pure functions: what to write and what to delete so that
// the kernel holds exactly the desired set. Shared by the vxlan and host-gw backends.
import { IpAddress } from '../subnet/ip-address.js';
import type { NetlinkError } from './netlink-error.js';
import { addressKey, PrefixMap } from './pair-map.js';
import type { IpPrefix } from '../subnet/ip-prefix.js';
import type { FdbEntry, KernelWrite, NeighborEntry, RouteEntry, RouteSpec } from './rtnetlink.js';

export interface DesiredEntries {
  neighbors: NeighborEntry[];
  fdb: FdbEntry[];
  routes: RouteSpec[];
}

export interface ActualEntries {
  neighbors: NeighborEntry[];
  fdb: FdbEntry[];
  /** Only routes this backend owns (its device, or its route protocol). */
  routes: RouteEntry[];
}

export interface KernelPlan {
  /** In the order to apply: removals first (routes before what they point at), then additions
   *  per kind neighbour -> FDB -> route, so a route never points at a missing neighbour. */
  writes: KernelWrite[];
  repaired: { neighbor: number; fdb: number; route: number };
  removed: number;
}

export function planKernelWrites(deviceIndex: number, desired: DesiredEntries, actual: ActualEntries): KernelPlan {
  // Keys without a string per entry (a pass at 10 000 peers indexes 30 000 entries twice): a
  // neighbour by its address's value (one device holds one family), a route by its network.
  const fdbKey = (f: FdbEntry): string => `${f.mac}>${f.dst.toString()}`;
  const actualNeighbors = new Map(actual.neighbors.map((n) => [addressKey(n.ip), n]));
  const actualFdb = new Set(actual.fdb.map(fdbKey));
  const actualRoutes = byNetwork(actual.routes);
  // Indexed only to find what the kernel holds beyond the wanted: nothing to find on an empty device (a first start).
  const wantedNeighbors = new Set(actual.neighbors.length > 0 ? desired.neighbors.map((n) => addressKey(n.ip)) : []);
  const wantedFdb = new Set(actual.fdb.length > 0 ? desired.fdb.map(fdbKey) : []);
  const wantedRoutes = byNetwork(actual.routes.length > 0 ? desired.routes : []);

  const removals: KernelWrite[] = [];
  for (const r of actual.routes) {
    const wanted = wantedRoutes.get(r.dst);
    if (!wanted && r.gateway !== undefined && r.oif !== undefined) {
      // A route through a nexthop object is deleted by its id: the kernel matches no gateway on it.
      const route = { dst: r.dst, gateway: r.gateway, oif: r.oif, onlink: r.onlink, protocol: r.protocol, nexthopId: r.nexthopId };
      removals.push({ op: 'del-route', route });
    }
  }
  for (const f of actual.fdb) if (!wantedFdb.has(fdbKey(f))) removals.push({ op: 'del-fdb', index: deviceIndex, mac: f.mac, dst: f.dst });
  for (const n of actual.neighbors) if (!wantedNeighbors.has(addressKey(n.ip))) removals.push({ op: 'del-neighbor', index: deviceIndex, ip: n.ip });

  const additions: KernelWrite[] = [];
  const repaired = { neighbor: 0, fdb: 0, route: 0 };
  for (const n of desired.neighbors) {
    const have = actualNeighbors.get(addressKey(n.ip));
    if (!have || have.mac !== n.mac || !have.permanent) {
      additions.push({ op: 'set-neighbor', index: deviceIndex, ip: n.ip, mac: n.mac });
      repaired.neighbor += 1;
    }
  }
  for (const f of desired.fdb) {
    if (!actualFdb.has(fdbKey(f))) {
      additions.push({ op: 'set-fdb', index: deviceIndex, mac: f.mac, dst: f.dst });
      repaired.fdb += 1;
    }
  }
  for (const r of desired.routes) {
    const have = actualRoutes.get(r.dst);
    if (!have || have.nexthopId !== r.nexthopId || !IpAddress.same(have.gateway, r.gateway) || have.oif !== r.oif || have.onlink !== r.onlink) {
      additions.push({ op: 'set-route', route: r });
      repaired.route += 1;
    }
  }
  return { writes: [...removals, ...additions], repaired, removed: removals.length };
}

function byNetwork<R extends { dst: IpPrefix }>(routes: readonly R[]): PrefixMap<R> {
  const map = new PrefixMap<R>();
  for (const r of routes) map.set(r.dst, r);
  return map;
}

/**
 * The writes for a known change, without looking at the kernel: removals (route, FDB, neighbour)
 * then additions (neighbour, FDB, route), all with replace semantics.
 */
export function planChangeWrites(deviceIndex: number | undefined, add: DesiredEntries, remove: DesiredEntries): KernelWrite[] {
  const onDevice = <T>(entries: T[], make: (index: number, entry: T) => KernelWrite): KernelWrite[] => {
    if (entries.length === 0) return [];
    if (deviceIndex === undefined) throw new Error('the device is not known yet');
    return entries.map((entry) => make(deviceIndex, entry));
  };
  return [
    ...remove.routes.map((route): KernelWrite => ({ op: 'del-route', route })),
    ...onDevice(remove.fdb, (index, f): KernelWrite => ({ op: 'del-fdb', index, mac: f.mac, dst: f.dst })),
    ...onDevice(remove.neighbors, (index, n): KernelWrite => ({ op: 'del-neighbor', index, ip: n.ip })),
    ...onDevice(add.neighbors, (index, n): KernelWrite => ({ op: 'set-neighbor', index, ip: n.ip, mac: n.mac })),
    ...onDevice(add.fdb, (index, f): KernelWrite => ({ op: 'set-fdb', index, mac: f.mac, dst: f.dst })),
    ...add.routes.map((route): KernelWrite => ({ op: 'set-route', route })),
  ];
}

/** Deleting what is already gone is fine for a change; anything else fails it. */
export function changeFailures(failed: { write: KernelWrite; error: NetlinkError }[]): { write: KernelWrite; error: NetlinkError }[] {
  return failed.filter((f) => !(f.write.op.startsWith('del-') && f.error.isNotFound));
}
