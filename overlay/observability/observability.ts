// Everything operators look at, put together for weftd: metrics, the health server and the datapath
// probe, hooked into the daemon through DaemonEvents.onReady and a thin Backend wrapper (the backend
// sees the full desired peer set on every pass, which is what the probe should probe).
import type { Logger } from 'winston';
import type { Backend } from '../../backends/backend.js';
import { leaseHalf, leaseKey, type Lease } from '../../subnet/lease.js';
import type { DaemonEvents, DaemonParts, RunningState } from '../daemon.js';
import { DatapathProbe, DEFAULT_PROBE_OPTIONS, type DatapathProbeOptions } from './datapath-probe.js';
import { HealthServer } from './health-server.js';
import { IcmpPinger, type Pinger } from './icmp-pinger.js';
import { DeferredMetrics } from './deferred-metrics.js';
import type { OwnSubnet } from './metrics.js';
import type { ProbeSummary } from './probe-book.js';
import { enabledFamilies } from '../network-config.js';
import type { IpFamily } from '../../subnet/ip-address.js';

/**
 * The probe learns the applied peer set at most this often: under churn a pass runs per lease
 * change (100/s), and rebuilding the probe's N targets on each cost as much CPU as the rest of weftd.
 */
const PROBE_PEERS_REFRESH_MS = 1000;

export interface ObservabilityOptions {
  healthzIp: string;
  /** 0 = no HTTP server (metrics and probe still run for nothing, so they are off too). */
  healthzPort: number;
  resyncMs: number;
  /** false turns the datapath probe off. */
  probe: Partial<DatapathProbeOptions> | false;
  version?: string | undefined;
  /** Tests: another pinger than the raw-socket one. */
  processMetrics?: boolean;
}

export class Observability {
  readonly metrics: DeferredMetrics;
  readonly server: HealthServer;
  private probe: DatapathProbe | undefined;
  private probeError: string | undefined;
  private readonly stop = new AbortController();
  private probeRun: Promise<void> | undefined;
  private backendType: string | undefined;
  /** The peer set the backend last converged onto (the wrapper's own map, read when the probe is told). */
  private appliedPeers: ReadonlyMap<string, Lease> = new Map();
  private probePeersTimer: NodeJS.Timeout | undefined;
  private probePeersStale = false;

  constructor(
    private readonly options: ObservabilityOptions,
    private readonly logger: Logger,
  ) {
    this.metrics = new DeferredMetrics({ processMetrics: options.processMetrics ?? true });
    this.server = new HealthServer({
      host: options.healthzIp,
      port: options.healthzPort,
      resyncMs: options.resyncMs,
      metrics: this.metrics,
      logger,
      version: options.version,
      probe: {
        summary: (): ProbeSummary | undefined => this.probe?.summary(),
        error: (): string | undefined => this.probeError,
      },
    });
    this.metrics.setSources({ probe: () => this.probe?.summary() });
  }

  get enabled(): boolean {
    return this.options.healthzPort !== 0;
  }

  /** Pass to runDaemon. */
  get events(): DaemonEvents {
    return { onReady: (state) => { this.onReady(state); } };
  }

  /** The daemon's parts with the backend wrapped, so the probe learns each pass's peer set. */
  wrapParts<P extends DaemonParts>(parts: P): P {
    const createBackend = parts.createBackend.bind(parts);
    return {
      ...parts,
      createBackend: (...args: Parameters<DaemonParts['createBackend']>) =>
        observeAppliedPeers(createBackend(...args), (peers) => { this.onPeersApplied(peers); }),
    };
  }

  /** Starts the HTTP server (when a port is set). Throws when the address cannot be bound. */
  async start(): Promise<void> {
    if (!this.enabled) return;
    await this.server.listen();
  }

  async close(): Promise<void> {
    clearTimeout(this.probePeersTimer);
    this.stop.abort();
    await this.probeRun;
    await this.server.close();
  }

  private onReady(state: RunningState): void {
    this.server.setRunning(state);
    this.metrics.setSources({ reconcile: () => state.loop.status, ownLeaseHeld: () => true, ownSubnets: () => ownSubnetsOf(state) });
    state.loop.onPass((result, durationMs, reasons) => { this.metrics.recordPass(result, durationMs, reasons); });
    this.backendType = state.backend.type;
    if (this.enabled && this.options.probe !== false) this.startProbe(this.options.probe, enabledFamilies(state.config));
    this.loadMetricsSoon();
  }

  /** After ready, off the start-up path: the recorded passes and probe results wait in memory till then. */
  private loadMetricsSoon(): void {
    setImmediate(() => {
      this.metrics.load().catch((err: unknown) => { this.logger.warn('metrics could not be loaded', { error: String(err) }); });
    });
  }

  private startProbe(overrides: Partial<DatapathProbeOptions>, families: readonly IpFamily[]): void {
    const onSocketError = (err: Error): void => { this.logger.warn('datapath probe socket error', { error: err.message }); };
    let pinger: Pinger;
    try {
      pinger = IcmpPinger.open(onSocketError, families);
    } catch (err) {
      this.probeError = `cannot open a raw ICMP socket (${(err as Error).message}); needs CAP_NET_RAW`;
      this.logger.warn(`datapath probe off: ${this.probeError}`);
      return;
    }
    const probe = new DatapathProbe(pinger, { ...DEFAULT_PROBE_OPTIONS, families, ...overrides });
    probe.onResult((_target, rttMs) => { this.metrics.recordProbe(rttMs); });
    this.probe = probe;
    this.tellProbePeers();
    this.probeRun = probe.run(this.stop.signal).finally(() => { pinger.close(); });
  }

  /** Tells the probe at once, then at most once per PROBE_PEERS_REFRESH_MS (the latest set). */
  private onPeersApplied(peers: ReadonlyMap<string, Lease>): void {
    this.appliedPeers = peers;
    if (this.probePeersTimer !== undefined) {
      this.probePeersStale = true;
      return;
    }
    this.tellProbePeers();
    this.probePeersTimer = setTimeout(() => {
      this.probePeersTimer = undefined;
      if (!this.probePeersStale) return;
      this.probePeersStale = false;
      this.onPeersApplied(this.appliedPeers);
    }, PROBE_PEERS_REFRESH_MS);
    this.probePeersTimer.unref();
  }

  private tellProbePeers(): void {
    if (this.backendType !== undefined) this.probe?.setPeers(this.appliedPeers.values(), this.backendType);
  }
}

/** The same backend, telling `onApplied` about each peer set it converged the kernel onto. */
export function observeAppliedPeers(inner: Backend, onApplied: (peers: ReadonlyMap<string, Lease>) => void): Backend {
  let applied = new Map<string, Lease>();
  const applyChanges = inner.applyChanges?.bind(inner);
  return {
    get type() {
      return inner.type;
    },
    get podMtu() {
      return inner.podMtu;
    },
    prepare: (signal) => inner.prepare(signal),
    configureOwnLease: (lease) => inner.configureOwnLease(lease),
    applyPeers: async (peers) => {
      const result = await inner.applyPeers(peers);
      applied = new Map(peers);
      onApplied(applied);
      return result;
    },
    ...(applyChanges && {
      applyChanges: async (upserts: readonly Lease[], removals: readonly Lease[]) => {
        const result = await applyChanges(upserts, removals);
        for (const lease of removals) applied.delete(leaseKey(lease));
        for (const lease of upserts) applied.set(leaseKey(lease), lease);
        onApplied(applied);
        return result;
      },
    }),
    ownsKernelEvent: (event) => inner.ownsKernelEvent(event),
  };
}

/** The own lease's half of each family the network runs, for weft_own_subnet_info (state.lease follows re-acquisitions). */
function ownSubnetsOf(state: RunningState): OwnSubnet[] {
  return enabledFamilies(state.config).flatMap((family) => {
    const half = leaseHalf(state.lease, family);
    return half ? [{ family, subnet: half.subnet.toString(), publicIp: half.publicIp?.toString() ?? '' }] : [];
  });
}
