import winston from 'winston';
import type { ApplyResult, Backend } from '../backends/backend.js';
import type { Lease, LeaseAttrs } from '../subnet/lease.js';
import { ReconcileLoop } from './reconcile-loop.js';
import { IpPrefix } from '../subnet/ip-prefix.js';
import { ip } from '../test/addresses.js';

const logger = winston.createLogger({ silent: true });

function lease(subnet: string): Lease {
  const net = IpPrefix.parse(subnet, { family: 'ipv4' });
  if (!net) throw new Error(subnet);
  return { subnet: net, publicIp: ip('192.0.2.9'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '02:00:00:00:00:09' } };
}

/** A backend that records what it was asked to apply and can be told to fail. */
class RecordingBackend implements Backend {
  readonly type = 'fake';
  readonly podMtu = 1450;
  applied: string[][] = [];
  failuresLeft = 0;
  prepare(): Promise<LeaseAttrs> {
    return Promise.resolve({ publicIp: ip('0.0.0.0'), backendType: 'fake' });
  }
  configureOwnLease(): Promise<void> {
    return Promise.resolve();
  }
  ownsKernelEvent(): boolean {
    return true;
  }
  applyPeers(peers: ReadonlyMap<string, Lease>): Promise<ApplyResult> {
    if (this.failuresLeft > 0) {
      this.failuresLeft -= 1;
      return Promise.reject(new Error('netlink busy'));
    }
    this.applied.push([...peers.keys()].sort());
    return Promise.resolve({ repaired: {}, removed: 0 });
  }
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('ReconcileLoop', () => {
  it('applies the folded peer set, filtering our own subnet, and collapses bursts', async () => {
    const backend = new RecordingBackend();
    const loop = new ReconcileLoop(backend, logger, { resyncMs: 60_000, retryMinMs: 5, retryMaxMs: 20 });
    const own = IpPrefix.parse('10.244.1.0/24', { family: 'ipv4' });
    if (own) loop.setOwnSubnet(own);
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.onBatch({ kind: 'snapshot', leases: [] });
    await until(() => backend.applied.length === 1);
    for (let i = 2; i < 50; i++) loop.onBatch({ kind: 'added', leases: [lease(`10.244.${i}.0/24`)] });
    loop.onBatch({ kind: 'added', leases: [lease('10.244.1.0/24')] });
    await until(() => backend.applied.at(-1)?.length === 48);
    expect(backend.applied.length).toBeLessThan(10);
    expect(backend.applied.at(-1)).not.toContain('10.244.1.0/24');
    expect(loop.status.converged).toBe(true);
    controller.abort();
    await running;
  });

  it('retries a failed pass and reports the failure meanwhile', async () => {
    const backend = new RecordingBackend();
    backend.failuresLeft = 3;
    const loop = new ReconcileLoop(backend, logger, { resyncMs: 60_000, retryMinMs: 5, retryMaxMs: 20 });
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.onBatch({ kind: 'snapshot', leases: [] });
    await until(() => backend.applied.length === 1);
    expect(loop.status.failures).toBe(3);
    expect(loop.status.lastError).toBeUndefined();
    controller.abort();
    await running;
  });

  it('touches nothing before the first complete lease list, whatever wakes it', async () => {
    const backend = new RecordingBackend();
    const loop = new ReconcileLoop(backend, logger, { resyncMs: 10, coalesceMs: 2, retryMinMs: 5, retryMaxMs: 20 });
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.trigger('kernel-route-deleted');
    loop.onBatch({ kind: 'added', leases: [lease('10.244.5.0/24')] });
    await new Promise((r) => setTimeout(r, 100)); // ten resync periods
    expect(backend.applied).toEqual([]);
    loop.onBatch({ kind: 'snapshot', leases: [lease('10.244.2.0/24'), lease('10.244.3.0/24')] });
    await until(() => backend.applied.length >= 1);
    expect(backend.applied[0]).toEqual(['10.244.2.0/24', '10.244.3.0/24']);
    controller.abort();
    await running;
  });

  it('resyncs periodically without any trigger', async () => {
    const backend = new RecordingBackend();
    const loop = new ReconcileLoop(backend, logger, { resyncMs: 10, retryMinMs: 5, retryMaxMs: 20 });
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.onBatch({ kind: 'snapshot', leases: [] });
    await until(() => backend.applied.length >= 3);
    controller.abort();
    await running;
  });
});

/** Also records incremental changes; can be told to fail them. */
class IncrementalBackend extends RecordingBackend {
  changes: string[] = [];
  failChanges = false;
  applyChanges(upserts: readonly Lease[], removals: readonly Lease[]): Promise<ApplyResult> {
    if (this.failChanges) {
      this.failChanges = false;
      return Promise.reject(new Error('EEXIST'));
    }
    this.changes.push(...upserts.map((l) => `+${l.subnet?.toString()}`), ...removals.map((l) => `-${l.subnet?.toString()}`));
    return Promise.resolve({ repaired: {}, removed: removals.length });
  }
}

describe('ReconcileLoop incremental passes', () => {
  it('writes only lease changes after a full pass, and goes back to a full pass on resync triggers and failures', async () => {
    const backend = new IncrementalBackend();
    const loop = new ReconcileLoop(backend, logger, { resyncMs: 60_000, coalesceMs: 5, retryMinMs: 5, retryMaxMs: 20 });
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.onBatch({ kind: 'snapshot', leases: [] });
    await until(() => backend.applied.length === 1); // the start pass reads everything

    loop.onBatch({ kind: 'added', leases: [lease('10.244.2.0/24'), lease('10.244.3.0/24')] });
    loop.onBatch({ kind: 'removed', leases: [lease('10.244.3.0/24')] });
    await until(() => backend.changes.length === 2);
    expect(backend.changes.sort()).toEqual(['+10.244.2.0/24', '-10.244.3.0/24']);
    expect(backend.applied).toHaveLength(1);

    loop.trigger('kernel-route-deleted');
    await until(() => backend.applied.length === 2);
    expect(backend.applied[1]).toEqual(['10.244.2.0/24']);

    backend.failChanges = true;
    loop.onBatch({ kind: 'added', leases: [lease('10.244.4.0/24')] });
    await until(() => backend.applied.length === 3);
    expect(backend.applied[2]).toEqual(['10.244.2.0/24', '10.244.4.0/24']);
    expect(loop.status.failures).toBe(1);
    controller.abort();
    await running;
  });

  it('writes a lease change at once but gathers kernel triggers for coalesceMs into one full pass', async () => {
    const backend = new IncrementalBackend();
    const loop = new ReconcileLoop(backend, logger, { resyncMs: 60_000, coalesceMs: 1000, retryMinMs: 5, retryMaxMs: 20 });
    const controller = new AbortController();
    const running = loop.run(controller.signal);
    loop.onBatch({ kind: 'snapshot', leases: [] });
    await until(() => backend.applied.length === 1);

    const sent = performance.now();
    loop.onBatch({ kind: 'added', leases: [lease('10.244.2.0/24')] });
    await until(() => backend.changes.length === 1);
    expect(performance.now() - sent).toBeLessThan(500); // not held for coalesceMs

    loop.trigger('kernel-route-deleted');
    await new Promise((r) => setTimeout(r, 300));
    loop.trigger('kernel-neigh-deleted');
    expect(backend.applied).toHaveLength(1); // still gathering
    await until(() => backend.applied.length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(backend.applied).toHaveLength(2); // both triggers, one dump
    controller.abort();
    await running;
  });
});
