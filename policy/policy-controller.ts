// weft's NetworkPolicy controller: API objects in, one nftables table out, for the pods of this node.
//
// Design note
// - Seam: its own container in weft's DaemonSet (cmd/weft-policy.ts), not a flag inside weftd. It
//   shares nothing with the overlay's reconcile loop but the node; as its own process it can be
//   turned on or off by the manifest alone, restarted or upgraded without touching routes, and a
//   bug or memory growth in it (it caches every pod of the cluster) cannot stall weftd's leases.
//   It reads this node's pod subnet from the subnet.env weftd writes, as the CNI plugin does.
// - One writer: informers only mark the state dirty; a single loop, debounced, compiles the whole
//   node (pure, src/policy-compiler.ts) and replaces the table in one `nft -f` transaction. A
//   failed write is retried with capped backoff; the old rules stay in force meanwhile.
// - Start and restart: nothing is written until Pods, Namespaces and NetworkPolicies have each
//   been listed, so a restarted controller never opens what the previous one closed; the table it
//   finds stays in force until the first complete transaction replaces it. Stopping leaves it too.
// - API server away: informers keep their last objects, so the rules stay as they are.
// - The race between a pod's first packet and its address reaching the API: while any policy
//   exists, addresses of this node's pod subnet that belong to no known pod are dropped (counter
//   "pending") until the pod is known; clusters without policies are not affected at all.
// - Never a silent allow: what cannot be enforced as written is narrowed (see policy-rules.ts) and
//   logged once per policy and reason.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'winston';
import { parseSubnetEnv } from '../cni/subnet-env-file.js';
import { abortableSleep, Backoff } from '../subnet/backoff.js';
import { addressRange, parseRange, subtract, type AddressRange } from './address-ranges.js';
import type { PolicySources } from './kube-sources.js';
import { compileNodePolicy } from './policy-compiler.js';
import type { PolicyEnforcer } from './policy-enforcer.js';
import type { PolicyMetrics } from './policy-metrics.js';
import type { NodePolicyModel } from './policy-model.js';

export interface PolicyControllerOptions {
  nodeName: string;
  /** flannel's subnet.env, for this node's pod subnets (the unknown-address guard). */
  subnetFile: string;
  /** Changes arriving within this window are written together. */
  debounceMs: number;
  /** Rewrite the table this often even without changes (repairs a table someone removed). */
  resyncMs: number;
}

export class PolicyController {
  private dirtySince: number | undefined;
  private wake: (() => void) | undefined;
  private readonly reported = new Set<string>();
  private lastModel: NodePolicyModel | undefined;

  constructor(
    private readonly options: PolicyControllerOptions,
    private readonly sources: PolicySources,
    private readonly enforcer: PolicyEnforcer,
    private readonly metrics: PolicyMetrics,
    private readonly logger: Logger,
  ) {}

  /** The last model written, for the status endpoint; undefined before the first write. */
  get model(): NodePolicyModel | undefined {
    return this.lastModel;
  }

  async run(signal: AbortSignal): Promise<void> {
    this.sources.onChange(() => { this.markDirty(Date.now()); });
    signal.addEventListener('abort', () => this.wake?.(), { once: true });
    this.sources.start();
    const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
    let lastWrite = Date.now();
    try {
      for (;;) {
        await this.waitForWork(lastWrite + this.options.resyncMs, signal);
        if (signal.aborted) break;
        const since = this.dirtySince;
        this.dirtySince = undefined;
        try {
          await this.pass(since === undefined);
          if (since !== undefined) this.metrics.recordSync((Date.now() - since) / 1000);
          backoff.reset();
          lastWrite = Date.now();
        } catch (err) {
          this.metrics.recordFailure();
          const retryMs = backoff.next();
          this.logger.error('writing policy rules failed; the previous rules stay in force', { error: (err as Error).message, retryMs });
          this.markDirty(since ?? Date.now());
          await abortableSleep(retryMs, signal).catch(() => undefined);
        }
      }
    } finally {
      await this.sources.stop();
    }
  }

  private async pass(resync: boolean): Promise<void> {
    const model = compileNodePolicy(this.sources.world(), this.options.nodeName);
    this.reportProblems(model);
    const localSubnets = await this.readLocalSubnets();
    const result = await this.enforcer.enforce(model, { localSubnets }, resync);
    this.metrics.recordPass(model, result.size);
    this.lastModel = model;
    if (result.written && !resync) {
      this.logger.info('policy rules written', {
        policies: model.policyCount,
        ingressIsolated: model.pods.filter((p) => p.ingress).length,
        egressIsolated: model.pods.filter((p) => p.egress).length,
        ...result.size,
      });
    }
  }

  private reportProblems(model: NodePolicyModel): void {
    for (const problem of model.problems) {
      const key = `${problem.policy}: ${problem.reason}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      this.logger.warn('NetworkPolicy cannot be enforced as written', problem);
    }
  }

  private async readLocalSubnets(): Promise<AddressRange[]> {
    try {
      const env = parseSubnetEnv(await readFile(this.options.subnetFile, 'utf8'), this.options.subnetFile);
      // The bridge's own address is the node, not a pod that is yet to be known: kube-proxy's
      // hairpin masquerade forwards packets from it.
      return subtract(env.subnets.map((s) => parseRange(s)), env.gateways.map((g) => addressRange(g)));
    } catch (err) {
      const key = `subnet:${(err as Error).message}`;
      if (!this.reported.has(key)) {
        this.reported.add(key);
        this.logger.warn('no pod subnet for this node yet: new pod addresses are not held until known', { error: (err as Error).message });
      }
      return [];
    }
  }

  private markDirty(at: number): void {
    this.dirtySince ??= at;
    this.wake?.();
  }

  /**
   * Resolves when a change is `debounceMs` old or the resync is due (only once the sources are
   * synced: before that there is nothing to write), or on abort. A change only wakes the sleep so
   * that the deadline is computed again.
   */
  private async waitForWork(resyncAt: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const synced = this.sources.synced();
      const dueAt = !synced ? Infinity : this.dirtySince !== undefined ? this.dirtySince + this.options.debounceMs : resyncAt;
      const waitMs = dueAt - Date.now();
      if (waitMs <= 0) return;
      await this.sleepUnlessWoken(Math.min(waitMs, this.options.resyncMs));
    }
  }

  /** Sleeps `ms`; markDirty or abort ends it early. Only the current sleep can be woken. */
  private sleepUnlessWoken(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        if (this.wake === finish) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wake = finish;
    });
  }
}
