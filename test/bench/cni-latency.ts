// CNI latency: ADD and DEL through the installed weft plugin (a Node.js process that then runs
// bridge) against calling Debian's bridge directly with the very config weft hands it.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { callPlugin, installLabPlugin } from '../lab/cni-runtime.js';
import { NetnsScope } from '../lab/netns.js';
import { median } from './kernel-state.js';

export interface CniFigures {
  runs: number;
  weftAddMs: number;
  weftDelMs: number;
  bridgeAddMs: number;
  bridgeDelMs: number;
}

export async function measureCni(runs: number, progress: (l: string) => void): Promise<CniFigures> {
  const scope = new NetnsScope();
  const dir = await mkdtemp(join(tmpdir(), 'weft-bench-cni-'));
  try {
    const cniPath = await installLabPlugin(join(dir, 'bin'), join(dir, 'net.d'));
    const subnetFile = join(dir, 'subnet.env');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.9.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    const node = await scope.createNamespace('cn');
    const pod = await scope.createNamespace('cp');
    const env = (command: string, id: string): Record<string, string> => ({
      CNI_COMMAND: command, CNI_CONTAINERID: id, CNI_NETNS: `/var/run/netns/${pod}`, CNI_IFNAME: 'eth0', CNI_PATH: cniPath,
    });
    const weftConf = JSON.stringify({ name: 'cbr0', cniVersion: '1.0.0', type: 'weft', subnetFile, dataDir: join(dir, 'data'), ipamDataDir: join(dir, 'ipam') });
    const timed = async (plugin: string, command: string, id: string, conf: string): Promise<number> => {
      const started = performance.now();
      const call = await callPlugin(node, plugin, env(command, id), conf);
      if (call.code !== 0) throw new Error(`${plugin} ${command} failed: ${call.stdout}`);
      return performance.now() - started;
    };
    // One ADD first, so the bridge exists and both sides measure the same steady state.
    await timed(join(dir, 'bin', 'weft'), 'ADD', 'warm', weftConf);
    const bridgeConf = await readFile(join(dir, 'data', 'warm'), 'utf8');
    await timed(join(dir, 'bin', 'weft'), 'DEL', 'warm', weftConf);

    const figures = { weftAdd: [] as number[], weftDel: [] as number[], bridgeAdd: [] as number[], bridgeDel: [] as number[] };
    for (let r = 0; r < runs; r++) {
      figures.weftAdd.push(await timed(join(dir, 'bin', 'weft'), 'ADD', `w${r}`, weftConf));
      figures.weftDel.push(await timed(join(dir, 'bin', 'weft'), 'DEL', `w${r}`, weftConf));
      figures.bridgeAdd.push(await timed('/usr/lib/cni/bridge', 'ADD', `b${r}`, bridgeConf));
      figures.bridgeDel.push(await timed('/usr/lib/cni/bridge', 'DEL', `b${r}`, bridgeConf));
    }
    const result: CniFigures = {
      runs,
      weftAddMs: median(figures.weftAdd),
      weftDelMs: median(figures.weftDel),
      bridgeAddMs: median(figures.bridgeAdd),
      bridgeDelMs: median(figures.bridgeDel),
    };
    progress(`  CNI: weft ADD ${result.weftAddMs.toFixed(0)} ms / DEL ${result.weftDelMs.toFixed(0)} ms; bridge ADD ${result.bridgeAddMs.toFixed(0)} ms / DEL ${result.bridgeDelMs.toFixed(0)} ms`);
    return result;
  } finally {
    await scope.dispose();
    await rm(dir, { recursive: true, force: true });
  }
}
