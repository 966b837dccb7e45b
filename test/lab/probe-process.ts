// A datapath probe running inside a namespace (raw sockets act in the namespace of the process that
// opens them), reporting its summary as JSON lines that the test follows.
import { fileURLToPath } from 'node:url';
import type { ProbeSummary } from '../../overlay/observability/probe-book.js';
import type { NetnsScope } from './netns.js';

/** A compiled module of the tree (path from the repository root) as an import specifier for a script. */
export function distModule(path: string): string {
  return JSON.stringify(fileURLToPath(new URL(`../../${path}`, import.meta.url)));
}

export interface ProbeProcess {
  /** The last summary the probe printed. */
  latest(): ProbeSummary | undefined;
  /** Every other JSON line the setup printed, in order. */
  readonly others: unknown[];
  /** Throws with the process's stderr once it has exited (so waits fail fast). */
  assertAlive(): void;
}

/**
 * Runs `setup` (ESM that defines `pinger` and a `probe` with its peers set, and may print JSON lines
 * of its own) in `ns`, then the probe for at most `runMs`, printing `{"summary": ...}` every 100 ms.
 * The scope stops the process on dispose().
 */
export function startProbeProcess(scope: NetnsScope, ns: string, setup: string, runMs: number): ProbeProcess {
  const script = `${setup}
    const stop = new AbortController();
    const timer = setInterval(() => console.log(JSON.stringify({ summary: probe.summary() })), 100);
    setTimeout(() => stop.abort(), ${runMs});
    process.on('SIGTERM', () => stop.abort());
    await probe.run(stop.signal);
    clearInterval(timer);
    pinger.close();
  `;
  const child = scope.spawn(ns, process.execPath, ['--input-type=module', '-e', script]);
  let latest: ProbeSummary | undefined;
  const others: unknown[] = [];
  let stderr = '';
  let buffered = '';
  child.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines.filter((l) => l !== '')) {
      const parsed = JSON.parse(line) as { summary?: ProbeSummary };
      if (parsed.summary) latest = parsed.summary;
      else others.push(parsed);
    }
  });
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    latest: () => latest,
    others,
    assertAlive: () => {
      if (child.exitCode !== null) throw new Error(`probe exited: ${stderr}`);
    },
  };
}
