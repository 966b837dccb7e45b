// The soak benchmark on its own (not part of CI): `node dist/test/bench/soak.js --minutes 60`.
// Runs soak-run.ts for the given minutes (default 60) and writes the summary to
// test/bench/results/soak-<minutes>min/report.{md,json}. Ctrl-C stops every process and namespace.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { machineFacts, writeReport } from './report.js';
import { runSoak, soakRows } from './soak-run.js';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '60' }, out: { type: 'string' } } });
const minutes = Number(values.minutes);
if (!Number.isFinite(minutes) || minutes < 2 || minutes > 24 * 60) {
  process.stderr.write(`--minutes: got "${values.minutes}"; give a number of minutes from 2 to 1440\n`);
  process.exit(1);
}
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const outDir = values.out ?? join(repoRoot, 'test', 'bench', 'results', `soak-${minutes}min`);
const say = (line: string): void => { process.stdout.write(`${line}\n`); };

const started = Date.now();
const result = await runSoak(minutes, say);
const { rows, notes } = soakRows(result);
const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
const machine = machineFacts(pkg.version, { soakMinutes: minutes, minutes: Number(((Date.now() - started) / 60000).toFixed(1)) });
const table = await writeReport(outDir, machine, rows, notes, { soak: result });
say(`\n${table}\n\n${notes.join('\n')}\n\nreport written to ${outDir}`);
process.exit(rows.every((r) => r.met) ? 0 : 1);
