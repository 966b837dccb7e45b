// weft's Prometheus metrics, in a registry of their own (no global default registry). Gauges and
// counters that mirror state (peers, passes, failures) are read when scraped; events (a pass, a probe,
// a lease-store error) are recorded as they happen.
//
// weft_kernel_repairs_total counts what a pass had to rewrite although no lease change asked for it:
// only passes triggered by nothing but the periodic resync or kernel notifications count. Writes in
// a pass that also carries a lease change, the start-up pass, own-subnet changes and retries (whose
// original reasons are gone) are not counted, so the counter never mistakes a new peer for a repair.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ApplyResult } from '../../backends/backend.js';
import type { ReconcileStatus } from '../reconcile-loop.js';
import type { ProbeSummary } from './probe-book.js';

export interface MetricsOptions {
  /** Process metrics (CPU, memory, event loop lag ...); off in unit tests for stable output. */
  processMetrics?: boolean;
  /** How many of the worst peers get a per-peer series. */
  worstPeers?: number;
}

export interface MetricSources {
  reconcile?: () => ReconcileStatus | undefined;
  /** Whether our own lease is held (it counts in weft_leases). */
  ownLeaseHeld?: () => boolean;
  probe?: () => ProbeSummary | undefined;
  /** The own lease's subnet of each family the network runs. */
  ownSubnets?: () => readonly OwnSubnet[];
}

export interface OwnSubnet {
  family: string;
  subnet: string;
  publicIp: string;
}

export const DEFAULT_WORST_PEERS = 10;

export class WeftMetrics {
  readonly registry = new Registry();
  private sources: MetricSources = {};
  private readonly repairs: Counter<'kind'>;
  private readonly kernelWoken: Counter<'reason'>;
  private readonly passDuration: Histogram;
  private readonly storeErrors: Counter;
  private readonly probeRtt: Histogram;
  private readonly worstPeers: number;

  constructor(options: MetricsOptions = {}) {
    const registers = [this.registry];
    this.worstPeers = options.worstPeers ?? DEFAULT_WORST_PEERS;
    const reconcile = (): ReconcileStatus | undefined => this.sources.reconcile?.();
    const probe = (): ProbeSummary | undefined => this.sources.probe?.();

    const leases: Gauge = new Gauge({
      name: 'weft_leases',
      help: 'Subnet leases known to this node, its own included',
      registers,
      collect: () => {
        leases.set((reconcile()?.peers ?? 0) + (this.sources.ownLeaseHeld?.() ? 1 : 0));
      },
    });
    const peers: Gauge = new Gauge({
      name: 'weft_peers',
      help: 'Peers programmed into the kernel by the last reconcile pass',
      registers,
      collect: () => {
        peers.set(reconcile()?.peers ?? 0);
      },
    });
    const ownSubnet: Gauge<'family' | 'subnet' | 'public_ip'> = new Gauge({
      name: 'weft_own_subnet_info',
      help: 'This node\'s leased subnet and published underlay address, one series per address family (value 1)',
      labelNames: ['family', 'subnet', 'public_ip'],
      registers,
      collect: () => {
        ownSubnet.reset(); // a re-acquired lease must not leave the old subnet's series behind
        for (const own of this.sources.ownSubnets?.() ?? []) ownSubnet.set({ family: own.family, subnet: own.subnet, public_ip: own.publicIp }, 1);
      },
    });
    mirrorCounter(this.registry, 'weft_reconcile_passes_total', 'Reconcile passes that succeeded', () => reconcile()?.passes);
    mirrorCounter(this.registry, 'weft_reconcile_failures_total', 'Reconcile passes that failed (and were retried)', () => reconcile()?.failures);
    this.repairs = new Counter({
      name: 'weft_kernel_repairs_total',
      help: 'Kernel entries rewritten or removed on passes that no lease change triggered (resync, kernel events), by kind',
      labelNames: ['kind'],
      registers,
    });
    this.kernelWoken = new Counter({
      name: 'weft_reconcile_kernel_woken_passes_total',
      help: 'Full passes woken by kernel notifications (entries weft owns changed by someone else, or missed notifications), by the first such reason',
      labelNames: ['reason'],
      registers,
    });
    this.passDuration = new Histogram({
      name: 'weft_reconcile_duration_seconds',
      help: 'Duration of successful reconcile passes',
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.storeErrors = new Counter({
      name: 'weft_lease_store_errors_total',
      help: 'Failed calls to the lease store (etcd or the Kubernetes API), retried',
      registers,
    });
    this.probeRtt = new Histogram({
      name: 'weft_probe_rtt_seconds',
      help: 'Round-trip time of answered datapath probes (ICMP echo to peers)',
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    const loss: Gauge = new Gauge({
      name: 'weft_probe_loss_ratio',
      help: 'Lost / sent datapath probes over every peer\'s recent window',
      registers,
      collect: () => {
        loss.set(probe()?.lossRatio ?? 0);
      },
    });
    const broken: Gauge = new Gauge({
      name: 'weft_probe_broken_peers',
      help: 'Peers that timed out on their last probes in a row (see --probe-broken-after)',
      registers,
      collect: () => {
        broken.set(probe()?.broken.length ?? 0);
      },
    });
    const peerLoss: Gauge<'peer'> = new Gauge({
      name: 'weft_probe_peer_loss_ratio',
      help: `Datapath probe loss ratio of the ${this.worstPeers} worst peers only (by subnet)`,
      labelNames: ['peer'],
      registers,
      collect: () => {
        refreshWorst();
      },
    });
    const peerRtt: Gauge<'peer'> = new Gauge({
      name: 'weft_probe_peer_rtt_seconds',
      help: `Last datapath probe RTT of the ${this.worstPeers} worst peers only (by subnet)`,
      labelNames: ['peer'],
      registers,
      collect: () => {
        refreshWorst();
      },
    });
    // Idempotent, so either gauge may be collected first. Reset first: a peer that left the worst
    // list (or the cluster) must not keep a stale series.
    const refreshWorst = (): void => {
      peerLoss.reset();
      peerRtt.reset();
      for (const result of probe()?.worst.slice(0, this.worstPeers) ?? []) {
        peerLoss.set({ peer: result.peer }, result.lossRatio);
        if (result.lastRttMs !== undefined) peerRtt.set({ peer: result.peer }, result.lastRttMs / 1000);
      }
    };
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  /** Where state-mirroring metrics read from; call again when the daemon becomes ready. */
  setSources(sources: MetricSources): void {
    this.sources = { ...this.sources, ...sources };
  }

  /** From loop.onPass. */
  recordPass(result: ApplyResult, durationMs: number, reasons: readonly string[]): void {
    this.passDuration.observe(durationMs / 1000);
    const kernelReason = reasons.find((r) => r.startsWith('kernel-'));
    if (kernelReason !== undefined) this.kernelWoken.inc({ reason: kernelReason });
    if (!isRepairPass(reasons)) return;
    for (const [kind, count] of Object.entries(result.repaired)) {
      if (count > 0) this.repairs.inc({ kind }, count);
    }
    if (result.removed > 0) this.repairs.inc({ kind: 'stale-removed' }, result.removed);
  }

  recordLeaseStoreError(): void {
    this.storeErrors.inc();
  }

  recordProbe(rttMs: number | undefined): void {
    if (rttMs !== undefined) this.probeRtt.observe(rttMs / 1000);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}

/** Whether a pass's writes can only have been repairs: no lease change, no start, no retry among its reasons. */
export function isRepairPass(reasons: readonly string[]): boolean {
  return reasons.length > 0 && reasons.every((r) => r === 'resync' || r.startsWith('kernel-'));
}

/** A counter that follows a monotonic number kept elsewhere (it only ever moves up). */
function mirrorCounter(registry: Registry, name: string, help: string, read: () => number | undefined): void {
  let seen = 0;
  const counter: Counter = new Counter({
    name,
    help,
    registers: [registry],
    collect: () => {
      const now = read();
      if (now !== undefined && now > seen) {
        counter.inc(now - seen);
        seen = now;
      }
    },
  });
}
