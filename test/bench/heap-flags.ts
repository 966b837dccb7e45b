// Node's heap flags chosen by measurement: RSS idle and at N peers, and the CPU to converge, for
// each candidate set of flags, side by side in one run.
import { idleRssEtcd, startWithLeases } from './convergence.js';
import { median } from './kernel-state.js';

export const FLAG_CANDIDATES: Record<string, string[]> = {
  'defaults': [],
  '--max-semi-space-size=1': ['--max-semi-space-size=1'],
  '--optimize-for-size': ['--optimize-for-size'],
  '--max-semi-space-size=1 --optimize-for-size': ['--max-semi-space-size=1', '--optimize-for-size'],
  '... --no-opt': ['--max-semi-space-size=1', '--optimize-for-size', '--no-opt'],
  '... --lite-mode --no-expose-wasm': ['--max-semi-space-size=1', '--optimize-for-size', '--lite-mode', '--no-expose-wasm'],
};

export interface FlagFigures {
  flags: string;
  idleRssMib: number;
  peersRssMib: number;
  convergeMs: number;
  convergeCpuSeconds: number;
}

export async function measureHeapFlags(peers: number, runs: number, settleMs: number, progress: (l: string) => void): Promise<FlagFigures[]> {
  const results: FlagFigures[] = [];
  for (const [name, flags] of Object.entries(FLAG_CANDIDATES)) {
    const idle: number[] = [];
    const loaded: { ms: number; cpu: number; rss: number }[] = [];
    for (let r = 0; r < runs; r++) {
      idle.push(await idleRssEtcd(settleMs, flags));
      loaded.push(await startWithLeases(peers, settleMs, flags));
    }
    const f = {
      flags: name, idleRssMib: median(idle), peersRssMib: median(loaded.map((l) => l.rss)),
      convergeMs: median(loaded.map((l) => l.ms)), convergeCpuSeconds: median(loaded.map((l) => l.cpu)),
    };
    progress(`  ${name}: RSS ${f.idleRssMib.toFixed(0)} MiB idle, ${f.peersRssMib.toFixed(0)} MiB at ${peers} peers; converged in ${f.convergeMs.toFixed(0)} ms, ${f.convergeCpuSeconds.toFixed(2)} s CPU`);
    results.push(f);
  }
  return results;
}
