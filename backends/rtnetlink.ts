// The only module that imports the `netlink` package (pinned: its API is pre-1.0). It speaks in
// domain verbs (links, addresses, neighbours, FDB entries, routes) with typed values, and hides the
// package's Buffers and flag quirks. Writes can be pipelined: many requests are in flight on one
// socket at once, each acknowledged on its own, which is what lets thousands of peers converge
// in a fraction of a second.
import { createRtNetlink, FlagsNew, type RtNetlinkSocket, rt } from 'netlink';
import { formatInfo, formatVxlan, parseInfo, parseVxlan } from 'netlink/dist/rt/ifla.js';
import { AttrStream, formatMessage } from 'netlink/dist/structs.js';
import { formatNeighborMessage, formatRouteMessage, parseMessage as parseRtMessage } from 'netlink/dist/rt/structs.js';
import { constants as osConstants } from 'node:os';
import { Ipv4Net, formatIpv4, ipv4FromBytes, ipv4ToBytes, type Ipv4 } from '../subnet/ipv4.js';
import { NetlinkError } from './netlink-error.js';

const AF_INET = 2;
const AF_BRIDGE = 7;
const MAIN_TABLE = 254;
const RTNH_F_ONLINK = 4;
const REPLACE = FlagsNew.CREATE | FlagsNew.REPLACE;
const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTM_NEWNEIGH = 28;
const RTM_DELNEIGH = 29;
const NLMSG_ERROR = 2;
const NLM_F_REQUEST = 1;
const NLM_F_ACK = 4;
/** Bytes of messages packed into one datagram; well inside the kernel's default socket buffers. */
const DATAGRAM_BYTES = 32 * 1024;

export interface VxlanAttributes {
  vni: number;
  port: number;
  local: Ipv4 | undefined;
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
  ip: Ipv4;
  prefixLength: number;
}

export interface NeighborEntry {
  ip: Ipv4;
  mac: string;
  permanent: boolean;
}

export interface FdbEntry {
  mac: string;
  dst: Ipv4;
}

export interface RouteEntry {
  dst: Ipv4Net;
  gateway: Ipv4 | undefined;
  oif: number | undefined;
  protocol: number;
  onlink: boolean;
}

/** One kernel write; a list of them is applied with writeAll(). */
export type KernelWrite =
  | { op: 'set-neighbor'; index: number; ip: Ipv4; mac: string }
  | { op: 'del-neighbor'; index: number; ip: Ipv4 }
  | { op: 'set-fdb'; index: number; mac: string; dst: Ipv4 }
  | { op: 'del-fdb'; index: number; mac: string; dst: Ipv4 }
  | { op: 'set-route'; route: RouteSpec }
  | { op: 'del-route'; route: RouteSpec };

export interface RouteSpec {
  dst: Ipv4Net;
  gateway: Ipv4;
  oif: number;
  onlink: boolean;
  protocol: number;
}

/** A change the kernel announced, or a gap in what we saw. */
export interface KernelEvent {
  /** 'gap': notifications may have been missed; look at everything. FDB entries come as 'neighbor'. */
  kind: 'link' | 'route' | 'neighbor' | 'gap';
  deleted: boolean;
  ifindex: number | undefined;
  ifname?: string | undefined;
  /** The route announced, when it is in the main table. */
  route?: RouteEntry | undefined;
  /** The IPv4 neighbour announced (one with an address and a link-layer address). */
  neighbor?: NeighborEntry | undefined;
  /** The FDB entry announced (one with a remote destination). */
  fdb?: FdbEntry | undefined;
  /** Why a gap: the monitor was paused during our own bulk write, or its queue overflowed. */
  cause?: 'paused' | 'overflow' | undefined;
}

const { NEWLINK, DELLINK, NEWROUTE, DELROUTE, NEWNEIGH, DELNEIGH } = rt.MessageType;
const WATCHED_TYPES = new Set<rt.MessageType>([NEWLINK, DELLINK, NEWROUTE, DELROUTE, NEWNEIGH, DELNEIGH]);
const DELETIONS = new Set<rt.MessageType>([DELLINK, DELROUTE, DELNEIGH]);
/** Asked for; the kernel caps it at twice net.core.rmem_max. Fewer overflows under a storm. */
const MONITOR_RECV_BUFFER = 8 * 1024 * 1024;
/** Writes in one writeAll above which monitors pause (our own notifications would flood them). */
const MONITOR_PAUSE_WRITES = 256;
const MONITOR_REOPEN_MS = 1000;

/**
 * Link, IPv4 route and neighbour notifications on a socket of its own. When its queue overflows
 * (ENOBUFS: the kernel dropped notifications) it reports a 'gap' and keeps reading; the netlink
 * package is patched (patches/netlink+0.3.0.patch) so that an overflow no longer aborts the
 * process. It is closed while we write in bulk ourselves (thousands of our own notifications
 * would only overflow it); reopening reports a gap too. A socket that fails otherwise is reopened.
 */
class KernelMonitor {
  private socket: RtNetlinkSocket | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onEvent: (event: KernelEvent) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  open(): void {
    const socket = createRtNetlink({ recvBufferSize: MONITOR_RECV_BUFFER, sendBufferSize: 64 * 1024 });
    for (const group of ['LINK', 'IPV4_ROUTE', 'NEIGH'] as const) socket.addMembership(group);
    socket.socket.on('message', (messages: { type: rt.MessageType; data: Buffer }[]) => {
      for (const msg of messages) {
        if (!WATCHED_TYPES.has(msg.type)) continue;
        try {
          const event = kernelEventOf(parseRtMessage(msg.type, msg.data), DELETIONS.has(msg.type));
          if (event) this.onEvent(event);
        } catch (err) {
          this.onError(err as Error);
        }
      }
    });
    socket.socket.on('error', (err: Error) => { this.failed(err); });
    this.socket = socket;
  }

  close(): void {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.socket?.socket.socket.close();
    this.socket = undefined;
  }

  pause(): void {
    this.close();
  }

  resume(): void {
    if (this.socket) return;
    this.open();
    this.onEvent({ kind: 'gap', deleted: false, ifindex: undefined, cause: 'paused' });
  }

  private failed(err: Error): void {
    if ((err as { code?: unknown }).code === 'ENOBUFS') {
      this.onEvent({ kind: 'gap', deleted: false, ifindex: undefined, cause: 'overflow' });
      return;
    }
    this.onError(err);
    this.close();
    this.reopen();
  }

  private reopen(): void {
    try {
      this.open();
      this.onEvent({ kind: 'gap', deleted: false, ifindex: undefined, cause: 'overflow' });
    } catch (err) {
      this.onError(err as Error);
      this.reopenTimer = setTimeout(() => { this.reopen(); }, MONITOR_REOPEN_MS);
      this.reopenTimer.unref();
    }
  }
}

function kernelEventOf(parsed: ReturnType<typeof parseRtMessage>, deleted: boolean): KernelEvent | undefined {
  switch (parsed.kind) {
    case 'link':
      return { kind: 'link', deleted, ifindex: parsed.data.index, ifname: parsed.attrs.ifname };
    case 'route':
      return { kind: 'route', deleted, ifindex: parsed.attrs.oif, route: routeEntryOf(parsed) };
    case 'neighbor':
      return {
        kind: 'neighbor', deleted, ifindex: parsed.data.ifindex,
        neighbor: parsed.data.family === AF_INET ? neighborEntryOf(parsed) : undefined,
        fdb: parsed.data.family === AF_BRIDGE ? fdbEntryOf(parsed) : undefined,
      };
    default:
      return undefined;
  }
}

type RouteMessage = Extract<ReturnType<typeof parseRtMessage>, { kind: 'route' }>;
type NeighborMessage = Extract<ReturnType<typeof parseRtMessage>, { kind: 'neighbor' }>;

/** The route, or undefined when it is not in the main table. */
function routeEntryOf(msg: RouteMessage): RouteEntry | undefined {
  const table = msg.attrs.table ?? msg.data.table;
  if (table !== MAIN_TABLE) return undefined;
  return {
    dst: Ipv4Net.of(msg.attrs.dst ? ipv4FromBytes(msg.attrs.dst) : 0, msg.data.dstLen ?? 0),
    gateway: msg.attrs.gateway ? ipv4FromBytes(msg.attrs.gateway) : undefined,
    oif: msg.attrs.oif,
    protocol: routeProtocolNumber(msg.data.protocol),
    onlink: ((msg.data.flags?.__unknown ?? 0) & RTNH_F_ONLINK) !== 0,
  };
}

/** The neighbour; its MAC is '' when the kernel announced none (e.g. the FAILED state of a deletion). */
function neighborEntryOf(msg: NeighborMessage): NeighborEntry | undefined {
  const { dst, lladdr } = msg.attrs;
  return dst?.length === 4
    ? { ip: ipv4FromBytes(dst), mac: lladdr ? formatMac(lladdr) : '', permanent: msg.data.state?.permanent === true }
    : undefined;
}

function fdbEntryOf(msg: NeighborMessage): FdbEntry | undefined {
  const { dst, lladdr } = msg.attrs;
  return lladdr && dst?.length === 4 ? { mac: formatMac(lladdr), dst: ipv4FromBytes(dst) } : undefined;
}

const monitors = new Set<KernelMonitor>();

/** Reports kernel changes of links, routes, neighbours and FDB entries (and gaps) until the returned function is called. */
export function watchKernelChanges(onEvent: (event: KernelEvent) => void, onError: (err: Error) => void): () => void {
  const monitor = new KernelMonitor(onEvent, onError);
  monitor.open();
  monitors.add(monitor);
  return () => {
    monitors.delete(monitor);
    monitor.close();
  };
}

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

  async listIpv4Addresses(): Promise<AddressEntry[]> {
    const addrs = await this.call('list addresses', 'ipv4', () => this.socket.getAddresses({ family: AF_INET }));
    return addrs.flatMap((msg) => {
      const bytes = msg.attrs.local ?? msg.attrs.address;
      return bytes ? [{ index: msg.data.index ?? 0, ip: ipv4FromBytes(bytes), prefixLength: msg.data.prefixlen ?? 32 }] : [];
    });
  }

  /** Main-table IPv4 routes, optionally only those leaving through `oif`. */
  async listRoutes(oif?: number): Promise<RouteEntry[]> {
    const routes = await this.call('list routes', 'main table', () => this.socket.getRoutes({ family: AF_INET }));
    return routes.flatMap((msg) => {
      const route = routeEntryOf(msg);
      return route && (oif === undefined || route.oif === oif) ? [route] : [];
    });
  }

  /** The interface the main table's default route leaves through. */
  async defaultRouteIndex(): Promise<number | undefined> {
    return (await this.listRoutes()).find((r) => r.dst.prefixLength === 0 && r.oif !== undefined)?.oif;
  }

  /** The interface and preferred source address the kernel would use to reach `ip` (RTM_GETROUTE, as `ip route get`). */
  async routeTo(ip: Ipv4): Promise<{ index: number; source: Ipv4 | undefined } | undefined> {
    const replies = await this.call('route lookup', ip, () =>
      this.socket.getRoute({ family: AF_INET, dstLen: 32 }, { dst: Buffer.from(ipv4ToBytes(ip)) }),
    ).catch(() => []);
    const attrs = replies[0]?.attrs;
    if (attrs?.oif === undefined) return undefined;
    return { index: attrs.oif, source: attrs.prefsrc?.length === 4 ? ipv4FromBytes(attrs.prefsrc) : undefined };
  }

  async listNeighbors(index: number): Promise<NeighborEntry[]> {
    const all = await this.call('list neighbours', index, () => this.socket.getNeighbors({ family: AF_INET }));
    return all.flatMap((msg) => {
      const entry = msg.data.ifindex === index ? neighborEntryOf(msg) : undefined;
      return entry && entry.mac !== '' ? [entry] : [];
    });
  }

  async listFdb(index: number): Promise<FdbEntry[]> {
    const all = await this.call('list fdb', index, () => this.socket.getNeighbors({ family: AF_BRIDGE }));
    return all.flatMap((msg) => {
      const entry = msg.data.ifindex === index ? fdbEntryOf(msg) : undefined;
      return entry ? [entry] : [];
    });
  }

  async createVxlan(spec: VxlanLinkSpec): Promise<void> {
    const data = new AttrStream();
    const vxlan: Parameters<typeof formatVxlan>[0] = {
      id: spec.vni,
      learning: spec.learning ? 1 : 0,
      port: Buffer.from([spec.port >> 8, spec.port & 255]),
    };
    if (spec.local !== undefined) vxlan.local = Buffer.from(ipv4ToBytes(spec.local));
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

  async addAddress(index: number, ip: Ipv4, prefixLength: number): Promise<void> {
    const bytes = Buffer.from(ipv4ToBytes(ip));
    await this.call('add address', index, () =>
      this.socket.newAddress({ family: AF_INET, prefixlen: prefixLength, index }, { local: bytes, address: bytes }, { flags: REPLACE }),
    );
  }

  async deleteAddress(index: number, ip: Ipv4, prefixLength: number): Promise<void> {
    const bytes = Buffer.from(ipv4ToBytes(ip));
    await this.call('delete address', index, () =>
      this.socket.delAddress({ family: AF_INET, prefixlen: prefixLength, index }, { local: bytes, address: bytes }),
    true);
  }

  /**
   * Applies writes in as few system calls as possible: many netlink messages are packed into one
   * datagram, and only the last message of each datagram asks for an acknowledgement. The kernel
   * handles messages in order and answers failures with an error carrying their sequence number,
   * so once that last acknowledgement arrives every failure of the datagram is known.
   * Deletes of entries that are already gone count as success.
   */
  async writeAll(writes: readonly KernelWrite[]): Promise<{ failed: { write: KernelWrite; error: NetlinkError }[] }> {
    const bulk = writes.length > MONITOR_PAUSE_WRITES;
    if (bulk) for (const monitor of monitors) monitor.pause();
    try {
      return await this.writeInDatagrams(writes);
    } finally {
      if (bulk) for (const monitor of monitors) monitor.resume();
    }
  }

  private async writeInDatagrams(writes: readonly KernelWrite[]): Promise<{ failed: { write: KernelWrite; error: NetlinkError }[] }> {
    const failed: { write: KernelWrite; error: NetlinkError }[] = [];
    for (let start = 0; start < writes.length; ) {
      const chunk: { seq: number; write: KernelWrite }[] = [];
      const buffers: Buffer[] = [];
      let bytes = 0;
      while (start < writes.length && bytes < DATAGRAM_BYTES - 512) {
        const write = writes[start++] as KernelWrite;
        const seq = this.nextSeq();
        const last = start === writes.length || bytes >= DATAGRAM_BYTES - 1024;
        const message = this.encode(write, seq, last);
        bytes += message.length;
        buffers.push(message);
        chunk.push({ seq, write });
        if (last) break;
      }
      const datagram = Buffer.concat(buffers);
      const errors = await this.serialized(() => this.sendDatagram(datagram, chunk.at(-1)?.seq ?? 0));
      for (const { seq, write } of chunk) {
        const errno = errors.get(seq);
        if (errno === undefined) continue;
        const error = new NetlinkError(describe(write), objectOf(write), errno);
        if (!(write.op.startsWith('del-') && error.isNotFound)) failed.push({ write, error });
      }
    }
    return { failed };
  }

  private seq = Math.floor(Math.random() * 0x3fffffff);
  private queue: Promise<unknown> = Promise.resolve();

  /** One request at a time on the socket: the package cannot tell interleaved dumps apart. */
  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
  private localPort: number | undefined;

  private nextSeq(): number {
    this.seq = (this.seq % 0x7ffffffe) + 1;
    return this.seq;
  }

  private encode(w: KernelWrite, seq: number, ack: boolean): Buffer {
    const stream = new AttrStream();
    let type: number;
    switch (w.op) {
      case 'set-neighbor':
      case 'del-neighbor': {
        const dst = Buffer.from(ipv4ToBytes(w.ip));
        const attrs = w.op === 'set-neighbor' ? { dst, lladdr: parseMac(w.mac) } : { dst };
        formatNeighborMessage({ kind: 'neighbor', data: { family: AF_INET, ifindex: w.index, state: { permanent: true } }, attrs }, stream);
        type = w.op === 'set-neighbor' ? RTM_NEWNEIGH : RTM_DELNEIGH;
        break;
      }
      case 'set-fdb':
      case 'del-fdb': {
        const data: rt.Neighbor = { family: AF_BRIDGE, ifindex: w.index, state: { permanent: true }, flags: { self: true } };
        formatNeighborMessage({ kind: 'neighbor', data, attrs: { lladdr: parseMac(w.mac), dst: Buffer.from(ipv4ToBytes(w.dst)) } }, stream);
        type = w.op === 'set-fdb' ? RTM_NEWNEIGH : RTM_DELNEIGH;
        break;
      }
      case 'set-route':
      case 'del-route': {
        const r = w.route;
        const data: rt.Route = {
          family: AF_INET, dstLen: r.dst.prefixLength, table: MAIN_TABLE,
          // eslint-disable-next-line @typescript-eslint/no-unsafe-enum-assignment -- route protocol numbers are open-ended
          protocol: r.protocol,
          scope: 'UNIVERSE', type: 'UNICAST', flags: { __unknown: r.onlink ? RTNH_F_ONLINK : 0 },
        };
        const attrs = { dst: Buffer.from(ipv4ToBytes(r.dst.ip)), gateway: Buffer.from(ipv4ToBytes(r.gateway)), oif: r.oif };
        formatRouteMessage({ kind: 'route', data, attrs }, stream);
        type = w.op === 'set-route' ? RTM_NEWROUTE : RTM_DELROUTE;
        break;
      }
    }
    const flags = NLM_F_REQUEST | (ack ? NLM_F_ACK : 0) | (w.op.startsWith('set-') ? REPLACE : 0);
    this.localPort ??= this.socket.socket.socket.address().port;
    const message = Buffer.concat(formatMessage({ type, flags, seq, port: this.localPort, data: stream.bufs }));
    // Messages packed into one datagram must each start on a 4-byte boundary (NLMSG_ALIGN).
    const padding = (4 - (message.length % 4)) % 4;
    return padding === 0 ? message : Buffer.concat([message, Buffer.alloc(padding)]);
  }

  /** Sends one datagram; resolves with the errno name of every message that failed, by sequence number. */
  private sendDatagram(datagram: Buffer, lastSeq: number): Promise<Map<number, string>> {
    const errors = new Map<number, string>();
    const netlink = this.socket.socket;
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        netlink.ref(false);
        netlink.off('message', onMessage);
        netlink.off('error', onError);
      };
      const onMessage = (messages: { type: number; seq: number; data: Buffer }[]): void => {
        for (const msg of messages) {
          if (msg.type !== NLMSG_ERROR) continue;
          const errno = msg.data.readInt32LE(0);
          if (errno !== 0) errors.set(msg.seq, errnoName(-errno));
          if (msg.seq === lastSeq) {
            cleanup();
            resolve(errors);
          }
        }
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(NetlinkError.from('write batch', `ending at sequence ${lastSeq}`, err));
      };
      netlink.ref(true); // the package only keeps the event loop alive for its own requests
      netlink.on('message', onMessage);
      netlink.on('error', onError);
      netlink.socket.send(datagram, {}, (err?: Error) => {
        if (err) onError(err);
      });
    });
  }

  /** Runs one request, turning the package's errors into NetlinkError; optionally ignoring "not found". */
  private async call<T>(operation: string, object: unknown, fn: () => Promise<T>, tolerateMissing = false): Promise<T | []> {
    try {
      return await this.serialized(fn);
    } catch (err) {
      const error = NetlinkError.from(operation, String(object instanceof Ipv4Net ? object.toString() : object), err);
      if (tolerateMissing && error.isNotFound) return [];
      throw error;
    }
  }
}

function vxlanAttributes(data: Buffer): VxlanAttributes {
  const v = parseVxlan(data);
  return {
    vni: v.id ?? 0,
    port: v.port ? v.port.readUInt16BE(0) : 0,
    local: v.local ? ipv4FromBytes(v.local) : undefined,
    parentIndex: v.link,
    learning: v.learning === 1,
  };
}

export function formatMac(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseMac(text: string): Buffer {
  return Buffer.from(text.split(':').map((h) => parseInt(h, 16)));
}

function describe(w: KernelWrite): string {
  const names = {
    'set-neighbor': 'set neighbour', 'del-neighbor': 'delete neighbour', 'set-fdb': 'set fdb entry',
    'del-fdb': 'delete fdb entry', 'set-route': 'replace route', 'del-route': 'delete route',
  };
  return names[w.op];
}

function objectOf(w: KernelWrite): string {
  switch (w.op) {
    case 'set-neighbor':
    case 'del-neighbor':
      return formatIpv4(w.ip);
    case 'set-fdb':
    case 'del-fdb':
      return `${w.mac} dst ${formatIpv4(w.dst)}`;
    case 'set-route':
    case 'del-route':
      return w.route.dst.toString();
  }
}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, value]) => [value, name]));

function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}

function routeProtocolNumber(protocol: rt.Route['protocol']): number {
  if (typeof protocol === 'number') return protocol;
  return protocol === undefined ? 0 : (rt.RouteProtocol[protocol]);
}
