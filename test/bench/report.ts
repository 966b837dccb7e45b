// The benchmark report: rows of (measure, weft, same-run baseline, ratio, target, met), written as
// a markdown table and JSON with the raw figures and the machine they were measured on.
import { execFileSync } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface Row {
  measure: string;
  weft: string;
  baseline: string;
  ratio: number | undefined;
  target: string;
  met: boolean;
}

export const fmt = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

function version(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).split('\n')[0]?.trim() ?? '';
  } catch {
    return 'unknown';
  }
}

export function machineFacts(weftVersion: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    kernel: version('uname', ['-r']),
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAverage: loadavg().map((l) => l.toFixed(1)).join(' '),
    node: process.version,
    weft: weftVersion,
    etcd: version('etcd', ['--version']),
    iproute2: version('ip', ['-V']),
    date: new Date().toISOString(),
    ...extra,
  };
}

export function markdownTable(rows: Row[]): string {
  return [
    '| measure | weft | baseline (same run) | ratio | target | met |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.measure} | ${r.weft} | ${r.baseline} | ${r.ratio === undefined ? '-' : fmt(r.ratio, 2)} | ${r.target} | ${r.met ? 'yes' : 'no'} |`),
  ].join('\n');
}

export async function writeReport(outDir: string, machine: Record<string, unknown>, rows: Row[], notes: string[], raw: Record<string, unknown>): Promise<string> {
  const table = markdownTable(rows);
  const facts = Object.entries(machine).map(([k, v]) => `- ${k}: ${String(v)}`).join('\n');
  const report = `# weft benchmark report\n\n${facts}\n\n${table}\n\n${notes.join('\n')}\n\n` +
    'Raw figures in report.json. Reproduce: `npm run bench` (`-- --smoke` for tiny sizes, `-- --long` for the 10-minute leak check).\n';
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'report.md'), report);
  await writeFile(join(outDir, 'report.json'), `${JSON.stringify({ machine, rows, notes, raw }, null, 2)}\n`);
  return table;
}
