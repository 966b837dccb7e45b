// VXLAN datapath of one address family, as flannel's: one device (flannel.<VNI> for IPv4,
// flannel-v6.<VNI> for IPv6, its local address that family's underlay address) with learning off;
// each peer gets a permanent neighbour (its subnet address -> its VTEP MAC), an FDB entry (VTEP MAC
// -> its public IP of the family) and a route (its subnet via its subnet address, onlink; through a
// nexthop object of ours where the kernel has them: nexthop-table.ts). The
// kernel then encapsulates pod traffic to the peer's node without any ARP/NDP or flooding. With
// DirectRouting, peers on the same L2 segment get a plain route via their public IP instead. Every
// pass lists what the kernel holds and writes only the difference, which also repairs whatever
// someone deleted; if the device itself is gone it is recreated with the same MAC and every peer is
// replayed onto it.
import { randomBytes } from 'node:crypto';
import type { Logger } from 'winston';
import { leaseHalf, leaseKey, type Lease, type LeaseHalf } from '../subnet/lease.js';
import type { VxlanOptions } from '../overlay/network-config.js';
import { WEFT_ROUTE_PROTOCOL, type ApplyResult, type ExternalInterface, type FamilyAttrs, type FamilyDatapath, type SkippedPeers, type UnderlayAddresses } from './backend.js';
import { changeFailures, planChangeWrites, planKernelWrites, type DesiredEntries } from './kernel-diff.js';
import type { KernelEvent, LinkInfo, RouteEntry, RtNetlink } from './rtnetlink.js';
import { NexthopTable } from './nexthop-table.js';
import { WantedEntries } from './wanted-entries.js';
import { IpAddress, type IpFamily } from '../subnet/ip-address.js';
import { IpPrefix } from '../subnet/ip-prefix.js';

/** Outer IP + UDP + VXLAN headers and the inner Ethernet header, per underlay family. */
const VXLAN_OVERHEAD: Record<IpFamily, number> = { ipv4: 50, ipv6: 70 };
const DEVICE_PREFIX: Record<IpFamily, string> = { ipv4: 'flannel.', ipv6: 'flannel-v6.' };
const LINUX_VXLAN_PORT = 8472;
/** RTPROT_BOOT: what `ip route add` uses, and what flannel's routes carry. */
const ROUTE_PROTOCOL = 3;

export type VxlanNetlink = Pick<
  RtNetlink,
  'findLink' | 'createVxlan' | 'deleteLink' | 'setLinkUp' | 'listAddresses' | 'addAddress' | 'deleteAddress' | 'listNeighbors' | 'listFdb' | 'listRoutes' | 'listNexthops' | 'writeAll'
>;

/** The VXLAN device name of a family, e.g. flannel.1 / flannel-v6.1. */
export function vxlanDeviceName(family: IpFamily, vni: number): string {
  return `${DEVICE_PREFIX[family]}${vni}`;
}

/** Whether `name` is a VXLAN device name of `family`, of any VNI. */
export function isVxlanDeviceName(family: IpFamily, name: string): boolean {
  const prefix = DEVICE_PREFIX[family];
  return name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length));
}

export class VxlanDatapath implements FamilyDatapath {
  readonly podMtu: number;
  private readonly deviceName: string;
  private readonly port: number;
  private mac: string | undefined;
  private ownHalf: LeaseHalf | undefined;
  private connectedNets: IpPrefix[] = [];
  private deviceIndex: number | undefined;
  private readonly wanted = new WantedEntries();
  private readonly nexthops: NexthopTable;

  constructor(
    readonly family: IpFamily,
    private readonly netlink: VxlanNetlink,
    private readonly external: Pick<ExternalInterface, 'name' | 'index' | 'mtu'>,
    private readonly underlay: UnderlayAddresses,
    private readonly options: VxlanOptions,
    private readonly skipped: SkippedPeers,
    private readonly logger: Logger,
    /** A MAC to give a newly created device (e.g. from the node's annotation in kube mode). */
    previousMac?: string,
    /** Peer routes through nexthop objects (`nhid N`) where the kernel has them; false: each route carries its gateway. */
    useNexthops = true,
  ) {
    this.nexthops = new NexthopTable(family, useNexthops, logger);
    this.deviceName = vxlanDeviceName(family, options.vni);
    this.port = options.port === 0 ? LINUX_VXLAN_PORT : options.port;
    this.podMtu = (options.mtu ?? external.mtu) - VXLAN_OVERHEAD[family];
    this.mac = previousMac;
  }

  async prepare(): Promise<FamilyAttrs> {
    await this.ensureDevice();
    const addresses = await this.netlink.listAddresses(this.family);
    this.connectedNets = addresses.filter((a) => a.index === this.external.index).map((a) => IpPrefix.of(a.ip, a.prefixLength));
    return { publicIp: this.underlay.publicIp, backendData: { vni: this.options.vni, vtepMac: this.mac ?? '' } };
  }

  async configureOwnLease(half: LeaseHalf): Promise<void> {
    this.ownHalf = half;
    const device = await this.ensureDevice();
    await this.setDeviceAddress(device.index, half.subnet.address);
  }

  async applyPeers(peers: ReadonlyMap<string, Lease>): Promise<ApplyResult> {
    let device = await this.netlink.findLink(this.deviceName);
    let linkRepairs = 0;
    if (!device || !this.matches(device) || !device.up) {
      this.logger.warn(`${this.deviceName} is missing or changed; recreating it and replaying all peers`);
      device = await this.ensureDevice();
      if (this.ownHalf) await this.setDeviceAddress(device.index, this.ownHalf.subnet.address);
      linkRepairs = 1;
    }
    this.deviceIndex = device.index;
    const index = device.index;
    const desired = this.wanted.reset(this.entriesOfPeers(index, peers));
    const [neighbors, fdb, familyRoutes, nexthops] = await Promise.all([
      this.netlink.listNeighbors(this.family, device.index),
      this.netlink.listFdb(device.index),
      this.netlink.listRoutes(this.family), // one dump of the table for both interfaces
      this.nexthops.dump(() => this.netlink.listNexthops()),
    ]);
    // Ours: the device's, and our protocol's on the external interface (DirectRouting routes, or leftovers of host-gw).
    const routes = familyRoutes.filter((r) => r.oif === index || (r.oif === this.external.index && r.protocol === WEFT_ROUTE_PROTOCOL));
    const through = this.nexthops.planAll(desired.routes, nexthops);
    const plan = planKernelWrites(device.index, { ...desired, routes: through.routes }, { neighbors: neighbors.filter((n) => n.permanent), fdb, routes });
    const writes = [...through.before, ...plan.writes, ...through.after];
    const { failed } = await this.netlink.writeAll(writes);
    if (this.nexthops.refusedIn(writes, failed)) return this.applyPeers(peers); // once: the table is off now
    if (failed.length > 0) {
      const first = failed[0]?.error;
      throw new Error(`${failed.length} of ${writes.length} kernel writes failed (first: ${first?.message ?? 'unknown'})`, { cause: first });
    }
    return { repaired: { link: linkRepairs, ...plan.repaired, nexthop: through.before.length }, removed: plan.removed + through.after.length };
  }

  async applyChanges(upserts: readonly Lease[], removals: readonly Lease[]): Promise<ApplyResult> {
    const index = this.deviceIndex;
    if (index === undefined) throw new Error(`${this.deviceName} not set up yet`);
    const add: DesiredEntries = { neighbors: [], fdb: [], routes: [] };
    const remove: DesiredEntries = { neighbors: [], fdb: [], routes: [] };
    const collect = ({ stale, write }: { stale: DesiredEntries; write: DesiredEntries }): void => {
      for (const kind of ['neighbors', 'fdb', 'routes'] as const) {
        (remove[kind] as unknown[]).push(...stale[kind]);
        (add[kind] as unknown[]).push(...write[kind]);
      }
    };
    for (const lease of removals) collect(this.wanted.delete(leaseKey(lease)));
    for (const lease of upserts) {
      const entries = this.peerEntries(index, lease);
      collect(entries ? this.wanted.set(leaseKey(lease), entries) : this.wanted.delete(leaseKey(lease)));
    }
    const through = this.nexthops.planChanges(remove.routes, add.routes);
    const writes = [...through.before, ...planChangeWrites(index, { ...add, routes: through.routes }, { ...remove, routes: through.gone }), ...through.after];
    const { failed } = await this.netlink.writeAll(writes);
    if (this.nexthops.refusedIn(writes, failed)) throw new Error('the kernel refuses nexthop objects: a full pass writes plain routes');
    const failures = changeFailures(failed);
    if (failures.length > 0) throw new Error(`${failures.length} writes failed (first: ${failures[0]?.error.message ?? ''})`);
    return {
      repaired: { link: 0, neighbor: add.neighbors.length, fdb: add.fdb.length, route: add.routes.length, nexthop: through.before.length },
      removed: remove.routes.length + through.after.length,
    };
  }

  /** Only a change that leaves our entries other than wanted calls for a pass; our own writes do not. */
  ownsKernelEvent(event: KernelEvent): boolean {
    if (event.kind === 'link') return event.ifname === this.deviceName || event.ifindex === this.deviceIndex;
    if (event.kind === 'nexthop') return event.nexthop !== undefined && this.nexthops.needsPass(event.nexthop, event.deleted);
    if (event.kind === 'route') {
      const route = event.route;
      return route !== undefined && this.ownsRoute(route) &&
        (this.wanted.routeNeedsPass(route, event.deleted) || (!event.deleted && this.nexthops.routeNeedsPass(route)));
    }
    if (event.kind !== 'neighbor' || event.ifindex === undefined || event.ifindex !== this.deviceIndex) return false;
    if (event.fdb) return this.wanted.fdbNeedsPass(event.fdb, event.deleted);
    return event.neighbor !== undefined && this.wanted.neighborNeedsPass(event.neighbor, event.deleted);
  }

  /** Routes of our family on our device, and DirectRouting routes (our protocol) on the external interface. */
  private ownsRoute(route: RouteEntry): boolean {
    if (route.dst.family !== this.family) return false;
    return (route.oif !== undefined && route.oif === this.deviceIndex) ||
      (route.oif === this.external.index && route.protocol === WEFT_ROUTE_PROTOCOL);
  }

  /** Each peer's entries as the table of wanted entries takes them in: no copy of the peer map per pass. */
  private *entriesOfPeers(deviceIndex: number, peers: ReadonlyMap<string, Lease>): Generator<[string, DesiredEntries]> {
    for (const [key, lease] of peers) {
      const entries = this.peerEntries(deviceIndex, lease);
      if (entries) yield [key, entries];
    }
  }

  /** One peer's neighbour, FDB entry and route (or its DirectRouting route); undefined when it has none of this family. */
  private peerEntries(deviceIndex: number, lease: Lease): DesiredEntries | undefined {
    const half = leaseHalf(lease, this.family);
    if (!half) return undefined; // a peer without this family: nothing to program for it here
    if (lease.backendType !== 'vxlan') {
      this.skipped.warnOnce(lease);
      return undefined;
    }
    const { subnet, publicIp, backendData } = half;
    if (!backendData || !publicIp) {
      this.skipped.warnIncomplete(lease, this.family);
      return undefined;
    }
    if (this.options.directRouting && this.connectedNets.some((net) => net.contains(publicIp))) {
      return {
        neighbors: [], fdb: [],
        routes: [{ dst: subnet, gateway: publicIp, oif: this.external.index, onlink: false, protocol: WEFT_ROUTE_PROTOCOL }],
      };
    }
    const mac = backendData.vtepMac;
    return {
      neighbors: [{ ip: subnet.address, mac, permanent: true }],
      fdb: [{ mac, dst: publicIp }],
      routes: [{ dst: subnet, gateway: subnet.address, oif: deviceIndex, onlink: true, protocol: ROUTE_PROTOCOL }],
    };
  }

  /** Adopts the device if it is as wanted, else (re)creates it keeping its MAC. */
  private async ensureDevice(): Promise<LinkInfo> {
    const existing = await this.netlink.findLink(this.deviceName);
    if (existing && this.matches(existing)) {
      this.mac = existing.mac;
      if (!existing.up || existing.mtu !== this.podMtu) await this.netlink.setLinkUp(existing.index, this.podMtu);
      return { ...existing, up: true, mtu: this.podMtu };
    }
    if (existing) {
      this.logger.info(`recreating ${this.deviceName}: its VNI, port, local address or parent differ`);
      this.mac ??= existing.mac;
      await this.netlink.deleteLink(existing.index);
    }
    this.mac ??= randomMac();
    await this.netlink.createVxlan({
      name: this.deviceName, vni: this.options.vni, port: this.port, local: this.underlay.ifaceIp,
      parentIndex: this.external.index, learning: this.options.learning, gbp: this.options.gbp, mac: this.mac, mtu: this.podMtu,
    });
    const created = await this.netlink.findLink(this.deviceName);
    if (!created) throw new Error(`${this.deviceName} was created but cannot be found`);
    await this.netlink.setLinkUp(created.index);
    this.logger.info(`created ${this.deviceName}`, { vni: this.options.vni, port: this.port, vtepMac: this.mac, mtu: this.podMtu });
    return { ...created, up: true };
  }

  private matches(link: LinkInfo): boolean {
    const v = link.vxlan;
    return (
      link.kind === 'vxlan' && v !== undefined && v.vni === this.options.vni && v.port === this.port &&
      IpAddress.same(v.local, this.underlay.ifaceIp) && v.parentIndex === this.external.index
    );
  }

  /** Exactly `<subnet address>/32` (IPv6: /128) on the device, as flannel does; link-local addresses are the kernel's. */
  private async setDeviceAddress(index: number, ip: IpAddress): Promise<void> {
    const current = (await this.netlink.listAddresses(this.family)).filter((a) => a.index === index && !a.ip.isLinkLocal());
    if (!current.some((a) => a.ip.equals(ip) && a.prefixLength === ip.bits)) await this.netlink.addAddress(index, ip, ip.bits);
    for (const stale of current.filter((a) => !a.ip.equals(ip) || a.prefixLength !== ip.bits)) {
      this.logger.info('removing a stale address from the vxlan device', { address: `${stale.ip.toString()}/${stale.prefixLength}` });
      await this.netlink.deleteAddress(index, stale.ip, stale.prefixLength);
    }
  }
}

/** A random locally administered unicast MAC. */
function randomMac(): string {
  const bytes = randomBytes(6);
  bytes[0] = ((bytes[0] ?? 0) & 0xfe) | 0x02;
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
