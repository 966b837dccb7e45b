// An in-memory kernel for backend unit tests: links, addresses, neighbours, FDB entries, routes and
// nexthop objects, changed by the same writes the real adapter sends, with the kernel's rules that
// matter to the backends: a new nexthop object fails on a taken id (EEXIST), a deleted one takes
// its routes with it, a route needs its nexthop object (EINVAL otherwise), and a route through a
// nexthop object is deleted by its id. It can also refuse nexthop objects as an older kernel does.
import type { VxlanNetlink } from '../backends/vxlan-backend.js';
import type { HostGwNetlink } from '../backends/host-gw-backend.js';
import { NetlinkError } from '../backends/netlink-error.js';
import type { AddressEntry, FdbEntry, KernelWrite, LinkInfo, NeighborEntry, NexthopEntry, RouteEntry, RouteSpec, VxlanLinkSpec } from '../backends/rtnetlink-types.js';
import type { IpFamily } from '../subnet/ip-address.js';

/** How the kernel treats nexthop objects: has them, refuses the dump (before 5.3), or refuses adding them. */
export type NexthopSupport = 'yes' | 'no-dump' | 'no-add';

export class MemoryKernel implements VxlanNetlink, HostGwNetlink {
  readonly links: LinkInfo[] = [];
  readonly addresses: AddressEntry[] = [];
  readonly neighbors = new Map<string, NeighborEntry & { index: number }>();
  readonly fdb = new Map<string, FdbEntry & { index: number }>();
  readonly routes = new Map<string, RouteEntry>();
  readonly nexthops = new Map<number, NexthopEntry>();
  /** Every write asked for, in order. */
  readonly writes: KernelWrite[] = [];

  constructor(private readonly support: NexthopSupport = 'yes') {}

  findLink(name: string): Promise<LinkInfo | undefined> { return Promise.resolve(this.links.find((l) => l.name === name)); }
  listLinks(): Promise<LinkInfo[]> { return Promise.resolve(this.links); }
  createVxlan(spec: VxlanLinkSpec): Promise<void> {
    const { vni, port, local, parentIndex, learning } = spec;
    this.links.push({ index: 10 + this.links.length, name: spec.name, kind: 'vxlan', mac: spec.mac, mtu: spec.mtu, up: false, vxlan: { vni, port, local, parentIndex, learning } });
    return Promise.resolve();
  }
  deleteLink(): Promise<void> { return Promise.resolve(); }
  setLinkUp(index: number): Promise<void> {
    const link = this.links.find((l) => l.index === index);
    if (link) link.up = true;
    return Promise.resolve();
  }
  listAddresses(family: IpFamily): Promise<AddressEntry[]> { return Promise.resolve(this.addresses.filter((a) => a.ip.family === family)); }
  addAddress(index: number, address: AddressEntry['ip'], prefixLength: number): Promise<void> {
    this.addresses.push({ index, ip: address, prefixLength });
    return Promise.resolve();
  }
  deleteAddress(): Promise<void> { return Promise.resolve(); }
  listNeighbors(family: IpFamily, index: number): Promise<NeighborEntry[]> {
    return Promise.resolve([...this.neighbors.values()].filter((n) => n.index === index && n.ip.family === family));
  }
  listFdb(index: number): Promise<FdbEntry[]> { return Promise.resolve([...this.fdb.values()].filter((f) => f.index === index)); }
  listRoutes(family: IpFamily, oif?: number): Promise<RouteEntry[]> {
    return Promise.resolve([...this.routes.values()].filter((r) => r.dst.family === family && (oif === undefined || r.oif === oif)));
  }
  listNexthops(): Promise<NexthopEntry[]> {
    if (this.support === 'no-dump') return Promise.reject(new NetlinkError('list nexthops', 'all', 'EOPNOTSUPP'));
    return Promise.resolve([...this.nexthops.values()]);
  }

  writeAll(writes: readonly KernelWrite[]): Promise<{ failed: { write: KernelWrite; error: NetlinkError }[] }> {
    this.writes.push(...writes);
    const failed: { write: KernelWrite; error: NetlinkError }[] = [];
    for (const write of writes) {
      const errno = this.apply(write);
      if (errno !== undefined && !(write.op.startsWith('del-') && errno === 'ENOENT')) failed.push({ write, error: new NetlinkError(write.op, '', errno) });
    }
    return Promise.resolve({ failed });
  }

  /** The routes as `ip route` shows them, sorted: `<dst> [nhid N] via <gw> dev <oif> [onlink] proto <p>`. */
  routeLines(): string[] {
    return [...this.routes.values()].map((r) =>
      `${r.dst.toString()}${r.nexthopId === undefined ? '' : ` nhid ${r.nexthopId}`} via ${r.gateway?.toString() ?? '?'} dev ${r.oif ?? '?'}${r.onlink ? ' onlink' : ''} proto ${r.protocol}`).sort();
  }

  /** The nexthop objects as `ip nexthop` shows them, sorted by gateway. */
  nexthopLines(): string[] {
    return [...this.nexthops.values()].map((n) =>
      `via ${n.gateway?.toString() ?? '?'} dev ${n.oif ?? '?'}${n.onlink ? ' onlink' : ''} proto ${n.protocol}`).sort();
  }

  /** Deletes a nexthop object as `ip nexthop del id N` does: its routes go with it. */
  deleteNexthop(id: number): void {
    this.nexthops.delete(id);
    for (const [key, route] of this.routes) if (route.nexthopId === id) this.routes.delete(key);
  }

  /** Applies one write; returns the errno it fails with. */
  private apply(w: KernelWrite): string | undefined {
    switch (w.op) {
      case 'set-neighbor':
        this.neighbors.set(`${w.index} ${w.ip.toString()}`, { index: w.index, ip: w.ip, mac: w.mac, permanent: true });
        return undefined;
      case 'del-neighbor':
        return this.neighbors.delete(`${w.index} ${w.ip.toString()}`) ? undefined : 'ENOENT';
      case 'set-fdb':
        this.fdb.set(`${w.index} ${w.mac}`, { index: w.index, mac: w.mac, dst: w.dst });
        return undefined;
      case 'del-fdb':
        return this.fdb.delete(`${w.index} ${w.mac}`) ? undefined : 'ENOENT';
      case 'set-route':
        return this.setRoute(w.route);
      case 'del-route': {
        const have = this.routes.get(w.route.dst.toString());
        if (!have || have.nexthopId !== w.route.nexthopId) return 'ENOENT'; // by id, or by gateway when it has none
        this.routes.delete(w.route.dst.toString());
        return undefined;
      }
      case 'set-nexthop': {
        if (this.support !== 'yes') return 'EINVAL';
        const n = w.nexthop;
        if (w.exclusive && this.nexthops.has(n.id)) return 'EEXIST';
        this.nexthops.set(n.id, { ...n, family: n.gateway.family });
        return undefined;
      }
      case 'del-nexthop':
        if (!this.nexthops.has(w.id)) return 'ENOENT';
        this.deleteNexthop(w.id);
        return undefined;
    }
  }

  private setRoute(r: RouteSpec): string | undefined {
    if (r.nexthopId === undefined) {
      this.routes.set(r.dst.toString(), { ...r });
      return undefined;
    }
    const nexthop = this.nexthops.get(r.nexthopId);
    if (!nexthop) return 'EINVAL'; // "Nexthop id does not exist"
    // Compat mode: the kernel shows the nexthop's gateway, device and onlink flag on the route.
    this.routes.set(r.dst.toString(), { dst: r.dst, protocol: r.protocol, nexthopId: r.nexthopId, gateway: nexthop.gateway, oif: nexthop.oif, onlink: nexthop.onlink });
    return undefined;
  }
}
