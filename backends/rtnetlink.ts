// The only module (with its backends/rtnetlink-*.ts parts) that imports the `netlink` package
// (pinned: its API is pre-1.0). It speaks in domain verbs (links, addresses, neighbours, FDB
// entries, routes) with typed values, and hides the package's Buffers and flag quirks. Writes can be
// pipelined: many requests are in flight on one socket at once, each acknowledged on its own, which
// is what lets thousands of peers converge in a fraction of a second.
import { createRtNetlink, FlagsGet, FlagsNew, type RtNetlinkSocket } from 'netlink';
import { formatInfo, formatVxlan, parseInfo } from 'netlink/dist/rt/ifla.js';
import { AttrStream } from 'netlink/dist/structs.js';
import { NetlinkError } from './netlink-error.js';
import { packDatagrams, sendDatagram } from './rtnetlink-datagrams.js';
import { addressFamily, addressOf, AF_BRIDGE, formatMac, nexthopEntryOf, vxlanAttributes } from './rtnetlink-decode.js';
import { fdbOfDump, neighborDumpRequest, neighborOfDump, routeDumpRequest, routeOfDump, RTM_GETNEIGH, RTM_GETROUTE, RTM_NEWNEIGH, RTM_NEWROUTE } from './rtnetlink-dump.js';
import { describe, objectOf, parseMac, REPLACE } from './rtnetlink-encode.js';
import { withMonitorsPaused } from './rtnetlink-monitor.js';
import type { AddressEntry, FdbEntry, KernelWrite, LinkInfo, NeighborEntry, NexthopEntry, RouteEntry, VxlanLinkSpec } from './rtnetlink-types.js';
import { IpAddress, type IpFamily } from '../subnet/ip-address.js';
import { IpPrefix } from '../subnet/ip-prefix.js';

export type * from './rtnetlink-types.js';
export { watchKernelChanges } from './rtnetlink-monitor.js';

const RTM_NEWNEXTHOP = 104;
const RTM_GETNEXTHOP = 106;

/** Writes in one writeAll above which monitors pause (our own notifications would flood them). */
const MONITOR_PAUSE_WRITES = 256;

export class RtNetlink {
  private constructor(private readonly socket: RtNetlinkSocket) {}

  static open(): RtNetlink {
    return new RtNetlink(createRtNetlink());
  }

  close(): void {
    this.socket.socket.close();
  }

  async listLinks(): Promise<LinkInfo[]> {
    const links = await this.call('list links', 'all', () => this.socket.getLinks());
    return links.map((msg) => {
      const info = msg.attrs.linkinfo ? parseInfo(msg.attrs.linkinfo) : undefined;
      return {
        index: msg.data.index ?? 0,
        name: msg.attrs.ifname ?? '',
        kind: info?.kind,
        mac: msg.attrs.address ? formatMac(msg.attrs.address) : '',
        mtu: msg.attrs.mtu ?? 0,
        up: msg.data.flags?.up === true,
        vxlan: info?.kind === 'vxlan' && info.data ? vxlanAttributes(info.data) : undefined,
      };
    });
  }

  async findLink(name: string): Promise<LinkInfo | undefined> {
    return (await this.listLinks()).find((l) => l.name === name);
  }

  /** The addresses of one family on every interface (IPv6: global and link-local alike). */
  async listAddresses(family: IpFamily): Promise<AddressEntry[]> {
    const addrs = await this.call('list addresses', family, () => this.socket.getAddresses({ family: addressFamily(family) }));
    return addrs.flatMap((msg) => {
      // IFA_LOCAL is the own address of a point-to-point link; IPv6 sends IFA_ADDRESS only.
      const bytes = msg.attrs.local ?? msg.attrs.address;
      return bytes ? [{ index: msg.data.index ?? 0, ip: addressOf(bytes), prefixLength: msg.data.prefixlen ?? bytes.length * 8 }] : [];
    });
  }

  /** Main-table routes of one family, optionally only those leaving through `oif`. */
  async listRoutes(family: IpFamily, oif?: number): Promise<RouteEntry[]> {
    const replies = await this.dump('list routes', `main table ${family}`, RTM_GETROUTE, routeDumpRequest(addressFamily(family)));
    const routes: RouteEntry[] = [];
    for (const msg of replies) {
      const route = msg.type === RTM_NEWROUTE ? routeOfDump(msg.data) : undefined;
      if (route && (oif === undefined || route.oif === oif)) routes.push(route);
    }
    return routes;
  }

  /**
   * Every nexthop object of every family and owner (their ids share one space). A kernel without
   * nexthop objects answers EOPNOTSUPP. The package has no nexthop messages: nhmsg is sent as bytes.
   */
  async listNexthops(): Promise<NexthopEntry[]> {
    const replies = await this.dump('list nexthops', 'all', RTM_GETNEXTHOP, Buffer.alloc(8));
    return replies.flatMap((msg) => {
      const entry = msg.type === RTM_NEWNEXTHOP ? nexthopEntryOf(msg.data) : undefined;
      return entry ? [entry] : [];
    });
  }

  /** The interface the main table's default route of `family` leaves through. */
  async defaultRouteIndex(family: IpFamily): Promise<number | undefined> {
    return (await this.listRoutes(family)).find((r) => r.dst.prefixLength === 0 && r.oif !== undefined)?.oif;
  }

  /** The interface and preferred source address the kernel would use to reach `ip` (RTM_GETROUTE, as `ip route get`). */
  async routeTo(ip: IpAddress): Promise<{ index: number; source: IpAddress | undefined } | undefined> {
    const replies = await this.call('route lookup', ip, () =>
      this.socket.getRoute({ family: addressFamily(ip.family), dstLen: ip.bits }, { dst: Buffer.from(ip.toBytes()) }),
    ).catch(() => []);
    const attrs = replies[0]?.attrs;
    if (attrs?.oif === undefined) return undefined;
    return { index: attrs.oif, source: attrs.prefsrc ? IpAddress.fromBytes(attrs.prefsrc) : undefined };
  }

  /** The neighbours with a MAC on interface `index`. */
  async listNeighbors(family: IpFamily, index: number): Promise<NeighborEntry[]> {
    const replies = await this.dump('list neighbours', index, RTM_GETNEIGH, neighborDumpRequest(addressFamily(family), index));
    const entries: NeighborEntry[] = [];
    for (const msg of replies) {
      const entry = msg.type === RTM_NEWNEIGH ? neighborOfDump(msg.data, index) : undefined;
      if (entry) entries.push(entry);
    }
    return entries;
  }

  async listFdb(index: number): Promise<FdbEntry[]> {
    const replies = await this.dump('list fdb', index, RTM_GETNEIGH, neighborDumpRequest(AF_BRIDGE, index));
    const entries: FdbEntry[] = [];
    for (const msg of replies) {
      const entry = msg.type === RTM_NEWNEIGH ? fdbOfDump(msg.data, index) : undefined;
      if (entry) entries.push(entry);
    }
    return entries;
  }

  async createVxlan(spec: VxlanLinkSpec): Promise<void> {
    const data = new AttrStream();
    const vxlan: Parameters<typeof formatVxlan>[0] = {
      id: spec.vni,
      learning: spec.learning ? 1 : 0,
      port: Buffer.from([spec.port >> 8, spec.port & 255]),
    };
    if (spec.local?.family === 'ipv4') vxlan.local = Buffer.from(spec.local.toBytes());
    if (spec.local?.family === 'ipv6') vxlan.local6 = Buffer.from(spec.local.toBytes());
    if (spec.parentIndex !== undefined) vxlan.link = spec.parentIndex;
    if (spec.gbp) vxlan.gbp = true;
    data.emit(formatVxlan(vxlan));
    const info = new AttrStream();
    info.emit(formatInfo({ kind: 'vxlan', data: Buffer.concat(data.bufs) }));
    await this.call('create vxlan link', spec.name, () =>
      this.socket.newLink(
        {},
        { ifname: spec.name, mtu: spec.mtu, address: parseMac(spec.mac), linkinfo: Buffer.concat(info.bufs) },
        { flags: FlagsNew.CREATE | FlagsNew.EXCL },
      ),
    );
  }

  async deleteLink(index: number): Promise<void> {
    await this.call('delete link', index, () => this.socket.delLink({ index }), true);
  }

  async setLinkUp(index: number, mtu?: number): Promise<void> {
    await this.call('set link up', index, () =>
      this.socket.setLink({ index, change: { up: true }, flags: { up: true } }, mtu === undefined ? {} : { mtu }),
    );
  }

  async addAddress(index: number, ip: IpAddress, prefixLength: number): Promise<void> {
    await this.call('add address', index, () =>
      this.socket.newAddress({ family: addressFamily(ip.family), prefixlen: prefixLength, index, ...addressFlags(ip) }, addressAttrs(ip), { flags: REPLACE }),
    );
  }

  async deleteAddress(index: number, ip: IpAddress, prefixLength: number): Promise<void> {
    await this.call('delete address', index, () =>
      this.socket.delAddress({ family: addressFamily(ip.family), prefixlen: prefixLength, index }, addressAttrs(ip)),
    true);
  }

  /**
   * Applies writes in as few system calls as possible (see rtnetlink-datagrams.ts). Deletes of
   * entries that are already gone count as success. Monitors are closed during a bulk write: our
   * own notifications would only overflow them.
   */
  async writeAll(writes: readonly KernelWrite[]): Promise<{ failed: { write: KernelWrite; error: NetlinkError }[] }> {
    return writes.length > MONITOR_PAUSE_WRITES
      ? withMonitorsPaused(() => this.writeInDatagrams(writes))
      : this.writeInDatagrams(writes);
  }

  private async writeInDatagrams(writes: readonly KernelWrite[]): Promise<{ failed: { write: KernelWrite; error: NetlinkError }[] }> {
    const failed: { write: KernelWrite; error: NetlinkError }[] = [];
    this.localPort ??= this.socket.socket.socket.address().port;
    for (const datagram of packDatagrams(writes, () => this.nextSeq(), this.localPort)) {
      const errors = await this.serialized(() => sendDatagram(this.socket, datagram));
      for (const { seq, write } of datagram.writes) {
        const errno = errors.get(seq);
        if (errno === undefined) continue;
        const error = new NetlinkError(describe(write), objectOf(write), errno);
        if (!(write.op.startsWith('del-') && error.isNotFound)) failed.push({ write, error });
      }
    }
    return { failed };
  }

  private seq = Math.floor(Math.random() * 0x3fffffff);
  private queue: Promise<void> = Promise.resolve();

  /**
   * One request at a time on the socket: the package cannot tell interleaved dumps apart. The queue
   * holds only the fact that the last request ended, never its result: a settled promise keeps its
   * value alive, and the last dump (every neighbour, FDB entry and route) would stay in memory.
   */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.then(() => undefined, () => undefined);
    return run;
  }
  private localPort: number | undefined;

  private nextSeq(): number {
    this.seq = (this.seq % 0x7ffffffe) + 1;
    return this.seq;
  }

  /** A dump's raw replies (type and payload after nlmsghdr), for the parsers of rtnetlink-dump.ts. */
  private async dump(operation: string, object: unknown, type: number, request: Buffer): Promise<{ type: number; data: Buffer }[]> {
    return this.call(operation, object, async () => (await this.socket.socket.request(type, [request], { flags: FlagsGet.DUMP }))[0]);
  }

  /** Runs one request, turning the package's errors into NetlinkError; optionally ignoring "not found". */
  private async call<T>(operation: string, object: unknown, fn: () => Promise<T>, tolerateMissing = false): Promise<T | []> {
    try {
      return await this.serialized(fn);
    } catch (err) {
      const error = NetlinkError.from(operation, String(object instanceof IpPrefix ? object.toString() : object), err);
      if (tolerateMissing && error.isNotFound) return [];
      throw error;
    }
  }
}

/** IPv4 names the own address in IFA_LOCAL (and IFA_ADDRESS); IPv6 only in IFA_ADDRESS. */
function addressAttrs(ip: IpAddress): { local?: Buffer; address: Buffer } {
  const bytes = Buffer.from(ip.toBytes());
  return ip.family === 'ipv4' ? { local: bytes, address: bytes } : { address: bytes };
}

/**
 * IPv6 addresses skip duplicate address detection, as the lab's underlay does: on a VXLAN device
 * without a default FDB entry nobody could answer, and the address would sit tentative (unusable as
 * a source) for a second after every start.
 */
function addressFlags(ip: IpAddress): { flags?: { nodad: true } } {
  return ip.family === 'ipv6' ? { flags: { nodad: true } } : {};
}
