// RSS of two weftd bundles (e.g. main's, copied to dist/bundle-main, and this branch's),
// interleaved run by run with the order flipped each round so that the machine's drift hits both
// alike: leases present, weftd started, RSS 30 s after its 3N entries (the convergence section's
// reading) and sampled every second from 20 to 40 s, because each full resync pass (every 10 s)
// lifts RSS for a few seconds and a single reading lands in or between passes by chance.
// Usage: node dist/test/bench/rss-ab.js --out FILE.jsonl [--plan 5000:4,10000:3] [--base dist/bundle-main/weftd.mjs]
import { appendFile, readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { sleep, withEtcdLab, writePeers } from './convergence.js';
import { median, waitForEntries } from './kernel-state.js';
import { cpuSeconds, sampleRss, startWeftd, WEFTD_BUNDLE } from './weftd-process.js';

export interface RssRun {
  peers: number;
  label: string;
  startMs: number;
  cpu: number;
  /** VmRSS 30 s after convergence, and the lowest / median / highest of the 20-40 s samples (MiB). */
  rss30: number;
  window: [number, number, number];
  hwmMib: number;
  load: string;
}

async function rssRun(peers: number, label: string, entry: string): Promise<RssRun> {
  return withEtcdLab('r', async (lab) => {
    await writePeers(lab, 0, peers);
    const node = await lab.addNode(1);
    const started = performance.now();
    const daemon = startWeftd(lab, node, { store: { etcd: lab.etcdEndpoint }, entry });
    const startMs = await waitForEntries(lab.scope, node.ns, peers, started, 120_000);
    const cpu = await cpuSeconds(daemon.pid);
    await sleep(20_000);
    const samples = (await sampleRss(daemon.pid, 20_000, 1000)).map(([, mib]) => mib);
    const status = await readFile(`/proc/${daemon.pid ?? 0}/status`, 'utf8');
    const sorted = [...samples].sort((a, b) => a - b);
    return {
      peers, label, startMs, cpu, rss30: samples[10] ?? NaN,
      window: [sorted[0] ?? NaN, median(samples), sorted.at(-1) ?? NaN],
      hwmMib: Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024,
      load: (loadavg()[0] ?? NaN).toFixed(2),
    };
  });
}

/** Runs the plan (peers -> rounds), appending each run to `out` as a JSON line; returns every run. */
export async function compareBundleRss(plan: [number, number][], bundles: Record<string, string>, out: string): Promise<RssRun[]> {
  const runs: RssRun[] = [];
  for (const [peers, rounds] of plan) {
    for (let round = 0; round < rounds; round++) {
      const labels = Object.keys(bundles);
      for (const label of round % 2 === 0 ? labels : labels.reverse()) {
        const run = await rssRun(peers, label, bundles[label] ?? '');
        runs.push(run);
        await appendFile(out, `${JSON.stringify({ round, ...run })}\n`);
        process.stdout.write(`${peers} peers, round ${round + 1}/${rounds}, ${label}: RSS ${run.rss30.toFixed(1)} MiB at 30 s ` +
          `(20-40 s: ${run.window.map((x) => x.toFixed(1)).join(' / ')}), CPU ${run.cpu.toFixed(2)} s, load ${run.load}\n`);
      }
    }
  }
  return runs;
}

if (process.argv[1]?.endsWith('rss-ab.js')) {
  const { values } = parseArgs({ options: {
    out: { type: 'string' },
    plan: { type: 'string', default: '5000:4,10000:3' },
    base: { type: 'string', default: join(WEFTD_BUNDLE, '..', '..', 'bundle-main', 'weftd.mjs') },
  } });
  if (!values.out) throw new Error('--out FILE.jsonl is required');
  const plan = values.plan.split(',').map((p): [number, number] => {
    const [peers, rounds] = p.split(':').map(Number);
    if (!Number.isInteger(peers) || !Number.isInteger(rounds)) throw new Error(`--plan: "${p}" is not PEERS:ROUNDS`);
    return [peers ?? 0, rounds ?? 0];
  });
  const runs = await compareBundleRss(plan, { main: values.base, branch: WEFTD_BUNDLE }, values.out);
  for (const [peers] of plan) {
    for (const label of ['main', 'branch']) {
      const mine = runs.filter((r) => r.peers === peers && r.label === label);
      process.stdout.write(`${peers} ${label}: RSS at 30 s ${median(mine.map((r) => r.rss30)).toFixed(1)} MiB, ` +
        `CPU to converge ${median(mine.map((r) => r.cpu)).toFixed(2)} s (medians of ${mine.length})\n`);
    }
  }
}
