// Churn: with N peers present, leases are added and removed at a steady rate; each route change is
// timestamped by the kernel's own notification (`ip -ts monitor route` in the node's namespace) and
// matched to the moment the benchmark issued the etcd write (both on this machine's clock). The same
// churn runs against weftd and against a minimal etcdctl-watch-to-`ip -batch` pipeline; CPU is read
// from /proc over the churn window, and weftd's RSS is sampled for the leak check (a slope).
import type { Etcd3 } from 'etcd3';
import { parsePrometheusText } from '../../overlay/observability/prometheus-text.js';
import type { LabCluster, LabNode } from '../lab/cluster.js';
import { startPipeline } from './churn-pipeline.js';
import { sleep, withEtcdLab } from './convergence.js';
import { leaseKey, leaseValue, openEtcd, putPeers, stackPeer, withRetries, writeBenchNetworkConfig, type BenchStack } from './fake-leases.js';
import { handMadeVxlan, percentile, stackFamilies, timedBatch, waitForEntries } from './kernel-state.js';
import { cpuSeconds, rssMib, sampleRss, slope, startWeftd } from './weftd-process.js';

export interface ChurnFigures {
  who: 'weftd' | 'pipeline';
  peers: number;
  /** Dual stack: a change counts as seen when the routes of both families are (6N entries). */
  stack: BenchStack;
  opsPerSecond: number;
  seconds: number;
  operations: number;
  matched: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The etcd write itself (the bench's put or delete, sent to acknowledged): part of every lag above. */
  writeP50Ms: number;
  writeP99Ms: number;
  /** Lag from etcd's acknowledgement instead (0 when the kernel was first): what the watcher adds, at most. */
  afterAckP50Ms: number;
  afterAckP99Ms: number;
  /** CPU seconds per second of churn. */
  cpuPerSecond: number;
  /** weftd only: RSS samples [s, MiB] over the churn and their slope in MiB per minute. */
  rss?: [number, number][];
  rssSlopeMibPerMinute?: number;
  /** weftd only: full passes that kernel notifications woke during the churn (its own writes must wake none). */
  kernelWokenPasses?: number;
}

const nowMs = (): number => performance.timeOrigin + performance.now();
const PREFIX = '/coreos.com/network';

/** Kernel-side timestamps of every route (either family) added or deleted in `ns`, by "add|del subnet". */
function monitorRoutes(lab: LabCluster, ns: string): { seen: Map<string, number>; stop: () => void } {
  const seen = new Map<string, number>();
  const monitor = lab.scope.spawn(ns, 'ip', ['-ts', 'monitor', 'route'], { env: { ...process.env, TZ: 'UTC' } });
  let pending = '';
  monitor.stdout?.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const m = /^\[(\S+)\] (Deleted )?([0-9a-f.:]+\/\d+) /.exec(line);
      if (m?.[1] && m[3]) seen.set(`${m[2] ? 'del' : 'add'} ${m[3]}`, Date.parse(`${m[1]}Z`));
    }
  });
  return { seen, stop: () => monitor.kill('SIGTERM') };
}

/** One etcd write and the route changes (one per family) it must cause. */
interface ChurnWrite {
  routes: string[];
  at: number;
  /** When etcd acknowledged it (committed: the watch may deliver it before the client hears). */
  ackedAt: number;
}

/** Even steps add peer N+i, odd steps remove peer i: the peer count stays near N. */
async function driveChurn(etcd: Etcd3, peers: number, opsPerSecond: number, seconds: number, stack: BenchStack): Promise<ChurnWrite[]> {
  const writes: ChurnWrite[] = [];
  const total = opsPerSecond * seconds;
  const started = nowMs();
  for (let k = 0; k < total; k++) {
    const wait = started + (k * 1000) / opsPerSecond - nowMs();
    if (wait > 0) await sleep(wait);
    const i = Math.floor(k / 2);
    const peer = stackPeer(stack, k % 2 === 0 ? peers + i : i);
    const at = nowMs();
    if (k % 2 === 0) await withRetries(() => etcd.put(leaseKey(peer)).value(leaseValue(peer)));
    else await withRetries(() => etcd.delete().key(leaseKey(peer)));
    const verb = k % 2 === 0 ? 'add' : 'del';
    writes.push({ routes: [peer.subnet, ...(peer.ipv6 ? [peer.ipv6.subnet] : [])].map((subnet) => `${verb} ${subnet}`), at, ackedAt: nowMs() });
  }
  return writes;
}

type Figures = Omit<ChurnFigures, 'who' | 'cpuPerSecond'>;

/** Drives the churn against whatever programs `ns`, watching its routes; CPU via `cpu()`. */
async function churnAgainst(
  lab: LabCluster, etcd: Etcd3, ns: string, cpu: () => Promise<number>, peers: number, opsPerSecond: number, seconds: number, stack: BenchStack,
): Promise<Figures & { cpuSeconds: number }> {
  const monitor = monitorRoutes(lab, ns);
  await sleep(500);
  const cpuBefore = await cpu();
  const writes = await driveChurn(etcd, peers, opsPerSecond, seconds, stack);
  await sleep(2000);
  const cpuSpent = (await cpu()) - cpuBefore;
  monitor.stop();
  // A write is done when the last of its routes changed in the kernel.
  const done = writes.flatMap((w) => {
    const kernelAt = w.routes.map((r) => monitor.seen.get(r));
    return kernelAt.includes(undefined) ? [] : [{ w, at: Math.max(...kernelAt.map((t) => t ?? 0)) }];
  });
  const lags = done.map(({ w, at }) => Math.max(0, at - w.at));
  const afterAck = done.map(({ w, at }) => Math.max(0, at - w.ackedAt));
  const writeMs = writes.map((w) => w.ackedAt - w.at);
  return {
    peers, stack, opsPerSecond, seconds, operations: writes.length, matched: lags.length, cpuSeconds: cpuSpent,
    p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), maxMs: lags.length > 0 ? Math.max(...lags) : NaN,
    writeP50Ms: percentile(writeMs, 50), writeP99Ms: percentile(writeMs, 99),
    afterAckP50Ms: percentile(afterAck, 50), afterAckP99Ms: percentile(afterAck, 99),
  };
}

async function withPeers<T>(peers: number, body: (lab: LabCluster, etcd: Etcd3) => Promise<T>, stack: BenchStack = 'ipv4'): Promise<T> {
  return withEtcdLab('c', async (lab) => {
    const etcd = openEtcd(lab.etcdHostEndpoint);
    try {
      await writeBenchNetworkConfig(etcd, stack);
      await putPeers(etcd, 0, peers, stack);
      return await body(lab, etcd);
    } finally {
      etcd.close();
    }
  }, stack);
}

const RSS_SAMPLE_MS = 5000;
/** weftd's health and metrics server inside the node's namespace. */
const METRICS_PORT = 10267;

/** weft_reconcile_kernel_woken_passes_total, all reasons, read from the node's own namespace. */
async function kernelWokenPasses(lab: LabCluster, node: LabNode): Promise<number> {
  const script = `fetch('http://127.0.0.1:${METRICS_PORT}/metrics').then(async (r) => process.stdout.write(await r.text()))`;
  const family = parsePrometheusText(await lab.nodeExec(node, process.execPath, ['-e', script])).get('weft_reconcile_kernel_woken_passes_total');
  if (!family) throw new Error('weftd\'s /metrics has no weft_reconcile_kernel_woken_passes_total');
  return family.samples.reduce((sum, s) => sum + s.value, 0);
}

export async function measureWeftdChurn(
  peers: number, opsPerSecond: number, seconds: number, progress: (l: string) => void, stack: BenchStack = 'ipv4',
  run: { nodeFlags?: string[]; entry?: string; weftdArgs?: string[] } = {},
): Promise<ChurnFigures> {
  return withPeers(peers, async (lab, etcd) => {
    const node = await lab.addNode(1);
    const extraArgs = ['--healthz-ip', '127.0.0.1', '--healthz-port', String(METRICS_PORT), ...(run.weftdArgs ?? [])];
    const daemon = startWeftd(lab, node, {
      store: { etcd: lab.etcdEndpoint }, extraArgs, ...(run.entry && { entry: run.entry }), ...(run.nodeFlags && { nodeFlags: run.nodeFlags }),
    });
    await waitForEntries(lab.scope, node.ns, peers, performance.now(), 120_000, stackFamilies(stack));
    await sleep(5000); // start-up garbage collected before the RSS samples begin
    const wokenBefore = await kernelWokenPasses(lab, node);
    const sampling = sampleRss(daemon.pid, seconds * 1000, Math.min(RSS_SAMPLE_MS, seconds * 250));
    const f = await churnAgainst(lab, etcd, node.ns, () => cpuSeconds(daemon.pid), peers, opsPerSecond, seconds, stack);
    const rss = await sampling;
    const figures: ChurnFigures = {
      ...f, who: 'weftd', cpuPerSecond: f.cpuSeconds / seconds, rss, rssSlopeMibPerMinute: slope(rss) * 60,
      kernelWokenPasses: (await kernelWokenPasses(lab, node)) - wokenBefore,
    };
    progress(`  weftd ${stack === 'dual' ? 'dual-stack ' : ''}churn: ${f.matched}/${f.operations} seen, p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms ` +
      `(the etcd write itself ${f.writeP50Ms.toFixed(1)} / ${f.writeP99Ms.toFixed(1)}, after its ack ${f.afterAckP50Ms.toFixed(1)} / ${f.afterAckP99Ms.toFixed(1)}), ` +
      `CPU ${f.cpuSeconds.toFixed(1)} s in ${seconds} s, RSS ${rss[0]?.[1].toFixed(0)} -> ${(await rssMib(daemon.pid)).toFixed(0)} MiB ` +
      `(slope ${figures.rssSlopeMibPerMinute?.toFixed(2)} MiB/min), ${figures.kernelWokenPasses} full passes woken by the kernel`);
    return figures;
  }, stack);
}

export async function measurePipelineChurn(peers: number, opsPerSecond: number, seconds: number, progress: (l: string) => void): Promise<ChurnFigures> {
  return withPeers(peers, async (lab, etcd) => {
    const ns = await handMadeVxlan(lab.scope, 'pl');
    await timedBatch(lab.scope, ns, peers);
    const pipeline = startPipeline(lab.scope, ns, lab.etcdHostEndpoint, PREFIX);
    try {
      await sleep(1000); // etcdctl connected and watching
      const f = await churnAgainst(lab, etcd, ns, () => pipeline.cpuSeconds(), peers, opsPerSecond, seconds, 'ipv4');
      progress(`  pipeline churn: ${f.matched}/${f.operations} seen, p50 ${f.p50Ms.toFixed(1)} ms, p99 ${f.p99Ms.toFixed(1)} ms ` +
        `(the etcd write itself ${f.writeP50Ms.toFixed(1)} / ${f.writeP99Ms.toFixed(1)}, after its ack ${f.afterAckP50Ms.toFixed(1)} / ${f.afterAckP99Ms.toFixed(1)}), CPU ${f.cpuSeconds.toFixed(2)} s in ${seconds} s`);
      return { ...f, who: 'pipeline', cpuPerSecond: f.cpuSeconds / seconds };
    } finally {
      pipeline.stop();
    }
  });
}
