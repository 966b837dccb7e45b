// Start-up: `weftd --version` / `--help` and start to ready (lease held, subnet.env written, the
// kernel converged: 0 peers) against `node -e 0`, wall time and CPU, runs interleaved so the busy
// machine's swings hit every command alike. The bundle is what ships; tsc's tree is shown beside.
import { access, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../lab/netns.js';
import { median } from './kernel-state.js';
import { sleep, withEtcdLab } from './convergence.js';
import { HEAP_FLAGS, WEFTCTL_BUNDLE, WEFTCTL_TREE, WEFTD_BUNDLE, WEFTD_TREE, cpuSeconds, startWeftd } from './weftd-process.js';

export interface Timing {
  wallMs: number;
  cpuMs: number;
}

export interface StartupFigures {
  commands: Record<string, Timing>;
  /** Start to ready, 0 peers: the bundle with HEAP_FLAGS, and tsc's tree without flags; CPU ms at ready. */
  readyBundleMs: number;
  readyTreeMs: number;
  readyNodeMs: number;
  readyBundleCpuMs: number;
  readyTreeCpuMs: number;
  readyNodeCpuMs: number;
}

const COMMANDS: Record<string, string[]> = {
  'node -e 0': ['-e', '0'],
  'weftd --version': [WEFTD_BUNDLE, '--version'],
  'weftd --help': [WEFTD_BUNDLE, '--help'],
  'weftctl --version': [WEFTCTL_BUNDLE, '--version'],
  'weftctl --help': [WEFTCTL_BUNDLE, '--help'],
  'weftd --version (tsc tree)': [WEFTD_TREE, '--version'],
  'weftctl --version (tsc tree)': [WEFTCTL_TREE, '--version'],
};

/** One run under bash's `time`: wall and user+system CPU in ms. */
async function timed(args: string[]): Promise<Timing> {
  const quoted = [process.execPath, ...args].map((a) => `'${a}'`).join(' ');
  const { stderr } = await run('bash', ['-c', `TIMEFORMAT='%3R %3U %3S'; time ${quoted} >/dev/null 2>&1`]);
  const [real = NaN, user = NaN, sys = NaN] = stderr.trim().split('\n').at(-1)?.split(' ').map(Number) ?? [];
  return { wallMs: real * 1000, cpuMs: (user + sys) * 1000 };
}

async function commandTimings(runs: number): Promise<Record<string, Timing>> {
  const all: Record<string, Timing[]> = {};
  for (let r = 0; r < runs; r++) {
    for (const [name, args] of Object.entries(COMMANDS)) (all[name] ??= []).push(await timed(args));
  }
  return Object.fromEntries(Object.entries(all).map(([name, ts]) => [name, {
    wallMs: median(ts.map((t) => t.wallMs)), cpuMs: median(ts.map((t) => t.cpuMs)),
  }]));
}

const READY_POLL_MS = 5;
const READY_TIMEOUT_MS = 30_000;

type Samples = Record<'bundle' | 'tree' | 'node', Timing[]>;

async function readyTimes(runs: number): Promise<Samples> {
  return withEtcdLab('s', async (lab) => {
    await lab.writeNetworkConfig();
    const node = await lab.addNode(1);
    const times: Samples = { bundle: [], tree: [], node: [] };
    for (let r = 0; r < runs; r++) {
      times.node.push(await timed(['-e', '0']));
      for (const variant of ['bundle', 'tree'] as const) {
        await rm(node.subnetFile, { force: true });
        const started = performance.now();
        const daemon = startWeftd(lab, node, {
          store: { etcd: lab.etcdEndpoint },
          ...(variant === 'tree' ? { entry: WEFTD_TREE, nodeFlags: [] } : { nodeFlags: HEAP_FLAGS }),
        });
        let ready = false;
        while (!ready && performance.now() - started < READY_TIMEOUT_MS) {
          ready = await access(node.subnetFile).then(() => true, () => false);
          if (!ready) await sleep(READY_POLL_MS);
        }
        if (!ready) throw new Error(`weftd (${variant}) wrote no subnet.env within ${READY_TIMEOUT_MS} ms; see ${node.logFile}`);
        times[variant].push({ wallMs: performance.now() - started, cpuMs: (await cpuSeconds(daemon.pid)) * 1000 });
        await lab.stopDaemon(node);
      }
    }
    return times;
  });
}

/** Whether V8 takes the bundle's code cache under HEAP_FLAGS (build/code-cache.ts checks it the way a start would). */
async function codeCacheTaken(): Promise<boolean> {
  const bundle = join(dirname(WEFTD_BUNDLE), 'weftd-main.cjs');
  const checker = fileURLToPath(new URL('../../build/code-cache.js', import.meta.url));
  return run(process.execPath, [...HEAP_FLAGS, checker, bundle, 'check']).then(() => true, () => false);
}

export async function measureStartup(runs: number, progress: (line: string) => void): Promise<StartupFigures> {
  progress(`  the daemon's V8 code cache: ${await codeCacheTaken() ? 'taken' : 'REFUSED (the bundle compiles at every start)'}`);
  const commands = await commandTimings(runs);
  for (const [name, t] of Object.entries(commands)) progress(`  ${name}: ${t.wallMs.toFixed(0)} ms wall, ${t.cpuMs.toFixed(0)} ms CPU`);
  const ready = await readyTimes(runs);
  const list = (ts: Timing[]): string => ts.map((t) => `${t.wallMs.toFixed(0)} (${t.cpuMs.toFixed(0)} CPU)`).join(', ');
  progress(`  start to ready, 0 peers, ms: bundle ${list(ready.bundle)}; tsc tree ${list(ready.tree)}; node -e 0 ${list(ready.node)}`);
  const wall = (ts: Timing[]): number => median(ts.map((t) => t.wallMs));
  const cpu = (ts: Timing[]): number => median(ts.map((t) => t.cpuMs));
  return {
    commands,
    readyBundleMs: wall(ready.bundle), readyTreeMs: wall(ready.tree), readyNodeMs: wall(ready.node),
    readyBundleCpuMs: cpu(ready.bundle), readyTreeCpuMs: cpu(ready.tree), readyNodeCpuMs: cpu(ready.node),
  };
}
