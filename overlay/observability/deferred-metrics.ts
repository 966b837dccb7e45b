// The metrics load after the daemon is ready (prom-client and the registry's set-up cost ~45 ms of
// CPU, which start-up need not wait for), or at the first scrape if one comes sooner. What is
// recorded before they are there is kept and replayed in order, so /metrics reads the same as if
// they had been built at start. Before ready only lease-store errors are recorded: kept as a count,
// so a long etcd outage at start holds nothing.
import type { ApplyResult } from '../../backends/backend.js';
import type { MetricSources, MetricsOptions, WeftMetrics } from './metrics.js';

type Recorded = (metrics: WeftMetrics) => void;

export class DeferredMetrics {
  private metrics: WeftMetrics | undefined;
  private loading: Promise<WeftMetrics> | undefined;
  private storeErrors = 0;
  private recorded: Recorded[] = [];

  constructor(private readonly options: MetricsOptions) {}

  /** Loads and builds the metrics once; replays what was recorded meanwhile. */
  load(): Promise<WeftMetrics> {
    this.loading ??= import('./metrics.js').then(({ WeftMetrics }) => {
      const metrics = new WeftMetrics(this.options);
      for (; this.storeErrors > 0; this.storeErrors--) metrics.recordLeaseStoreError();
      for (const record of this.recorded) record(metrics);
      this.recorded = [];
      this.metrics = metrics;
      return metrics;
    });
    return this.loading;
  }

  /** The exposition's content type; read after text() (which loads the metrics). */
  get contentType(): string {
    if (this.metrics === undefined) throw new Error('metrics not loaded yet: await text() first');
    return this.metrics.contentType;
  }

  async text(): Promise<string> {
    return (await this.load()).text();
  }

  setSources(sources: MetricSources): void {
    this.record((m) => { m.setSources(sources); });
  }

  recordPass(result: ApplyResult, durationMs: number, reasons: readonly string[]): void {
    this.record((m) => { m.recordPass(result, durationMs, reasons); });
  }

  recordProbe(rttMs: number | undefined): void {
    this.record((m) => { m.recordProbe(rttMs); });
  }

  recordLeaseStoreError(): void {
    if (this.metrics === undefined) this.storeErrors++;
    else this.metrics.recordLeaseStoreError();
  }

  private record(event: Recorded): void {
    if (this.metrics === undefined) this.recorded.push(event);
    else event(this.metrics);
  }
}
