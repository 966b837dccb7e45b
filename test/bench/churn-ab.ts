// Interleaved A/B of the churn section between bundles (not part of `npm run bench`):
//   node dist/test/bench/churn-ab.js --runs 3 --seconds 30 --out ab.jsonl label=dist/bundle/weftd.mjs other=dist/bundle-main/weftd.mjs
// A contender may add weftd flags after its path, comma-separated: quiet=dist/bundle/weftd.mjs,--iptables-resync,3600
// Each round runs every bundle once, in turn, against the same churn (100 changes/s on 1000 peers),
// so that the machine's load drifts over all of them alike; one JSON line per run, then the medians.
// `--pipeline` adds the minimal etcdctl-watch-to-`ip -batch` pipeline to every round as a baseline.
import { appendFile, readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { measurePipelineChurn, measureWeftdChurn, type ChurnFigures } from './churn.js';
import { median } from './kernel-state.js';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '30' },
    peers: { type: 'string', default: '1000' },
    out: { type: 'string' },
    pipeline: { type: 'boolean', default: false },
  },
});
const bundles = positionals.map((arg) => {
  const [label, spec] = arg.split('=');
  const [entry, ...weftdArgs] = spec?.split(',') ?? [];
  if (!label || !entry) throw new Error(`bundle "${arg}" is not label=path/to/weftd.mjs[,--flag,value]`);
  return { label, entry, weftdArgs };
});
if (bundles.length === 0 && !values.pipeline) throw new Error('name at least one bundle as label=path/to/weftd.mjs (or --pipeline)');
const [runs, seconds, peers] = [Number(values.runs), Number(values.seconds), Number(values.peers)];
const say = (line: string): void => { process.stdout.write(`${line}\n`); };
const loadAverage = async (): Promise<string> => (await readFile('/proc/loadavg', 'utf8')).split(' ')[0] ?? '';

const results: { label: string; f: ChurnFigures }[] = [];
for (let round = 0; round < runs; round++) {
  const contenders = [...bundles.map((b) => ({ label: b.label, run: () => measureWeftdChurn(peers, 100, seconds, say, 'ipv4', { entry: b.entry, weftdArgs: b.weftdArgs }) })),
    ...(values.pipeline ? [{ label: 'pipeline', run: () => measurePipelineChurn(peers, 100, seconds, say) }] : [])];
  // Alternate the order between rounds: the first of a round must not always be the same one.
  if (round % 2 === 1) contenders.reverse();
  for (const { label, run } of contenders) {
    const load = await loadAverage();
    const f = await run();
    results.push({ label, f });
    const line = { round, label, cpuPerSecond: f.cpuPerSecond, p50Ms: f.p50Ms, p99Ms: f.p99Ms, maxMs: f.maxMs, writeP50Ms: f.writeP50Ms, writeP99Ms: f.writeP99Ms, afterAckP50Ms: f.afterAckP50Ms, afterAckP99Ms: f.afterAckP99Ms, matched: f.matched, operations: f.operations, load, at: new Date().toISOString() };
    say(`  round ${round + 1}/${runs} ${label}: ${JSON.stringify(line)}`);
    if (values.out) await appendFile(values.out, `${JSON.stringify(line)}\n`);
  }
}
for (const label of new Set(results.map((r) => r.label))) {
  const mine = results.filter((r) => r.label === label).map((r) => r.f);
  say(`${label}: median CPU ${median(mine.map((f) => f.cpuPerSecond)).toFixed(3)} s per s, p50 ${median(mine.map((f) => f.p50Ms)).toFixed(1)} ms, ` +
    `p99 ${median(mine.map((f) => f.p99Ms)).toFixed(1)} ms, the etcd write itself p99 ${median(mine.map((f) => f.writeP99Ms)).toFixed(1)} ms, ` +
    `after its ack p50 / p99 ${median(mine.map((f) => f.afterAckP50Ms)).toFixed(1)} / ${median(mine.map((f) => f.afterAckP99Ms)).toFixed(1)} ms (${mine.length} runs)`);
}
