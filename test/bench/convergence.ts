// Convergence at scale, memory and start-up: real weftd, real etcd, N fake peers.
import { access, rm } from 'node:fs/promises';
import { LabCluster } from '../lab/cluster.js';
import { NetnsScope, run } from '../lab/netns.js';
import { openEtcd, putPeers, writeBenchNetworkConfig } from './fake-leases.js';
import { baselineBatchMs, median, rssMb, waitForEntries } from './kernel-state.js';

export interface ConvergenceFigures {
  peers: number;
  baselineMs: number;
  startToConvergedMs: number;
  bulkInsertMs: number;
  rssAtZeroMb: number;
  rssAtPeersMb: number;
}

type Progress = (line: string) => void;

async function withLab<T>(body: (lab: LabCluster) => Promise<T>): Promise<T> {
  const lab = await LabCluster.create('b');
  try {
    await lab.startEtcd();
    return await body(lab);
  } finally {
    await lab.dispose();
  }
}

/** Leases already in etcd, then the daemon starts: time until all 3N entries are in the kernel. */
async function startToConverged(peers: number): Promise<{ ms: number; rss: number }> {
  return withLab(async (lab) => {
    const etcd = openEtcd(lab.etcdHostEndpoint);
    try {
      await writeBenchNetworkConfig(etcd);
      await putPeers(etcd, 0, peers);
    } finally {
      etcd.close();
    }
    const node = await lab.addNode(1);
    const started = performance.now();
    const daemon = lab.startDaemon(node, ['--log-level', 'warn']);
    const ms = await waitForEntries(lab.scope, node.ns, peers, started, 60_000);
    return { ms, rss: await rssMb(daemon.pid) };
  });
}

/** A running daemon with no peers; N leases written at once: time until all are in the kernel. */
async function bulkInsert(peers: number): Promise<{ ms: number; rssZero: number; rssPeers: number }> {
  return withLab(async (lab) => {
    const etcd = openEtcd(lab.etcdHostEndpoint);
    try {
      await writeBenchNetworkConfig(etcd);
      const node = await lab.addNode(1);
      const daemon = lab.startDaemon(node, ['--log-level', 'warn']);
      await lab.waitForSubnet(node);
      await new Promise((resolve) => setTimeout(resolve, 1000)); // let start-up garbage settle
      const rssZero = await rssMb(daemon.pid);
      const started = performance.now();
      await putPeers(etcd, 0, peers);
      const ms = await waitForEntries(lab.scope, node.ns, peers, started, 60_000);
      return { ms, rssZero, rssPeers: await rssMb(daemon.pid) };
    } finally {
      etcd.close();
    }
  });
}

export async function measureConvergence(peers: number, runs: number, progress: Progress): Promise<ConvergenceFigures> {
  const scope = new NetnsScope();
  const baseline: number[] = [];
  const start: number[] = [];
  const bulk: number[] = [];
  const rssZero: number[] = [];
  const rssPeers: number[] = [];
  try {
    for (let r = 0; r < runs; r++) {
      baseline.push(await baselineBatchMs(scope, `bl${r}`, peers));
      const s = await startToConverged(peers);
      start.push(s.ms);
      const b = await bulkInsert(peers);
      bulk.push(b.ms);
      rssZero.push(b.rssZero);
      rssPeers.push(Math.max(b.rssPeers, s.rss));
      progress(`  ${peers} peers, run ${r + 1}/${runs}: ip/bridge -batch ${baseline.at(-1)?.toFixed(0)} ms, ` +
        `weftd start ${s.ms.toFixed(0)} ms, bulk insert ${b.ms.toFixed(0)} ms, RSS ${b.rssPeers.toFixed(0)} MB`);
    }
  } finally {
    await scope.dispose();
  }
  return {
    peers,
    baselineMs: median(baseline),
    startToConvergedMs: median(start),
    bulkInsertMs: median(bulk),
    rssAtZeroMb: median(rssZero),
    rssAtPeersMb: median(rssPeers),
  };
}

export interface StartupFigures {
  nodeStartMs: number;
  daemonReadyMs: number;
}

/** weftd start to ready (lease held, subnet.env written, flannel.1 up), etcd up; baseline: `node -e 0`. */
export async function measureStartup(runs: number, progress: Progress): Promise<StartupFigures> {
  const nodeStart: number[] = [];
  for (let r = 0; r < runs; r++) {
    const started = performance.now();
    await run(process.execPath, ['-e', '0']);
    nodeStart.push(performance.now() - started);
  }
  const ready = await withLab(async (lab) => {
    await lab.writeNetworkConfig();
    const node = await lab.addNode(1);
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      await rm(node.subnetFile, { force: true });
      const started = performance.now();
      lab.startDaemon(node, ['--log-level', 'warn']);
      for (let i = 0; i < 2000; i++) {
        if (await access(node.subnetFile).then(() => true, () => false)) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      times.push(performance.now() - started);
      await lab.stopDaemon(node);
    }
    return times;
  });
  progress(`  start-up: ${ready.map((t) => t.toFixed(0)).join(', ')} ms (node -e 0: ${median(nodeStart).toFixed(0)} ms)`);
  return { nodeStartMs: median(nodeStart), daemonReadyMs: median(ready) };
}
