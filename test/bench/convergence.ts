// Convergence at scale and memory in etcd mode: the real weftd bundle, a real etcd, N fake peers,
// each figure next to its baseline measured in the same run (iproute2's batch mode, `node -e 0`).
import { LabCluster, type LabNode } from '../lab/cluster.js';
import { NetnsScope, run } from '../lab/netns.js';
import { openEtcd, putPeers, writeBenchNetworkConfig, type BenchStack } from './fake-leases.js';
import { baselineBatch, median, stackFamilies, waitForEntries } from './kernel-state.js';
import { cpuSeconds, rssMib, startWeftd } from './weftd-process.js';

export interface ConvergenceFigures {
  peers: number;
  /** IPv4 only, or dual stack (then every figure covers both families: 6N entries). */
  stack: BenchStack;
  /** `ip -batch` + `bridge -batch` of the same entries: wall ms and CPU seconds. */
  batchMs: number;
  batchCpuSeconds: number;
  /** The same batch with each route through a nexthop object of its own (what weft writes where the kernel has them). */
  nexthopBatchMs: number;
  nexthopBatchCpuSeconds: number;
  nodeStartMs: number;
  /** Leases present, weftd started: exec to 3N kernel entries. */
  startToConvergedMs: number;
  /** weftd's CPU seconds at that moment (start-up included). */
  convergeCpuSeconds: number;
  /** A running daemon, N leases written: last write acknowledged to 3N kernel entries. */
  bulkAfterLastMs: number;
  /** Same, from the first write. */
  bulkFromFirstMs: number;
  /** VmRSS settleMs after convergence. */
  rssMib: number;
  runs: { batchMs: number; nexthopBatchMs: number; startMs: number; cpu: number; bulkMs: number; rss: number }[];
}

type Progress = (line: string) => void;

/** A lab with etcd running; a dual-stack underlay for a dual-stack network (weftd needs an IPv6 address). */
export async function withEtcdLab<T>(tag: string, body: (lab: LabCluster) => Promise<T>, stack: BenchStack = 'ipv4'): Promise<T> {
  const lab = await LabCluster.create(tag, { ipv6: stack === 'dual' });
  try {
    await lab.startEtcd();
    return await body(lab);
  } finally {
    await lab.dispose();
  }
}

/** The bench's network config and peers from..to-1 written to the lab's etcd. */
export async function writePeers(lab: LabCluster, from: number, to: number, stack: BenchStack = 'ipv4'): Promise<void> {
  const etcd = openEtcd(lab.etcdHostEndpoint);
  try {
    await writeBenchNetworkConfig(etcd, stack);
    await putPeers(etcd, from, to, stack);
  } finally {
    etcd.close();
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Leases already in etcd, then weftd starts: time and CPU until all 3N entries (6N dual stack), RSS after settling. */
export async function startWithLeases(
  peers: number, settleMs: number, nodeFlags?: string[], stack: BenchStack = 'ipv4', entry?: string,
): Promise<{ ms: number; cpu: number; rss: number }> {
  return withEtcdLab('b', async (lab) => {
    await writePeers(lab, 0, peers, stack);
    const node = await lab.addNode(1);
    const started = performance.now();
    const daemon = startWeftd(lab, node, { store: { etcd: lab.etcdEndpoint }, ...(nodeFlags ? { nodeFlags } : {}), ...(entry ? { entry } : {}) });
    const ms = await waitForEntries(lab.scope, node.ns, peers, started, 120_000, stackFamilies(stack));
    const cpu = await cpuSeconds(daemon.pid);
    await sleep(settleMs);
    return { ms, cpu, rss: await rssMib(daemon.pid) };
  }, stack);
}

/** A running daemon with no peers; N leases written: time from the last write to all 3N (6N) entries. */
async function bulkInsert(peers: number, stack: BenchStack, entry?: string): Promise<{ afterLastMs: number; fromFirstMs: number }> {
  return withEtcdLab('b', async (lab) => {
    await writePeers(lab, 0, 0, stack);
    const node = await lab.addNode(1);
    startWeftd(lab, node, { store: { etcd: lab.etcdEndpoint }, ...(entry ? { entry } : {}) });
    await lab.waitForSubnet(node);
    await sleep(1000); // start-up finished, first pass done
    const first = performance.now();
    await writePeers(lab, 0, peers, stack);
    const last = performance.now();
    await waitForEntries(lab.scope, node.ns, peers, last, 120_000, stackFamilies(stack));
    return { afterLastMs: performance.now() - last, fromFirstMs: performance.now() - first };
  }, stack);
}

export async function nodeStartMs(): Promise<number> {
  const started = performance.now();
  await run(process.execPath, ['-e', '0']);
  return performance.now() - started;
}

export async function measureConvergence(
  peers: number, runs: number, settleMs: number, progress: Progress, stack: BenchStack = 'ipv4',
): Promise<ConvergenceFigures> {
  const scope = new NetnsScope();
  const rows: ConvergenceFigures['runs'] = [];
  const batchCpu: number[] = [];
  const nexthopBatchCpu: number[] = [];
  const nodeMs: number[] = [];
  const bulkFirst: number[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      const batch = await baselineBatch(scope, `bl${r}`, peers, stack);
      batchCpu.push(batch.cpuSeconds);
      const nexthopBatch = await baselineBatch(scope, `bn${r}`, peers, stack, true);
      nexthopBatchCpu.push(nexthopBatch.cpuSeconds);
      nodeMs.push(await nodeStartMs());
      const s = await startWithLeases(peers, settleMs, undefined, stack);
      const b = await bulkInsert(peers, stack);
      bulkFirst.push(b.fromFirstMs);
      rows.push({ batchMs: batch.ms, nexthopBatchMs: nexthopBatch.ms, startMs: s.ms, cpu: s.cpu, bulkMs: b.afterLastMs, rss: s.rss });
      progress(`  ${peers} ${stack === 'dual' ? 'dual-stack ' : ''}peers, run ${r + 1}/${runs}: ip+bridge -batch ${batch.ms.toFixed(0)} ms (${batch.cpuSeconds.toFixed(2)} s CPU), ` +
        `with nexthop objects ${nexthopBatch.ms.toFixed(0)} ms (${nexthopBatch.cpuSeconds.toFixed(2)} s CPU), ` +
        `node -e 0 ${nodeMs.at(-1)?.toFixed(0)} ms, weftd start ${s.ms.toFixed(0)} ms (${s.cpu.toFixed(2)} s CPU), ` +
        `bulk insert ${b.afterLastMs.toFixed(0)} ms after the last write, RSS ${s.rss.toFixed(0)} MiB`);
    }
  } finally {
    await scope.dispose();
  }
  return {
    peers,
    stack,
    batchMs: median(rows.map((x) => x.batchMs)),
    batchCpuSeconds: median(batchCpu),
    nexthopBatchMs: median(rows.map((x) => x.nexthopBatchMs)),
    nexthopBatchCpuSeconds: median(nexthopBatchCpu),
    nodeStartMs: median(nodeMs),
    startToConvergedMs: median(rows.map((x) => x.startMs)),
    convergeCpuSeconds: median(rows.map((x) => x.cpu)),
    bulkAfterLastMs: median(rows.map((x) => x.bulkMs)),
    bulkFromFirstMs: median(bulkFirst),
    rssMib: median(rows.map((x) => x.rss)),
    runs: rows,
  };
}

/** weftd with no peers (etcd mode): VmRSS settleMs after it wrote subnet.env. */
export async function idleRssEtcd(settleMs: number, nodeFlags?: string[]): Promise<number> {
  return withEtcdLab('i', async (lab) => {
    await writePeers(lab, 0, 0);
    const node: LabNode = await lab.addNode(1);
    const daemon = startWeftd(lab, node, { store: { etcd: lab.etcdEndpoint }, ...(nodeFlags ? { nodeFlags } : {}) });
    await lab.waitForSubnet(node);
    await sleep(settleMs);
    return rssMib(daemon.pid);
  });
}

/** One bundle's start-with-leases and bulk-insert figures in one A/B round. */
export interface BundleRound {
  label: string;
  startMs: number;
  cpu: number;
  bulkMs: number;
}

/**
 * Two weftd bundles (e.g. main's and this branch's) on the same work, interleaved run by run so
 * that the machine's drift hits both alike: start with N leases present (wall, CPU), and N leases
 * arriving at a running daemon (last write to 3N entries). Medians per bundle.
 */
export async function compareBundles(
  peers: number, runs: number, bundles: Record<string, string>, progress: Progress,
): Promise<Record<string, { startMs: number; cpu: number; bulkMs: number }>> {
  const rounds: BundleRound[] = [];
  for (let r = 0; r < runs; r++) {
    for (const [label, entry] of Object.entries(bundles)) {
      const s = await startWithLeases(peers, 0, undefined, 'ipv4', entry);
      const b = await bulkInsert(peers, 'ipv4', entry);
      rounds.push({ label, startMs: s.ms, cpu: s.cpu, bulkMs: b.afterLastMs });
      progress(`  ${peers} peers, run ${r + 1}/${runs}, ${label}: start ${s.ms.toFixed(0)} ms (${s.cpu.toFixed(2)} s CPU), bulk insert ${b.afterLastMs.toFixed(0)} ms after the last write`);
    }
  }
  return Object.fromEntries(Object.keys(bundles).map((label) => {
    const mine = rounds.filter((x) => x.label === label);
    return [label, { startMs: median(mine.map((x) => x.startMs)), cpu: median(mine.map((x) => x.cpu)), bulkMs: median(mine.map((x) => x.bulkMs)) }];
  }));
}
