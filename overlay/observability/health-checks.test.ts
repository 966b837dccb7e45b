import type { ReconcileStatus } from '../reconcile-loop.js';
import { evaluateLiveness, evaluateReadiness, ProgressTracker, stuckAfterMs, type HealthInputs } from './health-checks.js';
import type { PeerProbeResult } from './probe-book.js';

const status = (over: Partial<ReconcileStatus> = {}): ReconcileStatus => ({
  passes: 1, failures: 0, lastPassAt: new Date(0), lastError: undefined, converged: true, peers: 2, ...over,
});
const broken: PeerProbeResult = {
  peer: '10.244.2.0/24', address: '10.244.2.0', sent: 3, lost: 3, lossRatio: 1, consecutiveTimeouts: 3, broken: true, lastRttMs: undefined, lastProbeAt: undefined,
};
const input = (over: Partial<HealthInputs> = {}): HealthInputs => ({
  nowMs: 100_000, ready: true, reconcile: status(), lastProgressMs: 95_000, stuckAfterMs: 60_000,
  probe: { peers: 2, probed: 2, broken: [], lossRatio: 0, worst: [] }, ...over,
});
const failing = (i: HealthInputs): string[] => evaluateReadiness(i).checks.filter((c) => !c.ok).map((c) => c.name);

describe('readiness', () => {
  it('is ready when the lease is held, the loop converged and no peer is broken', () => {
    expect(evaluateReadiness(input())).toMatchObject({ ok: true });
  });

  it.each<[string, Partial<HealthInputs>, string[]]>([
    ['before onReady', { ready: false, reconcile: undefined }, ['lease', 'reconcile']],
    ['before the first pass', { reconcile: status({ passes: 0, lastPassAt: undefined, converged: false }) }, ['reconcile']],
    ['after a failed pass', { reconcile: status({ converged: false, lastError: 'netlink busy' }) }, ['reconcile']],
    ['before the firewall rules are in', { firewall: { installed: false, repairs: 0, lastError: undefined } }, ['firewall']],
    ['when checking the rules fails', { firewall: { installed: true, repairs: 0, lastError: 'xtables lock' } }, ['firewall']],
    ['with a broken peer', { probe: { peers: 2, probed: 2, broken: [broken], lossRatio: 0.5, worst: [broken] } }, ['datapath']],
  ])('is not ready %s', (_what, over, checks) => {
    expect(evaluateReadiness(input(over)).ok).toBe(false);
    expect(failing(input(over))).toEqual(checks);
  });

  it('stays ready while a pass is pending after a successful one, and when the probe is off or unavailable', () => {
    expect(evaluateReadiness(input({ reconcile: status({ converged: false }) })).ok).toBe(true);
    expect(evaluateReadiness(input({ probe: undefined })).ok).toBe(true);
    expect(evaluateReadiness(input({ firewall: { installed: true, repairs: 2, lastError: undefined } })).ok).toBe(true);
    const unavailable = evaluateReadiness(input({ probe: undefined, probeError: 'EPERM' }));
    expect(unavailable.checks.find((c) => c.name === 'datapath')?.detail).toContain('EPERM');
  });

  it('names the broken peer in the detail', () => {
    const result = evaluateReadiness(input({ probe: { peers: 2, probed: 2, broken: [broken], lossRatio: 0.5, worst: [broken] } }));
    expect(result.checks.find((c) => c.name === 'datapath')?.detail).toContain('10.244.2.0/24');
  });
});

describe('liveness', () => {
  it('uses max(2 x resync, 60 s) as the stuck limit', () => {
    expect(stuckAfterMs(10_000)).toBe(60_000);
    expect(stuckAfterMs(45_000)).toBe(90_000);
  });

  it('is alive while starting, and while the loop progresses', () => {
    expect(evaluateLiveness(input({ ready: false, lastProgressMs: undefined })).ok).toBe(true);
    expect(evaluateLiveness(input({ lastProgressMs: 40_001 })).ok).toBe(true);
  });

  it('fails when the loop made no progress for longer than the limit', () => {
    const result = evaluateLiveness(input({ lastProgressMs: 39_999 }));
    expect(result.ok).toBe(false);
    expect(result.detail).toContain('hanging');
  });

  it('counts failed passes as progress, seen when sampled', () => {
    const tracker = new ProgressTracker();
    tracker.start(1000);
    const s = status({ passes: 1, lastPassAt: new Date(1500) });
    tracker.observe(s, 2000);
    expect(tracker.lastProgressMs).toBe(2000);
    tracker.observe(s, 70_000);
    expect(tracker.lastProgressMs).toBe(2000);
    s.failures = 1;
    tracker.observe(s, 71_000);
    expect(tracker.lastProgressMs).toBe(71_000);
    s.passes = 2;
    s.lastPassAt = new Date(71_500);
    tracker.observe(s, 72_000);
    expect(tracker.lastProgressMs).toBe(72_000);
  });
});
