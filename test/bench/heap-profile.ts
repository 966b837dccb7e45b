// Where weftd's heap goes per peer (etcd or kube mode): V8 heap snapshots of the running daemon (taken on SIGUSR2 via
// --heapsnapshot-signal) at 0 and N peers, summed by object type and constructor; the difference
// divided by N is the heap per peer, and the largest differences say what holds it.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, withEtcdLab } from './convergence.js';
import { openEtcd, putPeers, writeBenchNetworkConfig } from './fake-leases.js';
import { waitForEntries } from './kernel-state.js';
import { withKubeLab } from './kube-memory.js';
import { HEAP_FLAGS, startWeftd, type WeftdRun } from './weftd-process.js';
import type { LabCluster, LabNode } from '../lab/cluster.js';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Bytes by "type:name" (objects by constructor), and the total. */
export interface HeapSummary {
  totalBytes: number;
  byKind: Record<string, number>;
}

export function summarize(text: string): HeapSummary {
  const snap = JSON.parse(text) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f)) as [number, number, number];
  const byKind: Record<string, number> = {};
  let totalBytes = 0;
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + typeAt] ?? 0] ?? '?';
    const size = snap.nodes[i + sizeAt] ?? 0;
    // Strings and code are many small names: one bucket per type; objects by constructor.
    const kind = type === 'object' || type === 'closure' ? `${type}:${snap.strings[snap.nodes[i + nameAt] ?? 0] ?? '?'}` : type;
    byKind[kind] = (byKind[kind] ?? 0) + size;
    totalBytes += size;
  }
  return { totalBytes, byKind };
}

/** Which lease store weftd runs against while profiled. */
export type HeapMode = 'etcd' | 'kube';

/** Starts weftd, waits for its N peers' entries, has it write a heap snapshot and summarizes it. */
async function snapshotOf(lab: LabCluster, node: LabNode, store: WeftdRun['store'], peers: number): Promise<HeapSummary> {
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-heap-'));
  try {
    const daemon = startWeftd(lab, node, { store, cwd: dir, nodeFlags: [...HEAP_FLAGS, '--heapsnapshot-signal=SIGUSR2'] });
    await lab.waitForSubnet(node, 60_000);
    if (peers > 0) await waitForEntries(lab.scope, node.ns, peers, performance.now(), 120_000);
    await sleep(5000);
    daemon.kill('SIGUSR2');
    // Written synchronously by the daemon: complete once it parses (bounded wait).
    for (let i = 0; i < 600; i++) {
      await sleep(500);
      const file = (await readdir(dir)).find((f) => f.endsWith('.heapsnapshot'));
      if (!file) continue;
      const text = await readFile(join(dir, file), 'utf8');
      try {
        return summarize(text);
      } catch {
        // still being written
      }
    }
    throw new Error('weftd wrote no heap snapshot within 300 s');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function snapshotAt(peers: number, mode: HeapMode): Promise<HeapSummary> {
  if (mode === 'kube') return withKubeLab(peers, ({ lab, node, store }) => snapshotOf(lab, node, store, peers));
  return withEtcdLab('h', async (lab) => {
    const etcd = openEtcd(lab.etcdHostEndpoint);
    try {
      await writeBenchNetworkConfig(etcd);
      await putPeers(etcd, 0, peers);
    } finally {
      etcd.close();
    }
    return snapshotOf(lab, await lab.addNode(1), { etcd: lab.etcdEndpoint }, peers);
  });
}

export interface HeapPerPeer {
  peers: number;
  zeroBytes: number;
  atPeersBytes: number;
  bytesPerPeer: number;
  /** The kinds that grew most, bytes per peer. */
  top: [string, number][];
}

export async function measureHeapPerPeer(peers: number, progress: (l: string) => void, mode: HeapMode = 'etcd'): Promise<HeapPerPeer> {
  const zero = await snapshotAt(0, mode);
  const full = await snapshotAt(peers, mode);
  const growth = Object.entries(full.byKind).map(([kind, bytes]): [string, number] => [kind, (bytes - (zero.byKind[kind] ?? 0)) / peers]);
  const top = growth.sort((a, b) => b[1] - a[1]).slice(0, 12);
  const result = { peers, zeroBytes: zero.totalBytes, atPeersBytes: full.totalBytes, bytesPerPeer: (full.totalBytes - zero.totalBytes) / peers, top };
  progress(`  heap (${mode} mode): ${(zero.totalBytes / 2 ** 20).toFixed(1)} MiB at 0 peers, ${(full.totalBytes / 2 ** 20).toFixed(1)} MiB at ${peers}: ` +
    `${result.bytesPerPeer.toFixed(0)} B per peer; most: ${top.slice(0, 6).map(([k, b]) => `${k} ${b.toFixed(0)}`).join(', ')}`);
  return result;
}
