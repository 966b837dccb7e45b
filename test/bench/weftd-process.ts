// How the benchmarks run weftd: the bundle `npm run build` makes (what the image runs), with the
// Node flags the manifest is to use, in a lab node's namespace; and what /proc says about it.
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAUNCH_FLAGS } from '../../build/launch-flags.js';
import type { LabCluster, LabNode } from '../lab/cluster.js';

const distRoot = fileURLToPath(new URL('../..', import.meta.url));
/** The single-file daemon (dist/bundle/weftd.mjs) and, for comparison, tsc's module tree. */
export const WEFTD_BUNDLE = join(distRoot, 'bundle', 'weftd.mjs');
export const WEFTD_TREE = join(distRoot, 'cmd', 'weftd.js');
export const WEFTCTL_BUNDLE = join(distRoot, 'bundle', 'weftctl.mjs');
export const WEFTCTL_TREE = join(distRoot, 'cmd', 'weftctl.js');

/**
 * The Node flags the image and manifest pass to node (see build/launch-flags.ts for why each);
 * defined in build/ because the daemon's code cache is made under them.
 */
export const HEAP_FLAGS = LAUNCH_FLAGS;

export interface WeftdRun {
  /** etcd endpoint, or the kube files (kubeconfig + net-conf.json) for --kube-subnet-mgr. */
  store: { etcd: string } | { kubeconfig: string; netConf: string };
  entry?: string;
  nodeFlags?: string[];
  /** Working directory (heap snapshots land here). */
  cwd?: string;
  extraArgs?: string[];
}

/** WEFT_BENCH_CPU_PROF_DIR=<dir>: every weftd the bench starts writes a V8 CPU profile there on exit. */
function cpuProfileFlags(): string[] {
  const dir = process.env.WEFT_BENCH_CPU_PROF_DIR;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** Starts weftd in the node's namespace, logging to node.logFile; does not wait for it. */
export function startWeftd(lab: LabCluster, node: LabNode, opts: WeftdRun): ChildProcess {
  const store = 'etcd' in opts.store
    ? ['--etcd-endpoints', opts.store.etcd]
    : ['--kube-subnet-mgr', '--kubeconfig-file', opts.store.kubeconfig, '--net-config-path', opts.store.netConf];
  const daemon = lab.scope.spawn(node.ns, process.execPath, [
    ...(opts.nodeFlags ?? HEAP_FLAGS),
    ...cpuProfileFlags(),
    opts.entry ?? WEFTD_BUNDLE,
    ...store,
    '--subnet-file', node.subnetFile,
    '--iface', 'eth0',
    '--log-level', 'warn',
    '--log-format', 'json',
    ...(opts.extraArgs ?? []),
  ], { env: { ...process.env, NODE_NAME: node.name }, ...(opts.cwd ? { cwd: opts.cwd } : {}) });
  const log = createWriteStream(node.logFile, { flags: 'a' });
  daemon.stdout?.pipe(log);
  daemon.stderr?.pipe(log);
  node.daemon = daemon;
  return daemon;
}

/** The process's resident set (VmRSS) in MiB. */
export async function rssMib(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024;
}

const CLOCK_TICKS_PER_SECOND = 100;

/** User + system CPU seconds the process has used so far (its own, not its children's). */
export async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (pid === undefined) return NaN;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}

/** Samples RSS every `everyMs` for `forMs`; returns [seconds since start, MiB] pairs. */
export async function sampleRss(pid: number | undefined, forMs: number, everyMs: number): Promise<[number, number][]> {
  const samples: [number, number][] = [];
  const started = performance.now();
  for (let i = 0; i <= Math.ceil(forMs / everyMs); i++) {
    samples.push([(performance.now() - started) / 1000, await rssMib(pid)]);
    const next = started + (i + 1) * everyMs - performance.now();
    if (next > 0) await new Promise((resolve) => setTimeout(resolve, next));
  }
  return samples;
}

/** Least-squares slope of y over x (MiB per second for RSS samples). */
export function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const sxy = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const sxx = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return sxx === 0 ? NaN : sxy / sxx;
}
