// Liveness and readiness as pure functions of what the daemon reports, so they can be tested alone.
//
// "Stuck" (liveness fails): the reconcile loop made no progress (no pass succeeded and none failed) for
// max(2 x resync, 60 s). An idle loop still runs a pass every resync period, and a failing one retries
// at least every 10 s, so silence that long means a pass hangs (e.g. a netlink call that never
// returns), which a restart fixes. Before the daemon is ready (waiting for etcd, a pod CIDR ...) it is
// alive: restarting would not make the store answer sooner.
import type { ReconcileStatus } from '../reconcile-loop.js';
import type { FirewallStatus } from '../firewall/firewall-keeper.js';
import type { ProbeSummary } from './probe-book.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export interface HealthInputs {
  nowMs: number;
  /** Lease held and subnet.env written (DaemonEvents.onReady fired). */
  ready: boolean;
  reconcile: ReconcileStatus | undefined;
  /** Last time the loop's pass or failure count moved (or the daemon became ready). */
  lastProgressMs: number | undefined;
  stuckAfterMs: number;
  /** undefined when the probe is off; `probeError` says why it could not start. */
  probe: ProbeSummary | undefined;
  probeError?: string | undefined;
  /** undefined when weftd manages no firewall rules (no --ip-masq, no forward rules). */
  firewall?: FirewallStatus | undefined;
}

export function stuckAfterMs(resyncMs: number): number {
  return Math.max(2 * resyncMs, 60_000);
}

export function evaluateLiveness(input: HealthInputs): CheckResult {
  if (!input.ready || input.lastProgressMs === undefined) {
    return { name: 'reconcile-loop', ok: true, detail: 'starting (lease or subnet.env not ready yet)' };
  }
  const silentMs = input.nowMs - input.lastProgressMs;
  if (silentMs > input.stuckAfterMs) {
    return {
      name: 'reconcile-loop',
      ok: false,
      detail: `no reconcile pass finished or failed for ${Math.round(silentMs / 1000)} s (limit ${Math.round(input.stuckAfterMs / 1000)} s); a pass is hanging`,
    };
  }
  return { name: 'reconcile-loop', ok: true, detail: `last progress ${Math.round(silentMs / 1000)} s ago` };
}

export function evaluateReadiness(input: HealthInputs): { ok: boolean; checks: CheckResult[] } {
  const checks: CheckResult[] = [leaseCheck(input), firewallCheck(input), reconcileCheck(input), datapathCheck(input)];
  return { ok: checks.every((c) => c.ok), checks };
}

function leaseCheck(input: HealthInputs): CheckResult {
  return input.ready
    ? { name: 'lease', ok: true, detail: 'lease held, subnet.env written' }
    : { name: 'lease', ok: false, detail: 'no lease yet or subnet.env not written' };
}

function firewallCheck(input: HealthInputs): CheckResult {
  const status = input.firewall;
  if (status === undefined) return { name: 'firewall', ok: true, detail: 'no rules to manage' };
  if (!status.installed) return { name: 'firewall', ok: false, detail: 'masquerade/forward rules not installed yet' };
  if (status.lastError !== undefined) return { name: 'firewall', ok: false, detail: `checking the rules failed: ${status.lastError}` };
  return { name: 'firewall', ok: true, detail: `rules installed (${status.repairs} repairs)` };
}

function reconcileCheck(input: HealthInputs): CheckResult {
  const status = input.reconcile;
  if (status === undefined || status.passes === 0) {
    return { name: 'reconcile', ok: false, detail: status?.lastError ? `first pass failed: ${status.lastError}` : 'no reconcile pass yet' };
  }
  if (status.converged) return { name: 'reconcile', ok: true, detail: `converged on ${status.peers} peers` };
  // Not converged but the last pass succeeded: a trigger is pending, which is normal for a moment.
  if (status.lastError === undefined) return { name: 'reconcile', ok: true, detail: `last pass succeeded (${status.peers} peers), next pass pending` };
  return { name: 'reconcile', ok: false, detail: `last pass failed: ${status.lastError}` };
}

function datapathCheck(input: HealthInputs): CheckResult {
  if (input.probe === undefined) {
    return { name: 'datapath', ok: true, detail: input.probeError ? `probe unavailable: ${input.probeError}` : 'probe off' };
  }
  const broken = input.probe.broken;
  if (broken.length === 0) {
    return { name: 'datapath', ok: true, detail: `${input.probe.probed}/${input.probe.peers} peers probed, none broken` };
  }
  const names = broken.slice(0, 5).map((b) => `${b.peer} (${b.address})`).join(', ');
  const more = broken.length > 5 ? ` and ${broken.length - 5} more` : '';
  return { name: 'datapath', ok: false, detail: `${broken.length} peer(s) not answering probes: ${names}${more}` };
}

/** Remembers when the loop last moved; `observe` is called from a timer and on each request. */
export class ProgressTracker {
  private count: number | undefined;
  private lastMs: number | undefined;

  observe(status: ReconcileStatus, nowMs: number): void {
    const count = status.passes + status.failures;
    if (count !== this.count) {
      this.count = count;
      this.lastMs = nowMs;
    }
    // A successful pass has its own exact time; a failure is only known when sampled.
    const passMs = status.lastPassAt?.getTime();
    if (passMs !== undefined && (this.lastMs === undefined || passMs > this.lastMs)) this.lastMs = Math.min(passMs, nowMs);
  }

  /** The daemon just became ready: the window starts now. */
  start(nowMs: number): void {
    this.lastMs ??= nowMs;
  }

  get lastProgressMs(): number | undefined {
    return this.lastMs;
  }
}
