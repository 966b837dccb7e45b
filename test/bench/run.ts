// weft's benchmarks, side by side with what the kernel's own tools do in the same run, written as a
// markdown table and JSON under test/bench/results/. `--smoke` runs tiny sizes in about a minute.
import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { measureChurn } from './churn.js';
import { CNI_OVERHEAD_TARGET_MS, measureCni } from './cni-latency.js';
import { measureConvergence, measureStartup } from './convergence.js';
import { measureByHand, measureWeft } from './datapath.js';

const { values } = parseArgs({ options: { smoke: { type: 'boolean', default: false }, out: { type: 'string' } } });
const smoke = values.smoke;
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const outDir = values.out ?? join(repoRoot, 'test', 'bench', 'results', smoke ? 'smoke' : '');

interface Row {
  measure: string;
  weft: string;
  baseline: string;
  ratio: number | undefined;
  target: string;
  met: boolean;
}

const rows: Row[] = [];
const say = (line: string): void => { process.stdout.write(`${line}\n`); };
const fmt = (n: number, digits = 0): string => n.toFixed(digits);

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]?.trim() ?? '';
  } catch {
    return 'unknown';
  }
}

const started = Date.now();
const sizes = smoke ? [100] : [1000, 5000];
const runs = smoke ? 1 : 3;
const raw: Record<string, unknown> = {};

say(`[1/5] datapath: iperf3 pod to pod across two nodes (${runs} runs of ${smoke ? 1 : 5} s each)`);
const seconds = smoke ? 1 : 5;
const [weftVxlan, underlay] = await measureWeft('vxlan', runs, seconds, true);
const [weftHostGw] = await measureWeft('host-gw', runs, seconds, false);
const handVxlan = await measureByHand('vxlan', runs, seconds);
const handHostGw = await measureByHand('host-gw', runs, seconds);
raw['datapath'] = [weftVxlan, weftHostGw, handVxlan, handHostGw, underlay];
for (const [weft, hand] of [[weftVxlan, handVxlan], [weftHostGw, handHostGw]]) {
  if (!weft || !hand) continue;
  const ratio = weft.gbitPerSecond / hand.gbitPerSecond;
  say(`  ${weft.name}: ${fmt(weft.gbitPerSecond, 2)} Gbit/s, ${hand.name}: ${fmt(hand.gbitPerSecond, 2)} Gbit/s`);
  rows.push({ measure: `throughput, ${weft.name.replace('weft ', '')} (Gbit/s)`, weft: fmt(weft.gbitPerSecond, 2), baseline: `${fmt(hand.gbitPerSecond, 2)} by hand`, ratio, target: '>= 0.95', met: ratio >= 0.95 });
}
if (underlay) say(`  underlay node to node: ${fmt(underlay.gbitPerSecond, 2)} Gbit/s`);

say('[2/5] convergence, memory');
const convergence = [];
for (const peers of sizes) {
  const c = await measureConvergence(peers, runs, say);
  convergence.push(c);
  const limit = peers >= 5000 ? 1.5 : 2;
  const startRatio = c.startToConvergedMs / c.baselineMs;
  const bulkRatio = c.bulkInsertMs / c.baselineMs;
  rows.push({ measure: `${peers} peers: daemon start to 3N entries (ms)`, weft: fmt(c.startToConvergedMs), baseline: `${fmt(c.baselineMs)} ip/bridge -batch`, ratio: startRatio, target: `<= ${limit}x`, met: startRatio <= limit });
  rows.push({ measure: `${peers} peers: bulk insert into a running daemon (ms)`, weft: fmt(c.bulkInsertMs), baseline: `${fmt(c.baselineMs)} ip/bridge -batch`, ratio: bulkRatio, target: `<= ${limit}x`, met: bulkRatio <= limit });
  rows.push({ measure: `RSS at ${peers} peers (MB)`, weft: fmt(c.rssAtPeersMb), baseline: `${fmt(c.rssAtZeroMb)} at 0 peers`, ratio: undefined, target: peers >= 5000 ? '<= 100 MB' : '-', met: peers < 5000 || c.rssAtPeersMb <= 100 });
}
raw['convergence'] = convergence;

say('[3/5] churn');
const churnPeers = smoke ? 100 : 1000;
const churn = await measureChurn(churnPeers, 100, smoke ? 3 : 30, say);
raw['churn'] = churn;
rows.push({ measure: `churn, ${churn.opsPerSecond}/s for ${churn.seconds} s on ${churnPeers} peers: write to kernel p50 / p99 (ms)`, weft: `${fmt(churn.p50Ms, 1)} / ${fmt(churn.p99Ms, 1)}`, baseline: `${churn.matched}/${churn.operations} seen`, ratio: undefined, target: 'p99 <= 100 ms', met: churn.p99Ms <= 100 && churn.matched === churn.operations });

say('[4/5] start-up');
const startup = await measureStartup(smoke ? 1 : 5, say);
raw['startup'] = startup;
rows.push({ measure: 'daemon start to ready (ms)', weft: fmt(startup.daemonReadyMs), baseline: `${fmt(startup.nodeStartMs)} node -e 0`, ratio: startup.daemonReadyMs / startup.nodeStartMs, target: '<= 1000 ms', met: startup.daemonReadyMs <= 1000 });

say('[5/5] CNI ADD/DEL latency');
const cni = await measureCni(smoke ? 3 : 20, say);
raw['cni'] = cni;
const addOverhead = cni.weftAddMs - cni.bridgeAddMs;
const cniTarget = `overhead <= ${CNI_OVERHEAD_TARGET_MS} ms`;
rows.push({ measure: 'CNI ADD via weft through libcni (ms)', weft: fmt(cni.weftAddMs), baseline: `${fmt(cni.bridgeAddMs)} bridge alone`, ratio: cni.weftAddMs / cni.bridgeAddMs, target: cniTarget, met: addOverhead <= CNI_OVERHEAD_TARGET_MS });
rows.push({ measure: 'CNI DEL via weft through libcni (ms)', weft: fmt(cni.weftDelMs), baseline: `${fmt(cni.bridgeDelMs)} bridge alone`, ratio: cni.weftDelMs / cni.bridgeDelMs, target: cniTarget, met: cni.weftDelMs - cni.bridgeDelMs <= CNI_OVERHEAD_TARGET_MS });

const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const machine = {
  kernel: version('uname', ['-r']),
  cpu: cpus()[0]?.model ?? 'unknown',
  cores: cpus().length,
  node: process.version,
  weft: pkg.version,
  etcd: version('etcd', ['--version']),
  iproute2: version('ip', ['-V']),
  iperf3: version('iperf3', ['--version']),
  date: new Date().toISOString(),
  smoke,
  minutes: Number(((Date.now() - started) / 60000).toFixed(1)),
};
const table = [
  '| measure | weft | baseline (same run) | ratio | target | met |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.measure} | ${r.weft} | ${r.baseline} | ${r.ratio === undefined ? '-' : fmt(r.ratio, 2)} | ${r.target} | ${r.met ? 'yes' : 'no'} |`),
].join('\n');
const underlayLine = underlay ? `Underlay node to node: ${fmt(underlay.gbitPerSecond, 2)} Gbit/s.` : '';
const report = `# weft benchmark report\n\n${Object.entries(machine).map(([k, v]) => `- ${k}: ${String(v)}`).join('\n')}\n\n${table}\n\n${underlayLine}\nMedians of ${runs} run(s); raw figures in report.json. Reproduce: \`npm run bench\` (or \`bash test/bench/run.sh --smoke\`).\n`;
await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, 'report.md'), report);
await writeFile(join(outDir, 'report.json'), `${JSON.stringify({ machine, rows, raw }, null, 2)}\n`);
say(`\n${table}\n\nreport written to ${outDir}`);
