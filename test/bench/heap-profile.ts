// Where weftd's heap goes per peer (etcd or kube mode): V8 heap snapshots of the running daemon (taken on SIGUSR2 via
// --heapsnapshot-signal) at 0 and N peers, summed by object type and constructor; the difference
// divided by N is the heap per peer, and the largest differences say what holds it.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep, withEtcdLab, writePeers } from './convergence.js';
import { waitForEntries } from './kernel-state.js';
import { withKubeLab } from './kube-memory.js';
import { HEAP_FLAGS, startWeftd, type WeftdRun } from './weftd-process.js';
import type { LabCluster, LabNode } from '../lab/cluster.js';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

/** Bytes by "type:name" (objects by constructor), and the total. */
export interface HeapSummary {
  totalBytes: number;
  byKind: Record<string, number>;
  /** Maps, Sets and Arrays (with their backing stores) by the property holding them, "Owner.property". */
  byHolder: Record<string, number>;
}

const CONTAINERS = new Set(['Map', 'Set', 'Array']);

export function summarize(text: string): HeapSummary {
  const snap = JSON.parse(text) as Snapshot;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ['type', 'name', 'self_size', 'edge_count'].map((f) => fields.indexOf(f)) as [number, number, number, number];
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
  return { totalBytes, byKind, byHolder: containersByHolder(snap, { typeAt, nameAt, sizeAt, edgeCountAt }) };
}

/**
 * Each Map, Set and Array of the heap with the backing stores it points at (its hash table or
 * elements), summed by the named property that holds it: which of weft's tables hold the peers.
 */
function containersByHolder(snap: Snapshot, at: { typeAt: number; nameAt: number; sizeAt: number; edgeCountAt: number }): Record<string, number> {
  const nodeWidth = snap.snapshot.meta.node_fields.length;
  const edgeFields = snap.snapshot.meta.edge_fields;
  const edgeTypes = snap.snapshot.meta.edge_types[0];
  const [edgeTypeAt, edgeNameAt, toAt] = ['type', 'name_or_index', 'to_node'].map((f) => edgeFields.indexOf(f)) as [number, number, number];
  const nodeType = (n: number): string => snap.snapshot.meta.node_types[0][snap.nodes[n + at.typeAt] ?? 0] ?? '?';
  const nodeName = (n: number): string => snap.strings[snap.nodes[n + at.nameAt] ?? 0] ?? '?';
  const isContainer = (n: number): boolean => nodeType(n) === 'object' && CONTAINERS.has(nodeName(n));
  /** Each container's own bytes plus its backing stores (internal edges to arrays). */
  const containerBytes = new Map<number, number>();
  const holders: [string, number][] = [];
  const held = new Set<number>();
  for (let n = 0, e = 0; n < snap.nodes.length; n += nodeWidth) {
    const edges = snap.nodes[n + at.edgeCountAt] ?? 0;
    const container = isContainer(n);
    let bytes = snap.nodes[n + at.sizeAt] ?? 0;
    for (let k = 0; k < edges; k++, e += edgeFields.length) {
      const to = snap.edges[e + toAt] ?? 0;
      const type = edgeTypes[snap.edges[e + edgeTypeAt] ?? 0];
      if (container && type === 'internal' && nodeType(to) === 'array') bytes += snap.nodes[to + at.sizeAt] ?? 0;
      const property = type === 'property' ? snap.strings[snap.edges[e + edgeNameAt] ?? 0] ?? '?' : '__proto__';
      // Each container once, under the first property that holds it (prototypes are not tables).
      if (property !== '__proto__' && isContainer(to) && !held.has(to)) {
        held.add(to);
        holders.push([`${nodeName(n)}.${property}`, to]);
      }
    }
    if (container) containerBytes.set(n, bytes);
  }
  const byHolder: Record<string, number> = {};
  for (const [label, node] of holders) byHolder[label] = (byHolder[label] ?? 0) + (containerBytes.get(node) ?? 0);
  return byHolder;
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
    await writePeers(lab, 0, peers);
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
  /** The containers (by holding property) that grew most, bytes per peer. */
  topHolders: [string, number][];
}

export async function measureHeapPerPeer(peers: number, progress: (l: string) => void, mode: HeapMode = 'etcd'): Promise<HeapPerPeer> {
  const zero = await snapshotAt(0, mode);
  const full = await snapshotAt(peers, mode);
  const growth = Object.entries(full.byKind).map(([kind, bytes]): [string, number] => [kind, (bytes - (zero.byKind[kind] ?? 0)) / peers]);
  const top = growth.sort((a, b) => b[1] - a[1]).slice(0, 12);
  const held = Object.entries(full.byHolder).map(([holder, bytes]): [string, number] => [holder, (bytes - (zero.byHolder[holder] ?? 0)) / peers]);
  const topHolders = held.sort((a, b) => b[1] - a[1]).slice(0, 12);
  const result = { peers, zeroBytes: zero.totalBytes, atPeersBytes: full.totalBytes, bytesPerPeer: (full.totalBytes - zero.totalBytes) / peers, top, topHolders };
  progress(`  heap (${mode} mode): ${(zero.totalBytes / 2 ** 20).toFixed(1)} MiB at 0 peers, ${(full.totalBytes / 2 ** 20).toFixed(1)} MiB at ${peers}: ` +
    `${result.bytesPerPeer.toFixed(0)} B per peer; most: ${top.slice(0, 6).map(([k, b]) => `${k} ${b.toFixed(0)}`).join(', ')}; ` +
    `tables: ${topHolders.slice(0, 8).map(([k, b]) => `${k} ${b.toFixed(0)}`).join(', ')}`);
  return result;
}
