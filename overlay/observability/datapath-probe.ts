// Checks that the datapath to each peer carries traffic, with ICMP echoes paced so that the load stays
// flat however many peers there are: one echo every 1/ratePerSecond s, round robin (5/s and 5000 peers
// means each peer about every 1000 s). A peer is broken after `brokenAfter` timeouts in a row and
// healthy again after one reply.
//
// Which address is probed, per backend and per family (IPv6 as IPv4, with the lease's IPv6 half):
// - vxlan: the peer's subnet network address (10.244.3.0), which the peer's flannel.<VNI> holds as a
//   /32 (flannel-v6.<VNI> holds fd00:..:3:: as a /128). The echo goes through our neighbour + FDB + onlink route and the peer's VXLAN device, so it
//   tests exactly the entries we program, without needing any pod on the peer.
// - host-gw: the peer's public IP. Our route for its subnet goes "via <public IP>", so that next hop
//   answering is what the route depends on. The peer's cni0 gateway (.1) exists only once a pod ran
//   there, and nothing answers for .0, so probing inside the subnet would report healthy nodes broken.
// - any other type: not probed.
import { IpAddress, type IpFamily } from '../../subnet/ip-address.js';
import type { IpPrefix } from '../../subnet/ip-prefix.js';
import type { Lease } from '../../subnet/lease.js';
import type { Pinger } from './icmp-pinger.js';
import { ProbeBook, type ProbeSummary, type ProbeTarget } from './probe-book.js';

export interface DatapathProbeOptions {
  /** Echoes per second over all peers. */
  ratePerSecond: number;
  timeoutMs: number;
  brokenAfter: number;
  /** Recent results per peer that its loss ratio covers. */
  windowSize: number;
  /** The families probed (IPv4 only unless told); the pinger must have a socket for each. */
  families?: readonly IpFamily[];
}

export const DEFAULT_PROBE_OPTIONS: DatapathProbeOptions = { ratePerSecond: 5, timeoutMs: 2000, brokenAfter: 3, windowSize: 10 };

export interface ProbeClock {
  now(): Date;
  /** Resolves after `ms`, or early (without throwing) when the signal aborts. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
}

export const realClock: ProbeClock = {
  now: () => new Date(),
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
    }),
};

/** Called with each result, e.g. to feed the RTT histogram. */
export type ProbeListener = (target: ProbeTarget, rttMs: number | undefined) => void;

export class DatapathProbe {
  readonly book: ProbeBook;
  private readonly listeners: ProbeListener[] = [];
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly pinger: Pinger,
    private readonly options: DatapathProbeOptions = DEFAULT_PROBE_OPTIONS,
    private readonly clock: ProbeClock = realClock,
  ) {
    if (!(options.ratePerSecond > 0)) throw new RangeError('ratePerSecond must be above 0');
    this.book = new ProbeBook({ brokenAfter: options.brokenAfter, windowSize: options.windowSize });
  }

  /**
   * The peers to probe now (the leases the kernel was last told about). Peers of another backend type
   * are skipped: our backend programs no route to them.
   */
  setPeers(peers: Iterable<Lease>, ownBackendType: string): void {
    const families = this.options.families ?? ['ipv4'];
    const targets: ProbeTarget[] = [];
    for (const lease of peers) {
      if (lease.backendType !== ownBackendType) continue;
      targets.push(...probeTargetsOf(lease).filter((t) => families.includes(t.address.family)));
    }
    this.book.setTargets(targets);
  }

  onResult(listener: ProbeListener): void {
    this.listeners.push(listener);
  }

  summary(worstCount = 10): ProbeSummary {
    return this.book.summary(worstCount);
  }

  /**
   * Sends one echo per interval until the signal aborts; echoes overlap when the timeout is longer
   * than the interval. `maxProbes` bounds a run (tests).
   */
  async run(signal: AbortSignal, maxProbes = Infinity): Promise<void> {
    const intervalMs = 1000 / this.options.ratePerSecond;
    let sent = 0;
    while (!signal.aborted && sent < maxProbes) {
      const target = this.book.next();
      if (target) {
        sent += 1;
        this.launch(target);
      }
      await this.clock.sleep(intervalMs, signal);
    }
    await Promise.all([...this.inFlight]);
  }

  private launch(target: ProbeTarget): void {
    const done = this.pinger
      .ping(target.address, this.options.timeoutMs)
      .catch(() => undefined)
      .then((rttMs) => {
        this.book.record(target, rttMs, this.clock.now());
        for (const listener of this.listeners) listener(target, rttMs);
      })
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }
}

/** Where an echo for one family of a peer goes (see the note at the top), or undefined when it is not probed. */
export function probeTarget(backendType: string, subnet: IpPrefix, publicIp: IpAddress | undefined): ProbeTarget | undefined {
  const peer = subnet.toString();
  if (backendType === 'vxlan') return { peer, address: subnet.address };
  if (backendType === 'host-gw' && publicIp !== undefined) return { peer, address: publicIp };
  return undefined;
}

/** The target of a lease's IPv4 half, then of its IPv6 half (each if it has one). */
export function probeTargetsOf(lease: Lease): ProbeTarget[] {
  const ipv4 = lease.subnet && probeTarget(lease.backendType, lease.subnet, lease.publicIp);
  const ipv6 = lease.ipv6Subnet && probeTarget(lease.backendType, lease.ipv6Subnet, lease.publicIpv6);
  return [ipv4, ipv6].filter((t): t is ProbeTarget => t !== undefined);
}
