// Churn: with 1000 peers present, leases are added and removed at a steady rate; each route change
// is timestamped by the kernel's own notification (`ip -ts monitor route` in the node namespace) and
// matched to the moment the benchmark issued the etcd write (both on this machine's clock).
import { LabCluster } from '../lab/cluster.js';
import { fakePeer, leaseKey, leaseValue, openEtcd, putPeers, writeBenchNetworkConfig } from './fake-leases.js';
import { percentile, waitForEntries } from './kernel-state.js';

export interface ChurnFigures {
  peers: number;
  opsPerSecond: number;
  seconds: number;
  operations: number;
  matched: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

const nowMs = (): number => performance.timeOrigin + performance.now();

export async function measureChurn(peers: number, opsPerSecond: number, seconds: number, progress: (l: string) => void): Promise<ChurnFigures> {
  const lab = await LabCluster.create('c');
  await lab.startEtcd();
  const etcd = openEtcd(lab.etcdHostEndpoint);
  try {
    await writeBenchNetworkConfig(etcd);
    await putPeers(etcd, 0, peers);
    const node = await lab.addNode(1);
    lab.startDaemon(node, ['--log-level', 'warn']);
    await waitForEntries(lab.scope, node.ns, peers, performance.now(), 60_000);

    // Kernel-side timestamps of every route added or deleted, by subnet.
    const seen = new Map<string, number>();
    const monitor = lab.scope.spawn(node.ns, 'ip', ['-ts', 'monitor', 'route'], { env: { ...process.env, TZ: 'UTC' } });
    let pending = '';
    monitor.stdout?.on('data', (chunk: Buffer) => {
      pending += chunk.toString();
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const m = /^\[(\S+)\] (Deleted )?(\d+\.\d+\.\d+\.\d+\/\d+) /.exec(line);
        if (m?.[1] && m[3]) seen.set(`${m[2] ? 'del' : 'add'} ${m[3]}`, Date.parse(`${m[1]}Z`));
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 500));

    const writes: { key: string; at: number }[] = [];
    const total = opsPerSecond * seconds;
    const started = nowMs();
    for (let k = 0; k < total; k++) {
      const due = started + (k * 1000) / opsPerSecond;
      const wait = due - nowMs();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      // Even steps add a new peer, odd steps remove an old one: the peer count stays near `peers`.
      const i = Math.floor(k / 2);
      const peer = k % 2 === 0 ? fakePeer(peers + i) : fakePeer(i);
      const at = nowMs();
      if (k % 2 === 0) await etcd.put(leaseKey(peer)).value(leaseValue(peer));
      else await etcd.delete().key(leaseKey(peer));
      writes.push({ key: `${k % 2 === 0 ? 'add' : 'del'} ${peer.subnet}`, at });
    }
    await new Promise((resolve) => setTimeout(resolve, 2000));
    monitor.kill('SIGTERM');

    const lags = writes.flatMap((w) => {
      const kernelAt = seen.get(w.key);
      return kernelAt === undefined ? [] : [Math.max(0, kernelAt - w.at)];
    });
    const figures: ChurnFigures = {
      peers, opsPerSecond, seconds, operations: writes.length, matched: lags.length,
      p50Ms: percentile(lags, 50), p99Ms: percentile(lags, 99), maxMs: Math.max(...lags),
    };
    progress(`  churn: ${figures.matched}/${figures.operations} changes seen, p50 ${figures.p50Ms.toFixed(1)} ms, p99 ${figures.p99Ms.toFixed(1)} ms`);
    return figures;
  } finally {
    etcd.close();
    await lab.dispose();
  }
}
