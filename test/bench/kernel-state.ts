// Counting a node's VXLAN entries, and the baseline: the same entries added by the kernel's own
// tools (`ip -batch` + `bridge -batch`) onto a hand-made flannel.1, as fast as iproute2 can.
import type { NetnsScope } from '../lab/netns.js';
import { fakePeer } from './fake-leases.js';

export interface EntryCounts {
  neighbors: number;
  fdb: number;
  routes: number;
}

const COUNT_SCRIPT =
  'ip -o neigh show dev flannel.1 nud permanent | wc -l; bridge fdb show dev flannel.1 | grep -c " dst " ; ip -o route show dev flannel.1 | wc -l';

export async function countEntries(scope: NetnsScope, ns: string): Promise<EntryCounts> {
  const { stdout } = await scope.exec(ns, 'sh', ['-c', `${COUNT_SCRIPT}; true`]).catch(() => ({ stdout: '0\n0\n0\n' }));
  const [neighbors = 0, fdb = 0, routes = 0] = stdout.trim().split('\n').map(Number);
  return { neighbors, fdb, routes };
}

export function total(c: EntryCounts): number {
  return c.neighbors + c.fdb + c.routes;
}

/** Polls until the node holds at least `wanted` entries of each kind; returns ms since `startedAt`. */
export async function waitForEntries(scope: NetnsScope, ns: string, wanted: number, startedAt: number, timeoutMs: number): Promise<number> {
  const deadline = startedAt + timeoutMs;
  while (performance.now() < deadline) {
    const c = await countEntries(scope, ns);
    if (c.neighbors >= wanted && c.fdb >= wanted && c.routes >= wanted) return performance.now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${ns}: fewer than ${wanted} entries of each kind after ${timeoutMs} ms`);
}

/** Makes flannel.1 by hand in a fresh namespace and times adding n peers with ip/bridge -batch. */
export async function baselineBatchMs(scope: NetnsScope, name: string, n: number): Promise<number> {
  const ns = await scope.createNamespace(name);
  try {
    await scope.ipBatch(ns, [
      'link add eth0 type veth peer name eth1',
      'link set eth1 up',
      'addr add 192.0.2.10/24 dev eth0',
      'link set eth0 up',
      'link add flannel.1 type vxlan id 1 local 192.0.2.10 dev eth0 dstport 8472 nolearning',
      'link set flannel.1 mtu 1450 up',
      'addr add 10.0.0.0/32 dev flannel.1',
    ]);
    const ipLines: string[] = [];
    const bridgeLines: string[] = [];
    for (let i = 0; i < n; i++) {
      const p = fakePeer(i);
      ipLines.push(`neigh replace ${p.vtep} lladdr ${p.mac} dev flannel.1 nud permanent`, `route replace ${p.subnet} via ${p.vtep} dev flannel.1 onlink`);
      bridgeLines.push(`fdb replace ${p.mac} dev flannel.1 dst ${p.publicIp} self permanent`);
    }
    const started = performance.now();
    await scope.exec(ns, 'ip', ['-batch', '-'], ipLines.join('\n') + '\n');
    await scope.exec(ns, 'bridge', ['-batch', '-'], bridgeLines.join('\n') + '\n');
    const ms = performance.now() - started;
    const counts = await countEntries(scope, ns);
    if (counts.neighbors !== n || counts.fdb !== n || counts.routes !== n) throw new Error(`baseline made ${JSON.stringify(counts)} for ${n}`);
    return ms;
  } finally {
    await scope.deleteNamespace(ns);
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? NaN) : ((sorted[mid - 1] ?? NaN) + (sorted[mid] ?? NaN)) / 2;
}

export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

export async function rssMb(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}
