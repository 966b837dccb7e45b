// Kernel change notifications (part of the rtnetlink adapter: only backends/rtnetlink*.ts import
// the `netlink` package).
import { createNetlink, Protocol, type NetlinkSocket, rt } from 'netlink';
import { parseMessage as parseRtMessage } from 'netlink/dist/rt/structs.js';
import { kernelEventOf, nexthopEntryOf } from './rtnetlink-decode.js';
import type { KernelEvent } from './rtnetlink-types.js';

const { NEWLINK, DELLINK, NEWROUTE, DELROUTE, NEWNEIGH, DELNEIGH } = rt.MessageType;
const WATCHED_TYPES = new Set<rt.MessageType>([NEWLINK, DELLINK, NEWROUTE, DELROUTE, NEWNEIGH, DELNEIGH]);
const DELETIONS = new Set<rt.MessageType>([DELLINK, DELROUTE, DELNEIGH]);
const { NEWNEXTHOP, DELNEXTHOP } = rt.MessageType;
/** RTNLGRP_NEXTHOP (32): above 31, so only NETLINK_ADD_MEMBERSHIP joins it, which addMembership uses. */
const NEXTHOP_GROUP = rt.MulticastGroups.NEXTHOP;
/** Asked for; the kernel caps it at twice net.core.rmem_max. Fewer overflows under a storm. */
const MONITOR_RECV_BUFFER = 8 * 1024 * 1024;
const MONITOR_REOPEN_MS = 1000;

/**
 * Link, route (both families), neighbour and nexthop object notifications on a socket of its own. When its queue overflows
 * (ENOBUFS: the kernel dropped notifications) it reports a 'gap' and keeps reading; the netlink
 * package is patched (patches/netlink+0.3.0.patch) so that an overflow no longer aborts the
 * process. It is closed while we write in bulk ourselves (thousands of our own notifications
 * would only overflow it); reopening reports a gap too. A socket that fails otherwise is reopened.
 */
class KernelMonitor {
  private socket: NetlinkSocket | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly onEvent: (event: KernelEvent) => void,
    private readonly onError: (err: Error) => void,
  ) {}

  open(): void {
    // A plain netlink socket, not the package's rtnetlink one: that one parses every message it
    // receives whether anyone listens or not, and we parse only the types we watch (under churn,
    // three notifications per lease change: the double parse was ~5% of weftd's CPU).
    const socket = createNetlink(Protocol.ROUTE, { recvBufferSize: MONITOR_RECV_BUFFER, sendBufferSize: 64 * 1024 });
    for (const group of ['LINK', 'IPV4_ROUTE', 'IPV6_ROUTE', 'NEIGH'] as const) socket.addMembership(rt.MulticastGroups[group]);
    joinNexthopGroup(socket);
    socket.on('message', (messages: { type: rt.MessageType; data: Buffer }[]) => {
      for (const msg of messages) {
        if (!WATCHED_TYPES.has(msg.type) && msg.type !== NEWNEXTHOP && msg.type !== DELNEXTHOP) continue;
        try {
          const event = msg.type === NEWNEXTHOP || msg.type === DELNEXTHOP
            ? nexthopEvent(msg.data, msg.type === DELNEXTHOP)
            : kernelEventOf(parseRtMessage(msg.type, msg.data), DELETIONS.has(msg.type));
          if (event) this.onEvent(event);
        } catch (err) {
          this.onError(err as Error);
        }
      }
    });
    socket.on('error', (err: Error) => { this.failed(err); });
    this.socket = socket;
  }

  close(): void {
    clearTimeout(this.reopenTimer);
    this.reopenTimer = undefined;
    this.socket?.socket.close();
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

/** A deleted nexthop object takes its IPv4 routes with it silently: only its own notification tells. */
function nexthopEvent(data: Buffer, deleted: boolean): KernelEvent | undefined {
  const nexthop = nexthopEntryOf(data);
  return nexthop ? { kind: 'nexthop', deleted, ifindex: nexthop.oif, nexthop } : undefined;
}

/** A kernel without nexthop objects has no such group either; the periodic resync still repairs there. */
function joinNexthopGroup(socket: NetlinkSocket): void {
  try {
    socket.addMembership(NEXTHOP_GROUP);
  } catch {
    // EINVAL on kernels before 5.3: nothing to watch.
  }
}

const monitors = new Set<KernelMonitor>();

/** Reports kernel changes of links, routes, neighbours, FDB entries and nexthop objects (and gaps) until the returned function is called. */
export function watchKernelChanges(onEvent: (event: KernelEvent) => void, onError: (err: Error) => void): () => void {
  const monitor = new KernelMonitor(onEvent, onError);
  monitor.open();
  monitors.add(monitor);
  return () => {
    monitors.delete(monitor);
    monitor.close();
  };
}

/** Runs a bulk write of our own with every monitor closed (each reports a gap when it reopens). */
export async function withMonitorsPaused<T>(write: () => Promise<T>): Promise<T> {
  for (const monitor of monitors) monitor.pause();
  try {
    return await write();
  } finally {
    for (const monitor of monitors) monitor.resume();
  }
}
