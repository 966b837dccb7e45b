// CNI latency: ADD and DEL through the weft plugin (`node dist/cmd/weft-cni.js`, which then runs
// bridge + host-local) against calling Debian's bridge directly with the very config weft hands it,
// plus a bare `node -e ""` to show how much of the difference is Node.js starting. All calls run
// inside a node namespace made here, interleaved run by run so machine load hits every side alike.
// Run alone: `node dist/test/bench/cni-latency.js [runs]` prints the medians; test/bench/run.ts
// calls measureCni.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { NetnsScope } from '../lab/netns.js';
import { median } from './kernel-state.js';

export interface CniFigures {
  runs: number;
  weftAddMs: number;
  weftDelMs: number;
  bridgeAddMs: number;
  bridgeDelMs: number;
  /** `node -e ""` in the same namespace: the floor of any Node.js plugin. */
  nodeStartMs: number;
}

const PLUGIN = fileURLToPath(new URL('../../cmd/weft-cni.js', import.meta.url));
const DEBIAN_CNI_DIR = '/usr/lib/cni';

/** Runs argv inside `ns` and returns the wall time in ms; throws when it exits non-zero. */
function timed(ns: string, argv: string[], env: Record<string, string>, stdin: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', ns, ...argv], { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 30_000 }, (err, stdout) => {
      if (err) reject(new Error(`${argv.join(' ')} ${env['CNI_COMMAND'] ?? ''} failed: ${stdout || err.message}`));
      else resolve(performance.now() - started);
    });
    child.stdin?.end(stdin);
  });
}

export async function measureCni(runs: number, progress: (l: string) => void): Promise<CniFigures> {
  const scope = new NetnsScope();
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-cni-'));
  try {
    const subnetFile = join(dir, 'subnet.env');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.9.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    const node = await scope.createNamespace('cn');
    const pod = await scope.createNamespace('cp');
    const env = (command: string, id: string): Record<string, string> => ({
      CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: `/var/run/netns/${pod}`, CNI_IFNAME: 'eth0', CNI_PATH: DEBIAN_CNI_DIR,
    });
    const weftConf = JSON.stringify({
      name: 'cbr0', cniVersion: '1.0.0', type: 'weft', subnetFile, dataDir: join(dir, 'data'), ipam: { dataDir: join(dir, 'ipam') },
    });
    const weft = [process.execPath, PLUGIN];
    const bridge = [join(DEBIAN_CNI_DIR, 'bridge')];
    // One ADD first, so the bridge exists and both sides measure the same steady state.
    await timed(node, weft, env('ADD', 'warm'), weftConf);
    const bridgeConf = await readFile(join(dir, 'data', 'warm'), 'utf8');
    await timed(node, weft, env('DEL', 'warm'), weftConf);

    const samples = { weftAdd: [] as number[], weftDel: [] as number[], bridgeAdd: [] as number[], bridgeDel: [] as number[], nodeStart: [] as number[] };
    for (let r = 0; r < runs; r++) {
      samples.weftAdd.push(await timed(node, weft, env('ADD', `w${r}`), weftConf));
      samples.weftDel.push(await timed(node, weft, env('DEL', `w${r}`), weftConf));
      samples.bridgeAdd.push(await timed(node, bridge, env('ADD', `b${r}`), bridgeConf));
      samples.bridgeDel.push(await timed(node, bridge, env('DEL', `b${r}`), bridgeConf));
      samples.nodeStart.push(await timed(node, [process.execPath, '-e', ''], {}, ''));
    }
    const result: CniFigures = {
      runs,
      weftAddMs: median(samples.weftAdd),
      weftDelMs: median(samples.weftDel),
      bridgeAddMs: median(samples.bridgeAdd),
      bridgeDelMs: median(samples.bridgeDel),
      nodeStartMs: median(samples.nodeStart),
    };
    progress(
      `  CNI: weft ADD ${result.weftAddMs.toFixed(0)} ms / DEL ${result.weftDelMs.toFixed(0)} ms; ` +
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
    `overhead ${(weft - bridge).toFixed(1).padStart(6)} ms  ratio ${(weft / bridge).toFixed(2)}  ` +
    `beyond node start ${(weft - bridge - f.nodeStartMs).toFixed(1)} ms`;
  return [
    `medians of ${f.runs} interleaved runs, each call via ip netns exec in a node namespace:`,
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
