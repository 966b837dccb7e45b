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
import type { KernelWrite, NexthopEntry, NexthopSpec, RouteEntry, RouteSpec } from './rtnetlink-types.js';
import type { IpAddress, IpFamily } from '../subnet/ip-address.js';

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
const keyOf = (t: Target): string => `${t.oif} ${t.gateway.toString()}${t.onlink ? ' onlink' : ''}`;

export class NexthopTable {
  private on: boolean;
  /** A nexthop write has succeeded: later errors are failures, not a kernel without them. */
  private accepted = false;
  private readonly idByKey = new Map<string, number>();
  private readonly specById = new Map<number, NexthopSpec>();
  /** Per wanted route (by destination) the key of its nexthop, and per key how many routes use it. */
  private readonly keyByDst = new Map<string, string>();
  private readonly users = new Map<string, number>();
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
    for (const map of [this.idByKey, this.specById, this.keyByDst, this.users]) map.clear();
    this.taken = new Set(actual.filter((n) => !this.isOurs(n)).map((n) => n.id));
    const held = actual.filter((n) => this.isOurs(n)).sort((a, b) => a.id - b.id);
    const heldByKey = new Map<string, number>();
    for (const n of held) if (!heldByKey.has(keyOf(n))) heldByKey.set(keyOf(n), n.id);
    const before: KernelWrite[] = [];
    const planned = routes.map((route) => {
      const key = keyOf(route);
      if (!this.idByKey.has(key)) {
        const id = heldByKey.get(key);
        const write = this.remember(key, route, id);
        if (id === undefined) before.push(write);
      }
      return this.use(route, key);
    });
    const after = held.filter((n) => !this.specById.has(n.id)).map((n): KernelWrite => ({ op: 'del-nexthop', id: n.id }));
    return { routes: planned, before, after };
  }

  /** Lease changes without a dump: routes that go (returned with their nexthop, to delete them by it) and routes to write. */
  planChanges(gone: readonly RouteSpec[], wanted: readonly RouteSpec[]): NexthopPlan & { gone: RouteSpec[] } {
    if (!this.on) return { routes: [...wanted], gone: [...gone], before: [], after: [] };
    const released = new Set<string>();
    const goneRoutes = gone.map((route) => {
      const key = this.keyByDst.get(route.dst.toString());
      const id = key === undefined ? undefined : this.idByKey.get(key);
      if (key !== undefined) released.add(this.release(route.dst.toString(), key));
      return id === undefined ? route : { ...route, nexthopId: id };
    });
    const before: KernelWrite[] = [];
    const routes = wanted.map((route) => {
      const key = keyOf(route);
      const old = this.keyByDst.get(route.dst.toString());
      if (old !== undefined && old !== key) released.add(this.release(route.dst.toString(), old));
      if (!this.idByKey.has(key)) before.push(this.remember(key, route, undefined));
      return this.use(route, key);
    });
    return { routes, gone: goneRoutes, before, after: this.forgetUnused(released) };
  }

  /** Whether a notified nexthop object leaves ours other than wanted (deleted, changed, or an unwanted one of ours). */
  needsPass(nexthop: NexthopEntry, deleted: boolean): boolean {
    if (!this.on) return false;
    const want = this.specById.get(nexthop.id);
    if (deleted) return want !== undefined;
    if (!want) return this.isOurs(nexthop);
    return nexthop.protocol !== want.protocol || !this.isOurs(nexthop) || keyOf(nexthop) !== keyOf(want);
  }

  /** Whether a notified route we want goes through another nexthop than ours (or its own gateway). */
  routeNeedsPass(route: RouteEntry): boolean {
    const key = this.on ? this.keyByDst.get(route.dst.toString()) : undefined;
    return key !== undefined && route.nexthopId !== this.idByKey.get(key);
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
    for (const map of [this.idByKey, this.specById, this.keyByDst, this.users]) map.clear();
    this.logger.warn('the kernel refuses nexthop objects; peer routes carry their own gateway', { family: this.family, errno: refusal.errno });
    return true;
  }

  private isOurs(n: NexthopEntry): n is NexthopEntry & NexthopSpec {
    return n.protocol === WEFT_ROUTE_PROTOCOL && n.family === this.family && n.gateway !== undefined && n.oif !== undefined;
  }

  /** Records a nexthop object of ours (held at `id`, or a new id) and returns the write that makes it. */
  private remember(key: string, target: Target, id: number | undefined): KernelWrite {
    const nexthop: NexthopSpec = { id: id ?? this.freeId(target.gateway), gateway: target.gateway, oif: target.oif, onlink: target.onlink, protocol: WEFT_ROUTE_PROTOCOL };
    this.idByKey.set(key, nexthop.id);
    this.specById.set(nexthop.id, nexthop);
    return { op: 'set-nexthop', nexthop, exclusive: true };
  }

  private use(route: RouteSpec, key: string): RouteSpec {
    const dst = route.dst.toString();
    if (this.keyByDst.get(dst) !== key) {
      this.keyByDst.set(dst, key);
      this.users.set(key, (this.users.get(key) ?? 0) + 1);
    }
    return { ...route, nexthopId: this.idByKey.get(key) };
  }

  private release(dst: string, key: string): string {
    this.keyByDst.delete(dst);
    this.users.set(key, (this.users.get(key) ?? 1) - 1);
    return key;
  }

  /** Forgets the objects of `keys` that no route uses any more; returns their deletions. */
  private forgetUnused(keys: ReadonlySet<string>): KernelWrite[] {
    return [...keys].flatMap((key): KernelWrite[] => {
      const id = this.idByKey.get(key);
      if ((this.users.get(key) ?? 0) > 0 || id === undefined) return [];
      this.users.delete(key);
      this.idByKey.delete(key);
      this.specById.delete(id);
      return [{ op: 'del-nexthop', id }];
    });
  }

  /** The first id from a hash of family and gateway that nobody holds. */
  private freeId(gateway: IpAddress): number {
    let id = (fnv1a(`${this.family} ${gateway.toString()}`) % MAX_ID) + 1;
    while (this.taken.has(id) || this.specById.has(id)) id = (id % MAX_ID) + 1;
    return id;
  }
}

/** 32-bit FNV-1a: a spread of ids that does not depend on the order peers arrive in. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash;
}

