// CNI latency as a runtime sees it: ADD and DEL through the reference libcni (test/libcni, Debian's
// libcni 1.1.2, as Debian's containerd runs it) of a conflist holding the installed weft plugin
// (launcher + bundle, which then runs bridge + host-local), against a conflist holding Debian's
// bridge alone with the very config weft hands it, in the same run. A bare `node -e ""` shows how
// much of the difference is Node.js starting. All calls run inside a node namespace made here,
// interleaved run by run so machine load hits every side alike.
// Run alone: `node dist/test/bench/cni-latency.js [runs]` prints the medians; test/bench/run.ts
// calls measureCni.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BUNDLED_CONFLIST, installLabPlugin } from '../lab/cni-runtime.js';
import { NetnsScope } from '../lab/netns.js';
import { buildLibcniClient, runLibcni, type LibcniRequest } from '../libcni/client.js';
import { median } from './kernel-state.js';

/** Issue 12: what weft may add to a pod's ADD or DEL over bridge + host-local alone. */
export const CNI_OVERHEAD_TARGET_MS = 40;

export interface CniFigures {
  runs: number;
  /** The conflists' cniVersion (the shipped conflist's). */
  cniVersion: string;
  weftAddMs: number;
  weftDelMs: number;
  bridgeAddMs: number;
  bridgeDelMs: number;
  /** `node -e ""` in the same namespace: the floor of any Node.js plugin. */
  nodeStartMs: number;
}

/** Wall time of `node -e ""` inside `ns`. */
function nodeStart(ns: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile('ip', ['netns', 'exec', ns, process.execPath, '-e', ''], { timeout: 30_000 }, (err) => {
      if (err) reject(new Error(err.message));
      else resolve(performance.now() - started);
    });
  });
}

/** One libcni call, timed; throws when it fails. */
async function timed(client: string, op: 'add' | 'del', request: LibcniRequest): Promise<number> {
  const call = await runLibcni(client, op, request);
  if (call.code !== 0) throw new Error(`libcni ${op} of ${request.conflist} failed: ${call.stderr || call.stdout}`);
  return call.ms;
}

export async function measureCni(runs: number, progress: (l: string) => void): Promise<CniFigures> {
  const scope = new NetnsScope();
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-cni-'));
  try {
    const client = await buildLibcniClient();
    const cniPath = await installLabPlugin(join(dir, 'bin'), join(dir, 'net.d'));
    const subnetFile = join(dir, 'subnet.env');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.9.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    const cacheDir = join(dir, 'libcni-cache');
    await mkdir(cacheDir);
    const node = await scope.createNamespace('cn');
    const pod = await scope.createNamespace('cp');
    const { cniVersion } = JSON.parse(await readFile(BUNDLED_CONFLIST, 'utf8')) as { cniVersion: string };
    const conflist = async (name: string, plugin: Record<string, unknown>): Promise<string> => {
      const path = join(dir, `${name}.conflist`);
      await writeFile(path, JSON.stringify({ name: 'cbr0', cniVersion, plugins: [plugin] }));
      return path;
    };
    const request = (list: string, containerId: string): LibcniRequest => ({ nodeNs: node, conflist: list, containerId, podNs: pod, ifname: 'eth0', cniPath, cacheDir });

    const weft = await conflist('weft', { type: 'weft', subnetFile, dataDir: join(dir, 'data'), ipam: { dataDir: join(dir, 'ipam') } });
    // One ADD first, so the bridge exists and both sides measure the same steady state.
    await timed(client, 'add', request(weft, 'warm'));
    const [saved = ''] = await readdir(join(dir, 'data'));
    const delegate = JSON.parse(await readFile(join(dir, 'data', saved), 'utf8')) as Record<string, unknown>;
    await timed(client, 'del', request(weft, 'warm'));
    const bridge = await conflist('bridge', Object.fromEntries(Object.entries(delegate).filter(([key]) => key !== 'name' && key !== 'cniVersion')));

    const samples = { weftAdd: [] as number[], weftDel: [] as number[], bridgeAdd: [] as number[], bridgeDel: [] as number[], nodeStart: [] as number[] };
    for (let r = 0; r < runs; r++) {
      samples.weftAdd.push(await timed(client, 'add', request(weft, `w${r}`)));
      samples.weftDel.push(await timed(client, 'del', request(weft, `w${r}`)));
      samples.bridgeAdd.push(await timed(client, 'add', request(bridge, `b${r}`)));
      samples.bridgeDel.push(await timed(client, 'del', request(bridge, `b${r}`)));
      samples.nodeStart.push(await nodeStart(node));
    }
    const result: CniFigures = {
      runs,
      cniVersion,
      weftAddMs: median(samples.weftAdd),
      weftDelMs: median(samples.weftDel),
      bridgeAddMs: median(samples.bridgeAdd),
      bridgeDelMs: median(samples.bridgeDel),
      nodeStartMs: median(samples.nodeStart),
    };
    progress(
      `  CNI via libcni: weft ADD ${result.weftAddMs.toFixed(0)} ms / DEL ${result.weftDelMs.toFixed(0)} ms; ` +
      `bridge ADD ${result.bridgeAddMs.toFixed(0)} ms / DEL ${result.bridgeDelMs.toFixed(0)} ms; node start ${result.nodeStartMs.toFixed(0)} ms`,
    );
    return result;
  } finally {
    await scope.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}

function report(f: CniFigures): string {
  const row = (what: string, weft: number, bridge: number): string =>
    `${what.padEnd(4)} weft ${weft.toFixed(1).padStart(6)} ms  bridge ${bridge.toFixed(1).padStart(6)} ms  ` +
    `overhead ${(weft - bridge).toFixed(1).padStart(6)} ms (target <= ${CNI_OVERHEAD_TARGET_MS} ms: ${weft - bridge <= CNI_OVERHEAD_TARGET_MS ? 'met' : 'NOT met'})  ` +
    `beyond node start ${(weft - bridge - f.nodeStartMs).toFixed(1)} ms`;
  return [
    `medians of ${f.runs} interleaved runs through libcni (cniVersion ${f.cniVersion}) in a node namespace:`,
    row('ADD', f.weftAddMs, f.bridgeAddMs),
    row('DEL', f.weftDelMs, f.bridgeDelMs),
    `node -e "" alone: ${f.nodeStartMs.toFixed(1)} ms`,
  ].join('\n');
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const runs = Number(process.argv[2] ?? 20);
  const figures = await measureCni(Number.isInteger(runs) && runs > 0 && runs <= 200 ? runs : 20, () => undefined);
  process.stdout.write(`${report(figures)}\n`);
}
