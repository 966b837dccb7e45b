// The one writer of kernel state. Every trigger (a lease batch, a periodic resync, later kernel
// notifications) only marks the state dirty and wakes the loop; each pass hands the whole desired
// peer set to the backend, which converges the kernel onto it. Passes never overlap, and a burst of
// triggers collapses into one pass, which is what keeps thousands of peers fast.
import type { Logger } from 'winston';
import type { ApplyResult, Backend } from '../backends/backend.js';
import type { Ipv4Net } from '../subnet/ipv4.js';
import type { LeaseBatch } from '../subnet/lease.js';
import { dropOwnSubnet, foldBatch, type PeerMap } from './peer-set.js';

export interface ReconcileOptions {
  /** Full resync period: repairs whatever changed behind our back. */
  resyncMs: number;
  /** Retry delay after a failed pass doubles from min to max. */
  retryMinMs: number;
  retryMaxMs: number;
}

export interface ReconcileStatus {
  passes: number;
  failures: number;
  lastPassAt: Date | undefined;
  lastError: string | undefined;
  /** True when the last pass succeeded and nothing changed since. */
  converged: boolean;
  peers: number;
}

export type PassListener = (result: ApplyResult, durationMs: number, reasons: string[]) => void;

export class ReconcileLoop {
  private readonly peers: PeerMap = new Map();
  private ownSubnet: Ipv4Net | undefined;
  private pendingReasons = new Set<string>(['start']);
  private wake: (() => void) | undefined;
  private readonly listeners: PassListener[] = [];
  readonly status: ReconcileStatus = {
    passes: 0,
    failures: 0,
    lastPassAt: undefined,
    lastError: undefined,
    converged: false,
    peers: 0,
  };

  constructor(
    private readonly backend: Backend,
    private readonly logger: Logger,
    private readonly options: ReconcileOptions,
  ) {}

  setOwnSubnet(subnet: Ipv4Net): void {
    this.ownSubnet = subnet;
    if (dropOwnSubnet(this.peers, subnet)) this.trigger('own-subnet');
  }

  onBatch(batch: LeaseBatch): void {
    if (foldBatch(this.peers, batch, this.ownSubnet)) this.trigger(`lease-${batch.kind}`);
  }

  onPass(listener: PassListener): void {
    this.listeners.push(listener);
  }

  /** Asks for a pass as soon as the current one (if any) ends. */
  trigger(reason: string): void {
    this.pendingReasons.add(reason);
    this.status.converged = false;
    this.wake?.();
  }

  /** Runs passes until the signal aborts. Never throws for backend failures: it retries. */
  async run(signal: AbortSignal): Promise<void> {
    let retryMs = this.options.retryMinMs;
    while (!signal.aborted) {
      if (this.pendingReasons.size === 0) {
        const timedOut = await this.sleepUntilWoken(this.options.resyncMs, signal);
        if (timedOut) this.pendingReasons.add('resync');
        continue;
      }
      const reasons = [...this.pendingReasons];
      this.pendingReasons = new Set();
      if (await this.pass(reasons)) {
        retryMs = this.options.retryMinMs;
      } else {
        this.pendingReasons.add('retry');
        await this.sleepUntilWoken(retryMs, signal);
        retryMs = Math.min(retryMs * 2, this.options.retryMaxMs);
      }
    }
  }

  private async pass(reasons: string[]): Promise<boolean> {
    const started = performance.now();
    try {
      const result = await this.backend.applyPeers(new Map(this.peers));
      const durationMs = performance.now() - started;
      this.status.passes += 1;
      this.status.lastPassAt = new Date();
      this.status.lastError = undefined;
      this.status.peers = this.peers.size;
      this.status.converged = this.pendingReasons.size === 0;
      const repaired = Object.values(result.repaired).reduce((a, b) => a + b, 0);
      if (repaired > 0 || result.removed > 0) {
        this.logger.info('kernel state converged', {
          reasons, peers: this.peers.size, written: result.repaired, removed: result.removed, ms: Math.round(durationMs),
        });
      } else {
        this.logger.debug('kernel state already converged', { reasons, peers: this.peers.size });
      }
      for (const listener of this.listeners) listener(result, durationMs, reasons);
      return true;
    } catch (err) {
      this.status.failures += 1;
      this.status.lastError = (err as Error).message;
      this.logger.warn('reconcile pass failed; will retry', { reasons, error: (err as Error).message });
      return false;
    }
  }

  /** Resolves true when `ms` passed, false when woken by a trigger or an abort. */
  private sleepUntilWoken(ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const finish = (timedOut: boolean): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.wake = undefined;
        resolve(timedOut);
      };
      const onAbort = (): void => { finish(false); };
      const timer = setTimeout(() => { finish(true); }, ms);
      signal.addEventListener('abort', onAbort, { once: true });
      this.wake = () => { finish(false); };
    });
  }
}
