// The soak (issue 11): two weftd nodes with pods pinging across them, 200 fake peers, and for the
// whole run lease churn, kernel deletions on node 1 and etcd outages; RSS and open fds sampled,
// /readyz judged every second (soak-watch.ts says when it tells the truth). At the end every node's
// kernel must match the leases again. Returns the figures; soak.ts and run.ts report them.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import { waitFor } from '../lab/netns.js';
import { bridgePort } from '../lab/port-bridge.js';
import { openEtcd, putPeers } from './fake-leases.js';
import { percentile, waitForEntries } from './kernel-state.js';
import { fmt, type Row } from './report.js';
import { BASE_PEERS, churnLeases, deleteKernelEntries, FaultLog, restartEtcd, stableIds, type ChurnFigures, type DeletionFigures, type OutageFigures, type SoakContext } from './soak-faults.js';
import { diffEntries, expectedEntries, kernelEntries, parseLeases, SUBNETS_PREFIX } from './soak-kernel.js';
import { sampleResources, watchReadiness, type ReadyFigures, type ResourceSample } from './soak-watch.js';
import { slope, startWeftd } from './weftd-process.js';

/** Real nodes take 10.244.0.0/16, fake peers 10.1.0.0 upwards (as in the restart drill). */
const SOAK_NETWORK = { Network: '10.0.0.0/8', SubnetLen: 24, SubnetMin: '10.244.0.0', SubnetMax: '10.244.255.0', Backend: { Type: 'vxlan' } };
const HEALTHZ_PORT = 10267;
// The probe would call every fake peer broken (nothing answers at 198.18.0.0/15): off, so /readyz
// reflects the lease and the reconcile loop only.
const DAEMON_ARGS = ['--healthz-ip', '127.0.0.1', '--healthz-port', String(HEALTHZ_PORT), '--probe-rate', '0'];
const CHURN_EVERY_MS = 500;
const DELETE_EVERY_MS = 4000;
const SAMPLE_EVERY_MS = 10_000;

export interface SoakResult {
  minutes: number;
  warmUpMinutes: number;
  churn: ChurnFigures;
  deletions: DeletionFigures;
  outages: OutageFigures;
  ready: ReadyFigures;
  resources: Record<string, ResourceSample[]>;
  /** Per node after the warm-up: least-squares slopes per hour. */
  slopes: Record<string, { rssMibPerHour: number; fdsPerHour: number; rssMib: [number, number]; fds: [number, number] }>;
  pings: { sent: number; received: number }[];
  reconcile: { passes: number; failures: number; lastError: string | undefined } | undefined;
  /** Differences between kernel and leases left after the run, per node (must be none). */
  leftUnrepaired: Record<string, string[]>;
  /** Daemons that exited during the run. */
  deaths: string[];
}

export async function runSoak(minutes: number, say: (line: string) => void): Promise<SoakResult> {
  const lab = await LabCluster.create('s');
  try {
    return await soakIn(lab, minutes, say);
  } finally {
    await lab.dispose();
  }
}

async function soakIn(lab: LabCluster, minutes: number, say: (line: string) => void): Promise<SoakResult> {
  await lab.startEtcd();
  await lab.writeNetworkConfig(SOAK_NETWORK);
  const etcd = openEtcd(lab.etcdHostEndpoint);
  try {
    await putPeers(etcd, 0, BASE_PEERS);
    const nodes = [await lab.addNode(1), await lab.addNode(2)] as [LabNode, LabNode];
    for (const n of nodes) startWeftd(lab, n, { store: { etcd: lab.etcdEndpoint }, extraArgs: DAEMON_ARGS });
    const pods = [await lab.addPod(nodes[0]), await lab.addPod(nodes[1])] as [LabPod, LabPod];
    for (const n of nodes) await waitForEntries(lab.scope, n.ns, BASE_PEERS + 1, performance.now(), 60_000);
    const bridge = await bridgePort(lab.scope, nodes[0].ns, { host: '127.0.0.1', port: HEALTHZ_PORT }, lab.workDir);
    const get = async (path: string): Promise<{ status: number; body: string }> => {
      const res = await fetch(`http://127.0.0.1:${bridge.port}${path}`);
      return { status: res.status, body: await res.text() };
    };
    await waitFor('node 1 ready', async () => ((await get('/readyz').catch(() => undefined))?.status === 200 ? true : undefined), 30_000, 250);
    const ownSubnet = subnetOf(await lab.waitForSubnet(nodes[0]));
    const otherSubnet = subnetOf(await lab.waitForSubnet(nodes[1]));
    say(`[soak] ${minutes} min: node 1 ${ownSubnet}, node 2 ${otherSubnet}, ${BASE_PEERS} fake peers; churn every ${CHURN_EVERY_MS} ms, a kernel deletion every ${DELETE_EVERY_MS / 1000} s, etcd down 10-30 s every ${fmt(outageEveryMs(minutes) / 60_000, 1)} min`);

    const controller = new AbortController();
    const endMs = Date.now() + minutes * 60_000;
    const timer = setTimeout(() => { controller.abort(); }, minutes * 60_000);
    const ctx: SoakContext = {
      lab, node: nodes[0], etcd, faults: new FaultLog(), etcdUp: true, signal: controller.signal, say,
      want: expectedEntries(parseLeases(await etcd.getAll().prefix(SUBNETS_PREFIX).strings()), ownSubnet),
    };
    const pingers = [startPinger(lab, pods[0], pods[1].ip, minutes), startPinger(lab, pods[1], pods[0].ip, minutes)];
    const pids = new Map(nodes.map((n) => [n.name, n.daemon?.pid ?? -1]));
    const deaths: string[] = [];
    for (const n of nodes) n.daemon?.once('exit', (code, signal) => { deaths.push(`${n.name} exited (${code ?? signal ?? '?'}) at ${new Date().toISOString()}`); });
    const progress = setInterval(() => { say(`  ${new Date().toISOString()} ${fmt((endMs - Date.now()) / 60_000, 1)} min left`); }, 5 * 60_000);
    try {
      const [churn, deletions, outages, ready, samples] = await Promise.all([
        churnLeases(ctx, CHURN_EVERY_MS),
        deleteKernelEntries(ctx, stableIds(ctx.want, otherSubnet), DELETE_EVERY_MS),
        restartEtcd(ctx, outageEveryMs(minutes) / 2, outageEveryMs(minutes), endMs),
        watchReadiness(ctx, { ownSubnet, ownIp: nodes[0].underlayIp, get }),
        sampleResources(pids, SAMPLE_EVERY_MS, controller.signal),
      ]);
      const pings = await Promise.all(pingers.map((p) => p.stop()));
      const leftUnrepaired = await settledDifferences(lab, etcd, nodes);
      const status = await get('/status').then((a) => JSON.parse(a.body) as { reconcile?: SoakResult['reconcile'] }).catch(() => undefined);
      const warmUpMinutes = Math.min(5, minutes / 5);
      const resources = Object.fromEntries(samples);
      return {
        minutes, warmUpMinutes, churn, deletions, outages, ready, resources, pings, leftUnrepaired, deaths: [...deaths], // a copy: teardown stops them later
        slopes: slopesAfter(resources, warmUpMinutes * 60),
        reconcile: status?.reconcile && { passes: status.reconcile.passes, failures: status.reconcile.failures, lastError: status.reconcile.lastError },
      };
    } finally {
      clearTimeout(timer);
      clearInterval(progress);
      controller.abort();
      await Promise.all(pingers.map((p) => p.stop()));
      await bridge.close();
    }
  } finally {
    etcd.close();
  }
}

/** Every 4 min in an hour-long run; three outages in a short one. */
function outageEveryMs(minutes: number): number {
  return Math.min(4, minutes / 3) * 60_000;
}

function subnetOf(envSubnet: string): string {
  // FLANNEL_SUBNET is the node's first address (10.244.3.1/24); the lease is the network.
  const [address = '', length = ''] = envSubnet.split('/');
  return `${address.replace(/\.\d+$/, '.0')}/${length}`;
}

/** Waits up to 15 s for every node's kernel to match etcd's leases; returns what is still different. */
async function settledDifferences(lab: LabCluster, etcd: SoakContext['etcd'], nodes: LabNode[]): Promise<Record<string, string[]>> {
  await sleep(2000);
  const left: Record<string, string[]> = {};
  for (const node of nodes) {
    const own = subnetOf(await lab.waitForSubnet(node));
    const differences = await waitFor(`${node.name} to match the leases`, async () => {
      const want = expectedEntries(parseLeases(await etcd.getAll().prefix(SUBNETS_PREFIX).strings()), own);
      const diff = [...diffEntries(want, await kernelEntries(lab.scope, node.ns)).values()];
      return diff.length === 0 ? diff : undefined;
    }, 15_000, 500).catch(async () => {
      const want = expectedEntries(parseLeases(await etcd.getAll().prefix(SUBNETS_PREFIX).strings()), own);
      return [...diffEntries(want, await kernelEntries(lab.scope, node.ns)).values()];
    });
    left[node.name] = differences;
  }
  return left;
}

function slopesAfter(resources: Record<string, ResourceSample[]>, warmUpSeconds: number): SoakResult['slopes'] {
  const out: SoakResult['slopes'] = {};
  for (const [name, samples] of Object.entries(resources)) {
    const after = samples.filter((s) => s.t >= warmUpSeconds);
    const rss = after.map((s) => s.rssMib);
    const fds = after.map((s) => s.fds);
    out[name] = {
      rssMibPerHour: slope(after.map((s) => [s.t, s.rssMib])) * 3600,
      fdsPerHour: slope(after.map((s) => [s.t, s.fds])) * 3600,
      rssMib: [Math.min(...rss), Math.max(...rss)],
      fds: [Math.min(...fds), Math.max(...fds)],
    };
  }
  return out;
}

interface Pinger { stop(): Promise<{ sent: number; received: number }> }

/** Pings twice a second for the whole run (bounded by ping's own -w), summary on SIGINT. */
function startPinger(lab: LabCluster, from: LabPod, toIp: string, minutes: number): Pinger {
  const child: ChildProcess = lab.scope.spawn(from.ns, 'ping', ['-n', '-q', '-i', '0.5', '-w', String(minutes * 60 + 120), toIp]);
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  const exited = new Promise<void>((resolve) => { child.once('exit', () => { resolve(); }); });
  let stopped: Promise<{ sent: number; received: number }> | undefined;
  return {
    stop: () => (stopped ??= (async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await exited;
      const m = /(\d+) packets transmitted, (\d+) received/.exec(text);
      return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) };
    })()),
  };
}

/** Report rows: targets from issue 11 (flat RSS and fds, nothing left unrepaired, /readyz truthful). */
export function soakRows(r: SoakResult): { rows: Row[]; notes: string[] } {
  const rows: Row[] = [];
  for (const [name, s] of Object.entries(r.slopes)) {
    rows.push({ measure: `soak ${r.minutes} min, ${name}: RSS slope after ${fmt(r.warmUpMinutes, 1)} min warm-up (MiB/h)`, weft: fmt(s.rssMibPerHour, 2), baseline: `${fmt(s.rssMib[0], 1)}-${fmt(s.rssMib[1], 1)} MiB`, ratio: undefined, target: 'abs <= 1', met: Math.abs(s.rssMibPerHour) <= 1 });
    rows.push({ measure: `soak ${r.minutes} min, ${name}: open fds slope (per h)`, weft: fmt(s.fdsPerHour, 2), baseline: `${s.fds[0]}-${s.fds[1]} fds`, ratio: undefined, target: 'abs <= 1', met: Math.abs(s.fdsPerHour) <= 1 });
  }
  const d = r.deletions;
  rows.push({ measure: `soak: kernel entries deleted by hand, back within 2 s (p50 / max ms)`, weft: `${d.repairMs.length}/${d.deleted} (${fmt(percentile(d.repairMs, 50))} / ${fmt(Math.max(...d.repairMs))})`, baseline: '-', ratio: undefined, target: 'all', met: d.unrepaired.length === 0 && d.deleted > 0 });
  const left = Object.values(r.leftUnrepaired).flat();
  rows.push({ measure: `soak: failed passes / differences left unrepaired at the end`, weft: `${r.reconcile?.failures ?? 'n/a'} / ${left.length}`, baseline: `${r.reconcile?.passes ?? 'n/a'} passes`, ratio: undefined, target: '0 left', met: left.length === 0 && r.reconcile?.lastError === undefined });
  const q = r.ready;
  rows.push({ measure: `soak: /readyz polls ready / not ready / unanswered; lies / unexplained`, weft: `${q.ready} / ${q.notReady} / ${q.unanswered}; ${q.readyLies.length} / ${q.unexplainedNotReady.length}`, baseline: `${q.polls} polls`, ratio: undefined, target: '0 / 0', met: q.readyLies.length === 0 && q.unexplainedNotReady.length === 0 && q.unanswered === 0 });
  const sent = r.pings.reduce((s, p) => s + p.sent, 0);
  const received = r.pings.reduce((s, p) => s + p.received, 0);
  rows.push({ measure: 'soak: pod-to-pod pings across nodes received / sent', weft: `${received} / ${sent}`, baseline: '-', ratio: undefined, target: 'daemons alive', met: r.deaths.length === 0 });
  const load = Object.values(r.resources).flat().map((s) => s.load1);
  const cpu = Object.entries(r.resources).map(([name, s]) => `${name} ${fmt(((s.at(-1)?.cpuSeconds ?? NaN) - (s[0]?.cpuSeconds ?? NaN)) / ((s.at(-1)?.t ?? NaN) - (s[0]?.t ?? NaN)), 3)}`);
  const notes = [
    `Soak ${r.minutes} min on a shared host: load average ${fmt(Math.min(...load), 1)}-${fmt(Math.max(...load), 1)} (mean ${fmt(load.reduce((a, b) => a + b, 0) / load.length, 1)}); weftd CPU s per s: ${cpu.join(', ')}.`,
    `Soak ${r.minutes} min: churn ${r.churn.added} added, ${r.churn.changed} changed, ${r.churn.removed} removed (${r.churn.failed} writes failed around etcd outages); ${r.outages.outages.length} etcd outages (${r.outages.outages.map((o) => `${fmt(o.downSeconds)} s`).join(', ')}); longest not-ready run ${fmt(q.longestNotReadyS)} s; longest kernel/lease difference ${fmt(q.longestMismatchMs)} ms.`,
    ...d.unrepaired.map((u) => `Soak: deletion not repaired in time: ${u}`),
    ...q.readyLies.slice(0, 5).map((l) => `Soak: /readyz lie: ${l}`),
    ...q.unexplainedNotReady.slice(0, 5).map((l) => `Soak: not ready with no fault: ${l}`),
    ...q.staleMismatches.slice(0, 5).map((l) => `Soak: difference lasting > 3 s: ${l}`),
    ...left.map((l) => `Soak: left unrepaired: ${l}`),
    ...r.deaths.map((l) => `Soak: ${l}`),
  ];
  return { rows, notes };
}
