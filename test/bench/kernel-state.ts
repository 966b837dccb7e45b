// Counting a node's VXLAN entries (flannel.1, and flannel-v6.1 on a dual-stack node), and the
// baseline: the same entries added by the kernel's own tools (`ip -batch` + `bridge -batch`) onto
// hand-made devices, as fast as iproute2 can.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IpFamily } from '../../subnet/ip-address.js';
import type { NetnsScope } from '../lab/netns.js';
import { stackPeer, type BenchStack } from './fake-leases.js';

export interface EntryCounts {
  neighbors: number;
  fdb: number;
  routes: number;
}

const DEVICES: Readonly<Record<IpFamily, { dev: string; flag: string }>> = { ipv4: { dev: 'flannel.1', flag: '-4' }, ipv6: { dev: 'flannel-v6.1', flag: '-6' } };

export function stackFamilies(stack: BenchStack): IpFamily[] {
  return stack === 'dual' ? ['ipv4', 'ipv6'] : ['ipv4'];
}

/** Peer entries only: routes with a next hop (an IPv6 device also has its local and link-local routes). */
function countScript(family: IpFamily): string {
  const { dev, flag } = DEVICES[family];
  return `ip -o ${flag} neigh show dev ${dev} nud permanent | wc -l; bridge fdb show dev ${dev} | grep -c " dst " ; ip -o ${flag} route show dev ${dev} | grep -c " via "`;
}

export async function countEntries(scope: NetnsScope, ns: string, family: IpFamily = 'ipv4'): Promise<EntryCounts> {
  const { stdout } = await scope.exec(ns, 'sh', ['-c', `${countScript(family)}; true`]).catch(() => ({ stdout: '0\n0\n0\n' }));
  const [neighbors = 0, fdb = 0, routes = 0] = stdout.trim().split('\n').map(Number);
  return { neighbors, fdb, routes };
}

export function total(c: EntryCounts): number {
  return c.neighbors + c.fdb + c.routes;
}

/** Polls until the node holds at least `wanted` entries of each kind and family; returns ms since `startedAt`. */
export async function waitForEntries(
  scope: NetnsScope, ns: string, wanted: number, startedAt: number, timeoutMs: number, families: readonly IpFamily[] = ['ipv4'],
): Promise<number> {
  const deadline = startedAt + timeoutMs;
  const enough = (c: EntryCounts): boolean => c.neighbors >= wanted && c.fdb >= wanted && c.routes >= wanted;
  while (performance.now() < deadline) {
    const counts = await Promise.all(families.map((family) => countEntries(scope, ns, family)));
    if (counts.every(enough)) return performance.now() - startedAt;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`${ns}: fewer than ${wanted} entries of each kind (${families.join(', ')}) after ${timeoutMs} ms`);
}

/** Makes flannel.1 (and flannel-v6.1 for dual stack) by hand, as flannel would, in a fresh namespace; returns the namespace. */
export async function handMadeVxlan(scope: NetnsScope, name: string, stack: BenchStack = 'ipv4'): Promise<string> {
  const ns = await scope.createNamespace(name);
  await scope.ipBatch(ns, [
    'link add eth0 type veth peer name eth1',
    'link set eth1 up',
    'addr add 192.0.2.10/24 dev eth0',
    'link set eth0 up',
    'link add flannel.1 type vxlan id 1 local 192.0.2.10 dev eth0 dstport 8472 nolearning',
    'link set flannel.1 mtu 1450 up',
    'addr add 10.0.0.0/32 dev flannel.1',
    ...(stack === 'dual' ? [
      'addr add 2001:db8::10/64 dev eth0 nodad',
      'link add flannel-v6.1 type vxlan id 1 local 2001:db8::10 dev eth0 dstport 8472 nolearning',
      'link set flannel-v6.1 up',
      'addr add fd00:10::/128 dev flannel-v6.1 nodad',
    ] : []),
  ]);
  return ns;
}

export interface BatchFigures {
  /** Wall time of `ip -batch` then `bridge -batch`. */
  ms: number;
  /** Their user + system CPU (system time includes the kernel's own work for them). */
  cpuSeconds: number;
}

/**
 * Adds peers [0, n) to the hand-made devices with iproute2's batch mode, timed by bash; with
 * `nexthops`, each route goes through a nexthop object of its own (`nexthop replace id K via <vtep>
 * dev <dev> onlink` + `route replace <subnet> nhid K`), as weft writes them.
 */
export async function timedBatch(scope: NetnsScope, ns: string, n: number, stack: BenchStack = 'ipv4', nexthops = false): Promise<BatchFigures> {
  const ipLines: string[] = [];
  const bridgeLines: string[] = [];
  for (let i = 0; i < n; i++) {
    const peer = stackPeer(stack, i);
    for (const [family, p] of [['ipv4', peer], ['ipv6', peer.ipv6]] as const) {
      if (!p) continue;
      const dev = DEVICES[family].dev;
      const id = 2 * i + (family === 'ipv4' ? 1 : 2);
      const route = nexthops
        ? [`nexthop replace id ${id} via ${p.vtep} dev ${dev} onlink proto 87`, `route replace ${p.subnet} nhid ${id}`]
        : [`route replace ${p.subnet} via ${p.vtep} dev ${dev} onlink`];
      ipLines.push(`neigh replace ${p.vtep} lladdr ${p.mac} dev ${dev} nud permanent`, ...route);
      bridgeLines.push(`fdb replace ${p.mac} dev ${dev} dst ${p.publicIp} self permanent`);
    }
  }
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-batch-'));
  try {
    await writeFile(join(dir, 'ip'), `${ipLines.join('\n')}\n`);
    await writeFile(join(dir, 'bridge'), `${bridgeLines.join('\n')}\n`);
    // One bash `time` around both: real, user, sys in seconds.
    const script = `TIMEFORMAT='%3R %3U %3S'; time { ip -batch ${dir}/ip && bridge -batch ${dir}/bridge; }`;
    const { stderr } = await scope.exec(ns, 'bash', ['-c', script]);
    const [real = NaN, user = NaN, sys = NaN] = stderr.trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
    for (const family of stackFamilies(stack)) {
      const counts = await countEntries(scope, ns, family);
      if (counts.neighbors !== n || counts.fdb !== n || counts.routes !== n) throw new Error(`baseline made ${JSON.stringify(counts)} ${family} entries for ${n}`);
    }
    return { ms: real * 1000, cpuSeconds: user + sys };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The baseline in a namespace of its own, removed afterwards. */
export async function baselineBatch(scope: NetnsScope, name: string, n: number, stack: BenchStack = 'ipv4', nexthops = false): Promise<BatchFigures> {
  const ns = await handMadeVxlan(scope, name, stack);
  try {
    return await timedBatch(scope, ns, n, stack, nexthops);
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
