// Peer routes through nexthop objects: `ip nexthop add id N via <gateway> dev <dev> [onlink] proto 87`
// and `<subnet> nhid N`. The kernel slows down on thousands of routes that each carry their own
// gateway (5000: 0.37 s, 10 000: 1.36 s here) and stays linear through nexthop objects (5000 in
// 0.10 s). One table per datapath (one address family) decides the ids and which objects to write
// and delete; the routes themselves stay the datapath's.
// - Ours are the objects of our protocol and family with one gateway; every other id is someone
//   else's and never taken: a new object is created exclusively (EEXIST rather than take over an id
//   that appeared since the last dump; the pass that follows dumps again and picks another).
// - Ids are stable: a full pass adopts what the kernel holds by gateway + device + onlink (after a
//   restart too); a new one starts from a hash of family and gateway, probing past taken ids.
// - A kernel that refuses nexthop objects (EOPNOTSUPP / EINVAL before any was accepted) turns the
//   table off for good: routes then carry their own gateway, as before.
import type { Logger } from 'winston';
import { WEFT_ROUTE_PROTOCOL } from './backend.js';
import { NetlinkError } from './netlink-error.js';
import { PairMap, PrefixMap } from './pair-map.js';
import type { KernelWrite, NexthopEntry, NexthopSpec, RouteEntry, RouteSpec } from './rtnetlink-types.js';
import type { IpAddress, IpFamily } from '../subnet/ip-address.js';
import type { IpPrefix } from '../subnet/ip-prefix.js';

export interface NexthopPlan {
  /** The routes to write, each through its nexthop object (unchanged while the table is off). */
  routes: RouteSpec[];
  /** Nexthop objects to write before the routes that go through them. */
  before: KernelWrite[];
  /** Objects of ours that no route wants any more: deleted once the routes have moved off them. */
  after: KernelWrite[];
}

/** What a kernel without nexthop objects (or with them off) answers. */
const REFUSALS = new Set(['EOPNOTSUPP', 'EINVAL', 'EPROTONOSUPPORT', 'EAFNOSUPPORT']);
const MAX_ID = 0x7fffffff;

type Target = Pick<NexthopSpec, 'gateway' | 'oif' | 'onlink'>;
/** One record per object of ours (at 10 000 peers, one per peer): its target, its id, how many wanted routes use it. */
interface Nexthop extends Target {
  readonly id: number;
  users: number;
}

/** The part of a target's key beside its gateway's value: device and onlink. */
const deviceKey = (t: Target): number => t.oif * 2 + (t.onlink ? 1 : 0);
const sameTarget = (a: Target, b: Target): boolean => a.oif === b.oif && a.onlink === b.onlink && a.gateway.equals(b.gateway);

export class NexthopTable {
  private on: boolean;
  /** A nexthop write has succeeded: later errors are failures, not a kernel without them. */
  private accepted = false;
  /** Ours by target (device + onlink, gateway) and by id; per wanted route (by destination) the one it goes through. */
  private readonly byTarget = new PairMap<Nexthop>();
  private readonly byId = new Map<number, Nexthop>();
  private readonly byDst = new PrefixMap<Nexthop>();
  /** Ids others hold (other owners, other families), as of the last dump. */
  private taken = new Set<number>();

  constructor(
    readonly family: IpFamily,
    enabled: boolean,
    private readonly logger: Logger,
  ) {
    this.on = enabled;
  }

  get enabled(): boolean {
    return this.on;
  }

  /** A full pass: adopts ours from `actual` (every nexthop object the kernel holds) and plans `routes` through them. */
  planAll(routes: readonly RouteSpec[], actual: readonly NexthopEntry[]): NexthopPlan {
    if (!this.on) return { routes: [...routes], before: [], after: [] };
    this.forgetAll();
    this.taken = new Set(actual.filter((n) => !this.isOurs(n)).map((n) => n.id));
    const held = actual.filter((n) => this.isOurs(n)).sort((a, b) => a.id - b.id);
    const heldByTarget = new PairMap<number>();
    for (const n of held) if (heldByTarget.get(deviceKey(n), n.gateway) === undefined) heldByTarget.set(deviceKey(n), n.gateway, n.id);
    const before: KernelWrite[] = [];
    const planned = routes.map((route) => {
      let nexthop = this.byTarget.get(deviceKey(route), route.gateway);
      if (!nexthop) {
        const id = heldByTarget.get(deviceKey(route), route.gateway);
        nexthop = this.remember(route, id);
        if (id === undefined) before.push(writeOf(nexthop));
      }
      return this.use(route, nexthop);
    });
    const after = held.filter((n) => !this.byId.has(n.id)).map((n): KernelWrite => ({ op: 'del-nexthop', id: n.id }));
    return { routes: planned, before, after };
  }

  /** Lease changes without a dump: routes that go (returned with their nexthop, to delete them by it) and routes to write. */
  planChanges(gone: readonly RouteSpec[], wanted: readonly RouteSpec[]): NexthopPlan & { gone: RouteSpec[] } {
    if (!this.on) return { routes: [...wanted], gone: [...gone], before: [], after: [] };
    const released = new Set<Nexthop>();
    const goneRoutes = gone.map((route) => {
      const nexthop = this.byDst.get(route.dst);
      if (nexthop === undefined) return route;
      released.add(this.release(route.dst, nexthop));
      return { ...route, nexthopId: nexthop.id };
    });
    const before: KernelWrite[] = [];
    const routes = wanted.map((route) => {
      let nexthop = this.byTarget.get(deviceKey(route), route.gateway);
      const old = this.byDst.get(route.dst);
      if (old !== undefined && old !== nexthop) released.add(this.release(route.dst, old));
      if (!nexthop) {
        nexthop = this.remember(route, undefined);
        before.push(writeOf(nexthop));
      }
      return this.use(route, nexthop);
    });
    return { routes, gone: goneRoutes, before, after: this.forgetUnused(released) };
  }

  /** Whether a notified nexthop object leaves ours other than wanted (deleted, changed, or an unwanted one of ours). */
  needsPass(nexthop: NexthopEntry, deleted: boolean): boolean {
    if (!this.on) return false;
    const want = this.byId.get(nexthop.id);
    if (deleted) return want !== undefined;
    if (!want) return this.isOurs(nexthop);
    return !this.isOurs(nexthop) || !sameTarget(nexthop, want);
  }

  /** Whether a notified route we want goes through another nexthop than ours (or its own gateway). */
  routeNeedsPass(route: RouteEntry): boolean {
    const nexthop = this.on ? this.byDst.get(route.dst) : undefined;
    return nexthop !== undefined && route.nexthopId !== nexthop.id;
  }

  /** The kernel's nexthop objects for a full pass: none while the table is off, or when the kernel refuses the dump (which turns it off). */
  async dump(list: () => Promise<NexthopEntry[]>): Promise<NexthopEntry[]> {
    if (!this.on) return [];
    try {
      return await list();
    } catch (err) {
      if (err instanceof NetlinkError && this.refuse([err])) return [];
      throw err;
    }
  }

  /**
   * Looks at a batch's failures: true when the kernel refused nexthop objects before accepting
   * any (the table is now off; run the pass again with plain routes).
   */
  refusedIn(writes: readonly KernelWrite[], failed: readonly { write: KernelWrite; error: NetlinkError }[]): boolean {
    const errors = failed.filter((f) => f.write.op === 'set-nexthop').map((f) => f.error);
    if (this.on && !this.accepted && this.refuse(errors)) return true;
    if (writes.some((w) => w.op === 'set-nexthop') && errors.length === 0) this.accepted = true;
    return false;
  }

  private refuse(errors: readonly NetlinkError[]): boolean {
    const refusal = errors.find((e) => REFUSALS.has(e.errno));
    if (!this.on || this.accepted || refusal === undefined) return false;
    this.on = false;
    this.forgetAll();
    this.logger.warn('the kernel refuses nexthop objects; peer routes carry their own gateway', { family: this.family, errno: refusal.errno });
    return true;
  }

  private forgetAll(): void {
    this.byTarget.clear();
    this.byId.clear();
    this.byDst.clear();
  }

  /** Ours: our protocol, our family, one gateway (the protocol check also covers a notified change of it). */
  private isOurs(n: NexthopEntry): n is NexthopEntry & NexthopSpec {
    return n.protocol === WEFT_ROUTE_PROTOCOL && n.family === this.family && n.gateway !== undefined && n.oif !== undefined;
  }

  /** Records a nexthop object of ours, held at `id` or at a new id; the route's gateway is kept, not copied. */
  private remember(target: Target, id: number | undefined): Nexthop {
    const nexthop: Nexthop = { id: id ?? this.freeId(target.gateway), gateway: target.gateway, oif: target.oif, onlink: target.onlink, users: 0 };
    this.byTarget.set(deviceKey(nexthop), nexthop.gateway, nexthop);
    this.byId.set(nexthop.id, nexthop);
    return nexthop;
  }

  private use(route: RouteSpec, nexthop: Nexthop): RouteSpec {
    if (this.byDst.get(route.dst) !== nexthop) {
      this.byDst.set(route.dst, nexthop);
      nexthop.users += 1;
    }
    return { ...route, nexthopId: nexthop.id };
  }

  private release(dst: IpPrefix, nexthop: Nexthop): Nexthop {
    this.byDst.delete(dst);
    nexthop.users -= 1;
    return nexthop;
  }

  /** Forgets those of `released` that no route uses any more; returns their deletions. */
  private forgetUnused(released: ReadonlySet<Nexthop>): KernelWrite[] {
    return [...released].flatMap((nexthop): KernelWrite[] => {
      if (nexthop.users > 0 || this.byId.get(nexthop.id) !== nexthop) return [];
      this.byTarget.delete(deviceKey(nexthop), nexthop.gateway);
      this.byId.delete(nexthop.id);
      return [{ op: 'del-nexthop', id: nexthop.id }];
    });
  }

  /** The first id from a hash of family and gateway that nobody holds. */
  private freeId(gateway: IpAddress): number {
    let id = (fnv1a(`${this.family} ${gateway.toString()}`) % MAX_ID) + 1;
    while (this.taken.has(id) || this.byId.has(id)) id = (id % MAX_ID) + 1;
    return id;
  }
}

/** The write that makes an object of ours (a spec of its own: the kernel adapter and tests keep what they are given). */
function writeOf(nexthop: Nexthop): KernelWrite {
  const { id, gateway, oif, onlink } = nexthop;
  return { op: 'set-nexthop', nexthop: { id, gateway, oif, onlink, protocol: WEFT_ROUTE_PROTOCOL }, exclusive: true };
}

/** 32-bit FNV-1a: a spread of ids that does not depend on the order peers arrive in. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

