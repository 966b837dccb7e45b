import type { ReconcileStatus } from '../reconcile-loop.js';
import { DeferredMetrics } from './deferred-metrics.js';
import { WeftMetrics } from './metrics.js';
import { parsePrometheusText, sampleValue } from './prometheus-text.js';

const loop: ReconcileStatus = { passes: 2, failures: 0, lastPassAt: undefined, lastError: undefined, converged: true, peers: 3 };

describe('DeferredMetrics', () => {
  it('replays what was recorded before loading, in order, and records straight through after', async () => {
    const metrics = new DeferredMetrics({ processMetrics: false });
    metrics.recordLeaseStoreError();
    metrics.recordLeaseStoreError();
    metrics.setSources({ reconcile: () => loop, ownLeaseHeld: () => true });
    metrics.recordPass({ repaired: { routes: 2 }, removed: 0 }, 10, ['resync']);
    metrics.recordProbe(0.4);
    expect(() => metrics.contentType).toThrow('await text() first');

    let families = parsePrometheusText(await metrics.text());
    expect(sampleValue(families, 'weft_lease_store_errors_total')).toBe(2);
    expect(sampleValue(families, 'weft_leases')).toBe(4);
    expect(sampleValue(families, 'weft_kernel_repairs_total', { kind: 'routes' })).toBe(2);
    expect(sampleValue(families, 'weft_reconcile_duration_seconds_count')).toBe(1);
    expect(sampleValue(families, 'weft_probe_rtt_seconds_count')).toBe(1);
    expect(metrics.contentType).toBe(new WeftMetrics({ processMetrics: false }).contentType);

    metrics.recordLeaseStoreError();
    metrics.recordPass({ repaired: {}, removed: 1 }, 5, ['kernel-route-deleted']);
    families = parsePrometheusText(await metrics.text());
    expect(sampleValue(families, 'weft_lease_store_errors_total')).toBe(3);
    expect(sampleValue(families, 'weft_kernel_repairs_total', { kind: 'stale-removed' })).toBe(1);
    expect(sampleValue(families, 'weft_reconcile_duration_seconds_count')).toBe(2);
  });

  it('loads once however often it is asked', async () => {
    const metrics = new DeferredMetrics({ processMetrics: false });
    const [a, b] = await Promise.all([metrics.load(), metrics.load()]);
    expect(a).toBe(b);
    expect(await metrics.load()).toBe(a);
  });
});
