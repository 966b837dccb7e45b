import type { ReconcileStatus } from '../reconcile-loop.js';
import { isRepairPass, WeftMetrics, type OwnSubnet } from './metrics.js';
import type { PeerProbeResult, ProbeSummary } from './probe-book.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

const status = (over: Partial<ReconcileStatus> = {}): ReconcileStatus => ({
  passes: 0, failures: 0, lastPassAt: undefined, lastError: undefined, converged: false, peers: 0, ...over,
});

function peerResult(i: number, lossRatio: number): PeerProbeResult {
  return {
    peer: `10.244.${i}.0/24`, address: `10.244.${i}.0`, sent: 10, lost: lossRatio * 10, lossRatio,
    consecutiveTimeouts: 0, broken: false, lastRttMs: 0.5, lastProbeAt: undefined,
  };
}

describe('isRepairPass', () => {
  it.each([
    [['resync'], true],
    [['kernel-route-deleted'], true],
    [['resync', 'kernel-link-changed'], true],
    [['resync', 'lease-added'], false],
    [['start'], false],
    [['retry'], false],
    [['own-subnet'], false],
    [[], false],
  ])('%j -> %s', (reasons, expected) => {
    expect(isRepairPass(reasons)).toBe(expected);
  });
});

describe('WeftMetrics', () => {
  it('exposes state, passes, repairs by kind and probe results as valid Prometheus text', async () => {
    const metrics = new WeftMetrics({ processMetrics: false, worstPeers: 2 });
    const loop = status({ passes: 3, failures: 1, peers: 4 });
    const worst = [peerResult(1, 0.5), peerResult(2, 0.2), peerResult(3, 0.1)];
    const probe: ProbeSummary = { peers: 4, probed: 4, broken: [], lossRatio: 0.125, worst };
    let own: OwnSubnet[] = [
      { family: 'ipv4', subnet: '10.244.9.0/24', publicIp: '192.0.2.9' },
      { family: 'ipv6', subnet: 'fd00:10:244:9::/64', publicIp: '2001:db8::9' },
    ];
    metrics.setSources({ reconcile: () => loop, ownLeaseHeld: () => true, probe: () => probe, ownSubnets: () => own });

    metrics.recordPass({ repaired: { neighbors: 2, routes: 1 }, removed: 1 }, 12, ['resync']);
    metrics.recordPass({ repaired: { neighbors: 5, routes: 5 }, removed: 0 }, 30, ['lease-added', 'resync']);
    metrics.recordPass({ repaired: { routes: 1, fdb: 0 }, removed: 0 }, 2, ['kernel-route-deleted']);
    metrics.recordLeaseStoreError();
    metrics.recordProbe(0.3);
    metrics.recordProbe(undefined);

    let families = parsePrometheusText(await metrics.text());
    expect(sampleValue(families, 'weft_leases')).toBe(5);
    expect(sampleValue(families, 'weft_peers')).toBe(4);
    expect(sampleValue(families, 'weft_reconcile_passes_total')).toBe(3);
    expect(sampleValue(families, 'weft_reconcile_failures_total')).toBe(1);
    expect(sampleValue(families, 'weft_kernel_repairs_total', { kind: 'neighbors' })).toBe(2);
    expect(sampleValue(families, 'weft_kernel_repairs_total', { kind: 'routes' })).toBe(2);
    expect(sampleValue(families, 'weft_kernel_repairs_total', { kind: 'stale-removed' })).toBe(1);
    expect(sampleValue(families, 'weft_kernel_repairs_total', { kind: 'fdb' })).toBeUndefined();
    // Only the pass a kernel notification woke counts, once, under its reason.
    expect(sampleValue(families, 'weft_reconcile_kernel_woken_passes_total', { reason: 'kernel-route-deleted' })).toBe(1);
    expect(families.get('weft_reconcile_kernel_woken_passes_total')?.samples).toHaveLength(1);
    expect(sampleValue(families, 'weft_reconcile_duration_seconds_count')).toBe(3);
    expect(sampleValue(families, 'weft_reconcile_duration_seconds_sum')).toBeCloseTo(0.044);
    expect(sampleValue(families, 'weft_lease_store_errors_total')).toBe(1);
    expect(sampleValue(families, 'weft_probe_rtt_seconds_count')).toBe(1);
    expect(sampleValue(families, 'weft_probe_loss_ratio')).toBe(0.125);
    expect(families.get('weft_probe_peer_loss_ratio')?.samples.map((s) => s.labels['peer'])).toEqual(['10.244.1.0/24', '10.244.2.0/24']);
    expect(sampleValue(families, 'weft_probe_peer_rtt_seconds', { peer: '10.244.1.0/24' })).toBe(0.0005);
    expect(families.get('weft_reconcile_passes_total')?.type).toBe('counter');
    expect(families.get('weft_own_subnet_info')?.samples.map((s) => s.labels)).toEqual([
      { family: 'ipv4', subnet: '10.244.9.0/24', public_ip: '192.0.2.9' },
      { family: 'ipv6', subnet: 'fd00:10:244:9::/64', public_ip: '2001:db8::9' },
    ]);

    // Counters follow the loop; a peer that left the worst list loses its series.
    loop.passes = 7;
    probe.worst = [peerResult(3, 0.9)];
    families = parsePrometheusText(await metrics.text());
    expect(sampleValue(families, 'weft_reconcile_passes_total')).toBe(7);
    expect(families.get('weft_probe_peer_loss_ratio')?.samples.map((s) => s.labels['peer'])).toEqual(['10.244.3.0/24']);
    // A re-acquired lease replaces the old subnet's series.
    own = [{ family: 'ipv4', subnet: '10.244.10.0/24', publicIp: '192.0.2.9' }];
    families = parsePrometheusText(await metrics.text());
    expect(families.get('weft_own_subnet_info')?.samples.map((s) => [s.labels['subnet'], s.value])).toEqual([['10.244.10.0/24', 1]]);
  });

  it('reports zeros before the daemon is ready and includes process metrics by default', async () => {
    const families = parsePrometheusText(await new WeftMetrics().text());
    expect(sampleValue(families, 'weft_leases')).toBe(0);
    expect(sampleValue(families, 'weft_reconcile_passes_total')).toBe(0);
    expect(families.has('process_cpu_user_seconds_total')).toBe(true);
  });
});

describe('parsePrometheusText', () => {
  it.each([
    ['# HELP a x\n# TYPE a gauge\na 1', 'newline'],
    ['a 1\n', 'no # TYPE'],
    ['# HELP a x\n# TYPE a gauge\na{b="1",b="2"} 1\n', 'twice'],
    ['# HELP a x\n# TYPE a gauge\na one\n', 'bad value'],
    ['# TYPE a gauge\na 1\n', 'no # HELP'],
    ['# HELP h x\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', 'decrease'],
  ])('refuses %j', (text, message) => {
    expect(() => parsePrometheusText(text)).toThrow(message);
  });
});
