// The soak's injected faults and steady load, each a loop bounded by the run's deadline and signal:
// lease churn (fake peers added, changed, removed in etcd), kernel deletions on the observed node
// (each must come back within 2 s), and etcd outages (stopped, then started again on its data).
// Every fault is logged with its window so /readyz answers can be judged against it.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Etcd3 } from 'etcd3';
import type { LabCluster, LabNode } from '../lab/cluster.js';
import { fakePeer, leaseKey, leaseValue } from './fake-leases.js';
import { deleteEntry, kernelEntries, type Entries } from './soak-kernel.js';

/** Fake peers 0..STABLE_PEERS-1 never churn: kernel deletions pick among them (and the real peer). */
export const STABLE_PEERS = 50;
/** Fake peers present at the start; churn works on indices STABLE_PEERS..CHURN_LIMIT-1. */
export const BASE_PEERS = 200;
const CHURN_LIMIT = 300;
const REPAIR_BOUND_MS = 2000;

export interface FaultWindow {
  kind: 'kernel-delete' | 'etcd-down';
  startMs: number;
  /** undefined while the fault lasts. */
  endMs: number | undefined;
  detail: string;
}

export class FaultLog {
  readonly windows: FaultWindow[] = [];

  open(kind: FaultWindow['kind'], detail: string): FaultWindow {
    const window: FaultWindow = { kind, startMs: Date.now(), endMs: undefined, detail };
    this.windows.push(window);
    return window;
  }

  /** The faults active at `atMs` or ended less than `graceMs` before it. */
  near(atMs: number, graceMs: number): FaultWindow[] {
    return this.windows.filter((w) => w.startMs <= atMs && (w.endMs === undefined || atMs - w.endMs <= graceMs));
  }

  /** How long faults of this kind lasted between the two times (ms). */
  overlap(kind: FaultWindow['kind'], fromMs: number, toMs: number): number {
    return this.windows
      .filter((w) => w.kind === kind)
      .reduce((sum, w) => sum + Math.max(0, Math.min(toMs, w.endMs ?? toMs) - Math.max(fromMs, w.startMs)), 0);
  }
}

export interface SoakContext {
  lab: LabCluster;
  /** The node whose kernel is damaged and judged. */
  node: LabNode;
  etcd: Etcd3;
  faults: FaultLog;
  /** False while the soak has etcd stopped: writers and readers wait. */
  etcdUp: boolean;
  /** What the observed node's kernel should hold, as of the watcher's last etcd read. */
  want: Entries;
  signal: AbortSignal;
  say: (line: string) => void;
}

/** Resolves false (instead of throwing) when the run is aborted. */
export async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(Math.max(0, ms), undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** Rejects after `ms` (the etcd client retries for long on its own while etcd is down). */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => { reject(new Error(`${what} timed out after ${ms} ms`)); }, ms); });
  return Promise.race([promise, timeout]).finally(() => { clearTimeout(timer); });
}

export interface ChurnFigures { added: number; changed: number; removed: number; failed: number }

/** A changed lease for peer i: a new PublicIP and VTEP MAC per generation, unique among peers. */
function changedValue(i: number, generation: number): string {
  const peer = fakePeer(i);
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  const publicIp = `198.19.${(generation % 100) * 2 + Math.floor(i / 250)}.${(i % 250) + 1}`;
  const mac = peer.mac.replace(/:00:01$/, `:${hex(generation % 256)}:01`);
  return leaseValue({ ...peer, publicIp, mac });
}

/** One lease operation every `everyMs` on the churning peers, paused while etcd is down. */
export async function churnLeases(ctx: SoakContext, everyMs: number): Promise<ChurnFigures> {
  const figures: ChurnFigures = { added: 0, changed: 0, removed: 0, failed: 0 };
  const present = new Set<number>();
  for (let i = STABLE_PEERS; i < BASE_PEERS; i++) present.add(i);
  let generation = 0;
  while (await pause(everyMs, ctx.signal)) {
    if (!ctx.etcdUp) continue;
    const i = STABLE_PEERS + Math.floor(Math.random() * (CHURN_LIMIT - STABLE_PEERS));
    const key = leaseKey(fakePeer(i));
    try {
      if (!present.has(i)) {
        await withTimeout(ctx.etcd.put(key).value(leaseValue(fakePeer(i))).exec(), 3000, 'lease add');
        present.add(i);
        figures.added++;
      } else if (Math.random() < 1 / 3) {
        await withTimeout(ctx.etcd.delete().key(key).exec(), 3000, 'lease delete');
        present.delete(i);
        figures.removed++;
      } else {
        await withTimeout(ctx.etcd.put(key).value(changedValue(i, ++generation)).exec(), 3000, 'lease change');
        figures.changed++;
      }
    } catch {
      figures.failed++; // e.g. written just as etcd stopped; the next operation goes on
    }
  }
  return figures;
}

export interface DeletionFigures { deleted: number; repairMs: number[]; unrepaired: string[] }

/** Ids of the entries kernel deletions may pick: the stable fake peers' and the real peer's. */
export function stableIds(want: Entries, realPeerSubnet: string): string[] {
  const ids = new Set<string>();
  const addPeer = (subnet: string, mac: string | undefined): void => {
    const vtep = subnet.split('/')[0] ?? '';
    ids.add(`route ${subnet}`).add(`neigh ${vtep}`);
    if (mac !== undefined) ids.add(`fdb ${mac}`);
  };
  for (let i = 0; i < STABLE_PEERS; i++) addPeer(fakePeer(i).subnet, fakePeer(i).mac);
  addPeer(realPeerSubnet, want.get(`neigh ${realPeerSubnet.split('/')[0] ?? ''}`));
  return [...ids].filter((id) => want.has(id));
}

/** Every `everyMs`: delete one stable entry in the node and time its return (bound: 2 s). */
export async function deleteKernelEntries(ctx: SoakContext, ids: string[], everyMs: number): Promise<DeletionFigures> {
  const figures: DeletionFigures = { deleted: 0, repairMs: [], unrepaired: [] };
  while (await pause(everyMs, ctx.signal)) {
    const id = ids[Math.floor(Math.random() * ids.length)] ?? '';
    const value = ctx.want.get(id);
    if (value === undefined) continue;
    const window = ctx.faults.open('kernel-delete', id);
    const started = performance.now();
    try {
      await deleteEntry(ctx.lab.scope, ctx.node.ns, id, value);
    } catch (err) {
      window.endMs = Date.now();
      ctx.say(`  could not delete ${id}: ${(err as Error).message.split('\n')[0] ?? ''}`);
      continue;
    }
    figures.deleted++;
    const back = await waitForEntry(ctx, id, value, 5000);
    window.endMs = Date.now();
    const ms = performance.now() - started;
    if (back && ms <= REPAIR_BOUND_MS) figures.repairMs.push(ms);
    else {
      figures.unrepaired.push(`${new Date().toISOString()} ${id}: ${back ? `back after ${ms.toFixed(0)} ms` : 'not back after 5 s'}`);
      ctx.say(`  ${id} ${back ? `came back only after ${ms.toFixed(0)} ms` : 'did not come back within 5 s'}`);
    }
  }
  return figures;
}

async function waitForEntry(ctx: SoakContext, id: string, value: string, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const got = await kernelEntries(ctx.lab.scope, ctx.node.ns).catch(() => new Map<string, string>());
    if (got.get(id) === value) return true;
    if (!(await pause(50, ctx.signal))) return false;
  }
  return false;
}

export interface OutageFigures { outages: { startedAt: string; downSeconds: number }[] }

/** etcd stopped for 10-30 s every `everyMs` (first after `firstMs`), then started on its data. */
export async function restartEtcd(ctx: SoakContext, firstMs: number, everyMs: number, endMs: number): Promise<OutageFigures> {
  const figures: OutageFigures = { outages: [] };
  let next = Date.now() + firstMs;
  for (;;) {
    const downMs = 10_000 + Math.floor(Math.random() * 20_000);
    // The last outage must end well before the run does, so that recovery is seen.
    if (next + downMs + 60_000 > endMs) break;
    if (!(await pause(next - Date.now(), ctx.signal))) break;
    ctx.say(`  etcd down for ${(downMs / 1000).toFixed(0)} s`);
    ctx.etcdUp = false;
    const window = ctx.faults.open('etcd-down', `${(downMs / 1000).toFixed(0)} s`);
    await ctx.lab.stopEtcd();
    await pause(downMs, ctx.signal);
    await ctx.lab.startEtcd();
    window.endMs = Date.now();
    ctx.etcdUp = true;
    figures.outages.push({ startedAt: new Date(window.startMs).toISOString(), downSeconds: (window.endMs - window.startMs) / 1000 });
    next += everyMs;
  }
  return figures;
}
