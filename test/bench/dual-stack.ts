// Dual stack at scale: convergence and churn of a network whose N peers each have an IPv4 and an
// IPv6 half (6N kernel entries: flannel.1 and flannel-v6.1), next to the same figures for an
// IPv4-only network measured in the same run, and to iproute2's batch mode doing the same work.
// A dual-stack network holds twice the entries, so "<= 2x" the IPv4-only figure means no entry
// costs more than an IPv4 one does.
import { measureWeftdChurn, type ChurnFigures } from './churn.js';
import { measureConvergence, type ConvergenceFigures } from './convergence.js';
import { fmt, type Row } from './report.js';

export interface DualStackFigures {
  convergence: { ipv4: ConvergenceFigures; dual: ConvergenceFigures };
  churn: { ipv4: ChurnFigures; dual: ChurnFigures };
}

export interface DualStackPlan {
  peers: number;
  runs: number;
  settleMs: number;
  churnSeconds: number;
}

const CHURN_OPS_PER_SECOND = 100;

/** IPv4 only first, then dual stack, each figure by the same code on the same machine minutes apart. */
export async function measureDualStack(plan: DualStackPlan, progress: (line: string) => void): Promise<DualStackFigures> {
  const ipv4 = await measureConvergence(plan.peers, plan.runs, plan.settleMs, progress, 'ipv4');
  const dual = await measureConvergence(plan.peers, plan.runs, plan.settleMs, progress, 'dual');
  const churnIpv4 = await measureWeftdChurn(plan.peers, CHURN_OPS_PER_SECOND, plan.churnSeconds, progress, 'ipv4');
  const churnDual = await measureWeftdChurn(plan.peers, CHURN_OPS_PER_SECOND, plan.churnSeconds, progress, 'dual');
  return { convergence: { ipv4, dual }, churn: { ipv4: churnIpv4, dual: churnDual } };
}

const TWICE = '<= 2x (twice the entries)';

function againstIpv4(measure: string, dual: number, ipv4: number, digits = 0): Row {
  const ratio = dual / ipv4;
  return { measure, weft: fmt(dual, digits), baseline: `${fmt(ipv4, digits)} IPv4 only`, ratio, target: TWICE, met: ratio <= 2 };
}

export function dualStackRows(d: DualStackFigures): { rows: Row[]; notes: string[] } {
  const { ipv4, dual } = d.convergence;
  const n = dual.peers;
  const churn = d.churn;
  const seen = (c: ChurnFigures): string => (c.matched === c.operations ? '' : ` (${c.matched}/${c.operations} seen)`);
  const p99Ratio = churn.dual.p99Ms / churn.ipv4.p99Ms;
  const rows: Row[] = [
    againstIpv4(`dual stack, start with ${n} leases present: exec to 6N entries (ms)`, dual.startToConvergedMs, ipv4.startToConvergedMs),
    againstIpv4(`dual stack, ${n} leases arriving at a running daemon: last lease written to 6N entries (ms)`, dual.bulkAfterLastMs, ipv4.bulkAfterLastMs),
    againstIpv4(`dual stack, CPU to converge ${n} peers at start (s)`, dual.convergeCpuSeconds, ipv4.convergeCpuSeconds, 2),
    againstIpv4(`dual stack, RSS at ${n} peers (MiB)`, dual.rssMib, ipv4.rssMib),
    {
      measure: `dual stack, churn ${churn.dual.opsPerSecond}/s on ${churn.dual.peers} peers: etcd write to both families' routes p50 / p99 (ms)`,
      weft: `${fmt(churn.dual.p50Ms, 1)} / ${fmt(churn.dual.p99Ms, 1)}${seen(churn.dual)}`,
      baseline: `${fmt(churn.ipv4.p50Ms, 1)} / ${fmt(churn.ipv4.p99Ms, 1)} IPv4 only${seen(churn.ipv4)}`,
      ratio: p99Ratio, target: '<= 2x (p99)', met: churn.dual.matched === churn.dual.operations && p99Ratio <= 2,
    },
    againstIpv4(`dual stack, CPU under that churn (CPU s per s)`, churn.dual.cpuPerSecond, churn.ipv4.cpuPerSecond, 3),
  ];
  const notes = [
    `Dual stack, iproute2's batch mode for the same 6N entries: ${fmt(dual.batchMs)} ms, ${fmt(dual.batchCpuSeconds, 2)} s CPU ` +
      `(3N IPv4 only: ${fmt(ipv4.batchMs)} ms, ${fmt(ipv4.batchCpuSeconds, 2)} s CPU); weftd's start to 6N entries is ` +
      `${fmt(dual.startToConvergedMs / (dual.nodeStartMs + dual.batchMs), 2)}x node -e 0 + that batch, its bulk insert ${fmt(dual.bulkAfterLastMs / dual.batchMs, 2)}x the batch.`,
  ];
  return { rows, notes };
}
