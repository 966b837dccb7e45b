// What a backend last asked the kernel to hold, per peer, indexed for two questions:
// - Does a kernel notification show one of our entries other than wanted (deleted, changed, or an
//   unwanted one on our device)? Only then is a pass needed: our own writes match and wake nothing.
// - Which entries does a peer's departure or change leave unwanted? An FDB entry two peers share
//   (two leases with the same VTEP MAC and public IP: a node that re-registered) stays while
//   either wants it. The kernel holds one destination per VTEP MAC (a replace overwrites it), so
//   when leases claim one MAC with different public IPs the first claimant keeps the entry and the
//   next one's takes over when it goes.
import type { DesiredEntries } from './kernel-diff.js';
import type { FdbEntry, NeighborEntry, RouteEntry, RouteSpec } from './rtnetlink.js';
import { addressKey, PrefixMap } from './pair-map.js';
import { IpAddress } from '../subnet/ip-address.js';

export interface EntryChanges {
  /** Entries nobody wants any more: delete them. */
  stale: DesiredEntries;
  /** Entries to write: the peer's own, and an FDB entry that takes over a MAC another peer gave up. */
  write: DesiredEntries;
}

const empty = (): DesiredEntries => ({ neighbors: [], fdb: [], routes: [] });

/**
 * A peer's entries in one flat array (72 bytes for a VXLAN peer's three, against 216 for an object
 * of three one-entry arrays); told apart by shape: only a neighbour has `ip`, only a route `gateway`.
 */
type PeerEntries = readonly (NeighborEntry | FdbEntry | RouteSpec)[];
const flatten = (e: DesiredEntries): PeerEntries => [...e.neighbors, ...e.fdb, ...e.routes];
const isNeighbor = (e: PeerEntries[number]): e is NeighborEntry => 'ip' in e;
const isRoute = (e: PeerEntries[number]): e is RouteSpec => 'gateway' in e;

export class WantedEntries {
  private readonly byPeer = new Map<string, PeerEntries>();
  /** By the neighbour's address (one device holds one family's neighbours; addressKey: no string per key). */
  private readonly neighbors = new Map<bigint, NeighborEntry>();
  /** By network, without a key string per route. */
  private readonly routes = new PrefixMap<RouteSpec>();
  /** Per VTEP MAC, the peers that want an FDB entry for it, first claimant first, with their destination. */
  private readonly fdbClaims = new Map<string, { peer: string; dst: IpAddress }[]>();

  /** Replaces everything with these peers' entries; returns the entries to write (FDB: one per MAC). */
  reset(perPeer: Iterable<readonly [string, DesiredEntries]>): DesiredEntries {
    this.byPeer.clear();
    this.neighbors.clear();
    this.routes.clear();
    this.fdbClaims.clear();
    for (const [peer, entries] of perPeer) this.add(peer, entries);
    return this.all();
  }

  /** Sets one peer's entries (a new or changed lease). */
  set(peer: string, entries: DesiredEntries): EntryChanges {
    const { stale, write } = this.delete(peer);
    this.add(peer, entries);
    // What is wanted again is not stale; of the peer's FDB entries only those it holds are written.
    stale.neighbors = stale.neighbors.filter((n) => !this.neighbors.has(addressKey(n.ip)));
    stale.routes = stale.routes.filter((r) => !this.routes.has(r.dst));
    stale.fdb = stale.fdb.filter((f) => !IpAddress.same(this.fdbDst(f.mac), f.dst));
    const fdb = [...write.fdb, ...entries.fdb].filter((f, i, all) =>
      IpAddress.same(this.fdbDst(f.mac), f.dst) && all.findIndex((g) => g.mac === f.mac) === i);
    return { stale, write: { neighbors: entries.neighbors, routes: entries.routes, fdb } };
  }

  /** Forgets a peer (its lease is gone). */
  delete(peer: string): EntryChanges {
    const entries = this.byPeer.get(peer);
    const changes: EntryChanges = { stale: empty(), write: empty() };
    if (!entries) return changes;
    this.byPeer.delete(peer);
    for (const e of entries) {
      if (isNeighbor(e)) {
        if (this.neighbors.delete(addressKey(e.ip))) changes.stale.neighbors.push(e);
      } else if (isRoute(e)) {
        if (this.routes.delete(e.dst)) changes.stale.routes.push(e);
      } else {
        this.dropClaim(peer, e, changes);
      }
    }
    return changes;
  }

  /** Every wanted entry (one FDB entry per MAC). */
  all(): DesiredEntries {
    const fdb = [...this.fdbClaims].flatMap(([mac, claims]) => (claims[0] ? [{ mac, dst: claims[0].dst }] : []));
    return { neighbors: [...this.neighbors.values()], fdb, routes: [...this.routes.values()] };
  }

  /** Whether a notified route of ours (on our device, or with our protocol) leaves the kernel other than wanted. */
  routeNeedsPass(route: RouteEntry, deleted: boolean): boolean {
    const want = this.routes.get(route.dst);
    if (deleted) return want !== undefined;
    if (!want) return route.gateway !== undefined; // an unwanted route of ours: a pass removes it
    return !IpAddress.same(route.gateway, want.gateway) || route.oif !== want.oif || route.onlink !== want.onlink;
  }

  /** Whether a notified neighbour on our device leaves the kernel other than wanted. */
  neighborNeedsPass(neighbor: NeighborEntry, deleted: boolean): boolean {
    const want = this.neighbors.get(addressKey(neighbor.ip));
    if (deleted) return want !== undefined;
    if (!want) return neighbor.permanent; // a stale permanent entry: a pass removes it
    return !neighbor.permanent || neighbor.mac !== want.mac;
  }

  /** Whether a notified FDB entry on our device leaves the kernel other than wanted. */
  fdbNeedsPass(fdb: FdbEntry, deleted: boolean): boolean {
    const wanted = IpAddress.same(this.fdbDst(fdb.mac), fdb.dst);
    return deleted ? wanted : !wanted;
  }

  /** Drops the peer's claim on an FDB entry's MAC; when the MAC's first claimant changes, its entry goes and the next one's comes. */
  private dropClaim(peer: string, f: FdbEntry, changes: EntryChanges): void {
    const claims = this.fdbClaims.get(f.mac) ?? [];
    const before = claims[0]?.dst;
    const rest = claims.filter((c) => c.peer !== peer);
    if (rest.length === 0) this.fdbClaims.delete(f.mac);
    else this.fdbClaims.set(f.mac, rest);
    const after = rest[0]?.dst;
    if (before !== undefined && !IpAddress.same(before, after)) {
      changes.stale.fdb.push({ mac: f.mac, dst: before });
      if (after !== undefined) changes.write.fdb.push({ mac: f.mac, dst: after });
    }
  }

  private add(peer: string, entries: DesiredEntries): void {
    this.byPeer.set(peer, flatten(entries));
    for (const n of entries.neighbors) this.neighbors.set(addressKey(n.ip), n);
    for (const r of entries.routes) this.routes.set(r.dst, r);
    for (const f of entries.fdb) {
      const claims = this.fdbClaims.get(f.mac) ?? [];
      claims.push({ peer, dst: f.dst });
      this.fdbClaims.set(f.mac, claims);
    }
  }

  private fdbDst(mac: string): IpAddress | undefined {
    return this.fdbClaims.get(mac)?.[0]?.dst;
  }
}
