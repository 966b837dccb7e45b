// The one writer of kernel state. Every trigger (a lease batch, a periodic resync, kernel
// notifications) only marks the state dirty and wakes the loop. A full pass hands the whole desired
// peer set to the backend, which reads the kernel and converges it; when only leases were added or
// removed since the last good pass, the backend writes just those changes (no kernel dump), which
// keeps churn cheap at thousands of peers. Passes never overlap, and a burst of triggers collapses
// into one pass.
//
// No pass runs before the store's first complete lease list (the first snapshot): until then the
// peer set is empty, and a full pass would delete every peer's entries that the previous run left
// in the kernel. A restarted daemon therefore leaves the datapath alone until it knows who holds a
// lease, then removes only what is stale; entries that already match are never rewritten.
import type { Logger } from 'winston';
import type { ApplyResult, Backend } from '../backends/backend.js';
import { leaseKey, type Lease, type LeaseBatch } from '../subnet/lease.js';
import { LeaseConflicts } from './lease-conflicts.js';
import { dropOwnSubnet, foldBatch, type PeerMap } from './peer-set.js';
import type { IpPrefix } from '../subnet/ip-prefix.js';

export interface ReconcileOptions {
  /** Full resync period: repairs whatever changed behind our back. */
  resyncMs: number;
  /**
   * Wait this long after being woken before a full pass, so a burst of kernel notifications or
   * triggers lands in one kernel dump. Lease changes alone do not wait (see run()).
   */
  coalesceMs?: number;
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
  private ownSubnet: IpPrefix | undefined;
  private pendingReasons = new Set<string>(['start']);
  /** Lease changes since the last good pass, by subnet; used when no full pass is needed. */
  private changes = new Map<string, { lease: Lease; removed: boolean }>();
  private fullPassNeeded = true;
  /** Whether the first complete lease list arrived; no pass runs before it. */
  private haveSnapshot = false;
  private wake: (() => void) | undefined;
  private readonly listeners: PassListener[] = [];
  private readonly conflicts: LeaseConflicts;
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
  ) {
    this.conflicts = new LeaseConflicts(logger);
  }

  setOwnSubnet(subnet: IpPrefix): void {
    this.ownSubnet = subnet;
    if (dropOwnSubnet(this.peers, subnet)) this.trigger('own-subnet');
  }

  onBatch(batch: LeaseBatch): void {
    const firstSnapshot = batch.kind === 'snapshot' && !this.haveSnapshot;
    if (firstSnapshot) this.haveSnapshot = true;
    if (!foldBatch(this.peers, batch, this.ownSubnet) && !firstSnapshot) return;
    if (batch.kind === 'snapshot') {
      this.conflicts.reset(this.peers.values());
      this.trigger('lease-snapshot');
      return;
    }
    for (const lease of batch.leases) {
      if (leaseKey(lease) === this.ownSubnet?.toString()) continue;
      this.changes.set(leaseKey(lease), { lease, removed: batch.kind === 'removed' });
      if (batch.kind === 'removed') this.conflicts.remove(lease);
      else this.conflicts.upsert(lease);
    }
    this.wakeFor(`lease-${batch.kind}`);
  }

  onPass(listener: PassListener): void {
    this.listeners.push(listener);
  }

  /** Asks for a full pass (read the kernel, converge everything) as soon as the current one ends. */
  trigger(reason: string): void {
    this.fullPassNeeded = true;
    this.wakeFor(reason);
  }

  private wakeFor(reason: string): void {
    this.pendingReasons.add(reason);
    this.status.converged = false;
    this.wake?.();
  }

  /** Runs passes until the signal aborts. Never throws for backend failures: it retries. */
  async run(signal: AbortSignal): Promise<void> {
    let retryMs = this.options.retryMinMs;
    while (!signal.aborted) {
      if (this.pendingReasons.size === 0 || !this.haveSnapshot) {
        const timedOut = await this.sleepUntilWoken(this.options.resyncMs, signal);
        if (timedOut) this.trigger('resync');
        else await this.coalesce(signal);
        continue;
      }
      const reasons = [...this.pendingReasons];
      this.pendingReasons = new Set();
      if (await this.pass(reasons)) {
        retryMs = this.options.retryMinMs;
      } else {
        this.trigger('retry');
        await this.sleepUntilWoken(retryMs, signal);
        retryMs = Math.min(retryMs * 2, this.options.retryMaxMs);
      }
    }
  }

  private async pass(reasons: string[]): Promise<boolean> {
    const started = performance.now();
    const full = this.fullPassNeeded || !this.backend.applyChanges;
    const changes = [...this.changes.values()];
    this.fullPassNeeded = false;
    this.changes = new Map();
    try {
      // The live map, not a copy per pass (5000 peers: a 5000-entry Map each time): the backend
      // reads it at once, and a lease change during the pass wakes the next one.
      const result = full
        ? await this.backend.applyPeers(this.peers)
        : await this.applyChanges(changes);
      const durationMs = performance.now() - started;
      this.status.passes += 1;
      this.status.lastPassAt = new Date();
      this.status.lastError = undefined;
      this.status.peers = this.peers.size;
      this.status.converged = this.pendingReasons.size === 0;
      this.logPass(result, reasons, durationMs);
      for (const listener of this.listeners) listener(result, durationMs, reasons);
      return true;
    } catch (err) {
      this.fullPassNeeded = true; // whatever happened, the next pass reads the kernel
      this.status.failures += 1;
      this.status.lastError = (err as Error).message;
      this.logger.warn('reconcile pass failed; will retry', { reasons, error: (err as Error).message });
      return false;
    }
  }

  /**
   * Says what a good pass did. The level is checked here, not left to winston, which timestamps and
   * serialises a record before its transport drops it: under churn every pass writes, and those
   * dropped records were ~6% of weftd's CPU at --log-level warn.
   */
  private logPass(result: ApplyResult, reasons: string[], durationMs: number): void {
    const repaired = Object.values(result.repaired).reduce((a, b) => a + b, 0);
    if (repaired > 0 || result.removed > 0) {
      if (!this.logger.isInfoEnabled()) return;
      this.logger.info('kernel state converged', {
        reasons, peers: this.peers.size, written: result.repaired, removed: result.removed, ms: Math.round(durationMs),
      });
    } else if (this.status.passes === 1) {
      // Said once at info: after a restart this is the proof that no peer's entry was touched.
      this.logger.info('kernel state already matches the first lease list', { reasons, peers: this.peers.size, ms: Math.round(durationMs) });
    } else if (this.logger.isDebugEnabled()) {
      this.logger.debug('kernel state already converged', { reasons, peers: this.peers.size });
    }
  }

  private applyChanges(changes: { lease: Lease; removed: boolean }[]): Promise<ApplyResult> {
    const apply = this.backend.applyChanges?.bind(this.backend);
    if (!apply) throw new Error('backend has no incremental path');
    return apply(changes.filter((c) => !c.removed).map((c) => c.lease), changes.filter((c) => c.removed).map((c) => c.lease));
  }

  /**
   * Lets a burst land in one pass. An incremental pass only yields to the events already queued
   * (one etcd watch message carries many leases): a lease change reaches the kernel at once, and
   * changes arriving during a pass wait for it and go together in the next. A full pass (a kernel
   * dump, 1-2 s at 5000 peers) waits `coalesceMs` so a flurry of notifications costs one dump.
   */
  private async coalesce(signal: AbortSignal): Promise<void> {
    if (this.fullPassNeeded && this.options.coalesceMs) await this.sleepUntilWoken(this.options.coalesceMs, signal, false);
    else await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** Resolves true when `ms` passed, false when woken by a trigger or an abort (unless `wakeable` is false). */
  private sleepUntilWoken(ms: number, signal: AbortSignal, wakeable = true): Promise<boolean> {
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
      if (wakeable) this.wake = () => { finish(false); };
    });
  }
}
