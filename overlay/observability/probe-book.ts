// What the datapath probe knows about each peer, and whom to probe next. Pure bookkeeping (no clock,
// no sockets): the probe loop feeds it targets and results, the health server and metrics read it.
// Round robin runs in subnet order and resumes after the last peer probed, so a changing peer set
// neither restarts the round nor starves anyone.
import type { IpAddress } from '../../subnet/ip-address.js';

export interface ProbeTarget {
  /** The peer's subnet, e.g. "10.244.3.0/24" (also its key). */
  peer: string;
  /** The address the echo goes to (see datapath-probe.ts for which one). */
  address: IpAddress;
}

export interface PeerProbeResult {
  peer: string;
  address: string;
  /** Probes answered / sent within the recent window. */
  sent: number;
  lost: number;
  lossRatio: number;
  consecutiveTimeouts: number;
  broken: boolean;
  lastRttMs: number | undefined;
  lastProbeAt: string | undefined;
}

export interface ProbeSummary {
  peers: number;
  /** Peers probed at least once since they appeared. */
  probed: number;
  broken: PeerProbeResult[];
  /** Lost / sent over every peer's recent window (0 when nothing was sent). */
  lossRatio: number;
  /** The worst peers: broken first, then by loss ratio, then by last RTT. */
  worst: PeerProbeResult[];
}

export interface ProbeBookOptions {
  /** A peer is broken after this many timeouts in a row (and healthy again after one reply). */
  brokenAfter: number;
  /** How many recent results per peer the loss ratio covers. */
  windowSize: number;
}

interface PeerState {
  target: ProbeTarget;
  /** Recent results, oldest first: true = answered. */
  window: boolean[];
  consecutiveTimeouts: number;
  lastRttMs: number | undefined;
  lastProbeAt: Date | undefined;
}

export class ProbeBook {
  private readonly peers = new Map<string, PeerState>();
  private order: string[] = [];
  private lastProbed: string | undefined;

  constructor(private readonly options: ProbeBookOptions) {}

  get size(): number {
    return this.peers.size;
  }

  /** Replaces the target set; a peer whose address is unchanged keeps its history. */
  setTargets(targets: readonly ProbeTarget[]): void {
    const next = new Map<string, PeerState>();
    for (const target of targets) {
      const known = this.peers.get(target.peer);
      next.set(target.peer, known?.target.address.equals(target.address) ? known : fresh(target));
    }
    this.peers.clear();
    for (const [peer, state] of next) this.peers.set(peer, state);
    this.order = sortSubnets([...next.keys()]);
  }

  /** The next peer in round-robin order, or undefined when there are none. */
  next(): ProbeTarget | undefined {
    if (this.order.length === 0) return undefined;
    const after = this.lastProbed;
    let index = 0;
    if (after !== undefined) {
      index = upperBound(this.order, after);
      if (index >= this.order.length) index = 0;
    }
    const peer = this.order[index];
    if (peer === undefined) return undefined;
    this.lastProbed = peer;
    return this.peers.get(peer)?.target;
  }

  /** Records one probe's outcome; results for a peer that left or moved are ignored. */
  record(target: ProbeTarget, rttMs: number | undefined, at: Date): void {
    const state = this.peers.get(target.peer);
    if (state === undefined || !state.target.address.equals(target.address)) return;
    state.window.push(rttMs !== undefined);
    if (state.window.length > this.options.windowSize) state.window.shift();
    state.lastProbeAt = at;
    if (rttMs === undefined) {
      state.consecutiveTimeouts += 1;
    } else {
      state.consecutiveTimeouts = 0;
      state.lastRttMs = rttMs;
    }
  }

  summary(worstCount: number): ProbeSummary {
    const results = [...this.peers.values()].map((s) => this.resultOf(s));
    let sent = 0;
    let lost = 0;
    for (const r of results) {
      sent += r.sent;
      lost += r.lost;
    }
    const ranked = results.filter((r) => r.sent > 0).sort(worseFirst);
    return {
      peers: results.length,
      probed: ranked.length,
      broken: ranked.filter((r) => r.broken),
      lossRatio: sent === 0 ? 0 : lost / sent,
      worst: ranked.slice(0, worstCount),
    };
  }

  private resultOf(state: PeerState): PeerProbeResult {
    const sent = state.window.length;
    const lost = state.window.filter((ok) => !ok).length;
    return {
      peer: state.target.peer,
      address: state.target.address.toString(),
      sent,
      lost,
      lossRatio: sent === 0 ? 0 : lost / sent,
      consecutiveTimeouts: state.consecutiveTimeouts,
      broken: state.consecutiveTimeouts >= this.options.brokenAfter,
      lastRttMs: state.lastRttMs,
      lastProbeAt: state.lastProbeAt?.toISOString(),
    };
  }
}

function fresh(target: ProbeTarget): PeerState {
  return { target, window: [], consecutiveTimeouts: 0, lastRttMs: undefined, lastProbeAt: undefined };
}

function worseFirst(a: PeerProbeResult, b: PeerProbeResult): number {
  if (a.broken !== b.broken) return a.broken ? -1 : 1;
  if (a.lossRatio !== b.lossRatio) return b.lossRatio - a.lossRatio;
  return (b.lastRttMs ?? Infinity) - (a.lastRttMs ?? Infinity) || compareSubnets(a.peer, b.peer);
}

/** Orders "a.b.c.d/n" by address, then prefix length; other text sorts after, by text. */
export function compareSubnets(a: string, b: string): number {
  const ka = subnetSortKey(a);
  const kb = subnetSortKey(b);
  if (ka !== undefined && kb !== undefined) return ka - kb;
  if (ka !== undefined) return -1;
  if (kb !== undefined) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** compareSubnets' order, each text parsed once (1000 peers, once a second while leases churn). */
function sortSubnets(texts: string[]): string[] {
  const keyed = texts.map((text) => ({ text, key: subnetSortKey(text) }));
  keyed.sort((a, b) => {
    if (a.key !== undefined && b.key !== undefined) return a.key - b.key;
    return compareSubnets(a.text, b.text);
  });
  return keyed.map((k) => k.text);
}

function subnetSortKey(text: string): number | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(text);
  if (!match) return undefined;
  const [, a, b, c, d, len] = match.map(Number);
  return ((a ?? 0) * 2 ** 24 + (b ?? 0) * 2 ** 16 + (c ?? 0) * 2 ** 8 + (d ?? 0)) * 64 + (len ?? 0);
}

/** Index of the first element sorting after `value`. */
function upperBound(sorted: readonly string[], value: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareSubnets(sorted[mid] ?? '', value) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
