// What the soak watches while the faults run: every second the leases in etcd, the observed node's
// kernel and its /readyz answer; every 10 s the daemons' RSS and open file descriptors.
//
// When /readyz tells the truth (the definition this soak checks):
// - "ready" (200) only while the node's own lease is in etcd with its address (as last read; etcd
//   may be down, the lease does not expire in an outage) and no difference between the kernel and
//   the lease set has lasted longer than STALE_MS of etcd being up (a lease change reaches the
//   kernel in milliseconds, a deleted entry comes back within 2 s: anything older is a real fault;
//   a lease written just before etcd stopped cannot reach the daemon before etcd is back);
// - "not ready" only while an injected fault lasts or within GRACE_MS after it ended; never
//   because of churn alone (that is normal operation), and ready again within GRACE_MS.
import { readdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { cpuSeconds, rssMib } from './weftd-process.js';
import { pause, withTimeout, type SoakContext } from './soak-faults.js';
import { diffEntries, expectedEntries, kernelEntries, parseLeases, SUBNETS_PREFIX } from './soak-kernel.js';

const STALE_MS = 3000;
const GRACE_MS = 10_000;

export interface ReadyFigures {
  polls: number;
  ready: number;
  notReady: number;
  /** No answer at all (the daemon or the bridge did not respond within 2 s). */
  unanswered: number;
  /** 200 while the lease was not held or the kernel had been wrong for > STALE_MS. */
  readyLies: string[];
  /** 503 with no injected fault near it. */
  unexplainedNotReady: string[];
  /** Longest run of consecutive not-ready answers (s). */
  longestNotReadyS: number;
  /** Longest time any kernel/lease difference lasted (ms, etcd outages included), and those lasting > STALE_MS of etcd up. */
  longestMismatchMs: number;
  staleMismatches: string[];
}

export interface WatchOptions {
  ownSubnet: string;
  ownIp: string;
  /** GET on the observed daemon's health server (through a port bridge). */
  get: (path: string) => Promise<{ status: number; body: string }>;
}

/** Polls every second until the signal; `ctx.want` is kept up to date for the deletion loop. */
export async function watchReadiness(ctx: SoakContext, opts: WatchOptions): Promise<ReadyFigures> {
  const f: ReadyFigures = {
    polls: 0, ready: 0, notReady: 0, unanswered: 0, readyLies: [], unexplainedNotReady: [],
    longestNotReadyS: 0, longestMismatchMs: 0, staleMismatches: [],
  };
  const ownKey = `${SUBNETS_PREFIX}${opts.ownSubnet.replace('/', '-')}`;
  let ownLeaseHeld = true;
  const firstSeen = new Map<string, number>();
  let notReadySince: number | undefined;
  let tick = Date.now();
  while (await pause((tick = Math.max(tick + 1000, Date.now())) - Date.now(), ctx.signal)) {
    if (ctx.etcdUp) {
      const kvs = await withTimeout(ctx.etcd.getAll().prefix(SUBNETS_PREFIX).strings(), 3000, 'lease list').catch(() => undefined);
      if (kvs) {
        ownLeaseHeld = kvs[ownKey]?.includes(`"PublicIP":"${opts.ownIp}"`) ?? false;
        ctx.want = expectedEntries(parseLeases(kvs), opts.ownSubnet);
      }
    }
    const got = await kernelEntries(ctx.lab.scope, ctx.node.ns).catch(() => undefined);
    const now = Date.now();
    const age = (since: number): number => now - since - ctx.faults.overlap('etcd-down', since, now);
    if (got) trackMismatches(diffEntries(ctx.want, got), firstSeen, now, age, f);
    const stale = [...firstSeen.entries()].filter(([, t]) => age(t) > STALE_MS).map(([id]) => id);

    f.polls++;
    const answer = await withTimeout(opts.get('/readyz'), 2000, '/readyz').catch(() => undefined);
    const at = new Date(now).toISOString();
    if (answer === undefined) f.unanswered++;
    else if (answer.status === 200) {
      f.ready++;
      notReadySince = undefined;
      if (!ownLeaseHeld) f.readyLies.push(`${at} ready without the own lease in etcd`);
      if (stale.length > 0) f.readyLies.push(`${at} ready while the kernel was wrong for > ${STALE_MS} ms: ${stale.slice(0, 3).join(', ')}`);
    } else {
      f.notReady++;
      notReadySince ??= now;
      f.longestNotReadyS = Math.max(f.longestNotReadyS, (now - notReadySince) / 1000 + 1);
      const why = answer.body.split('\n').filter((l) => l.startsWith('[-]')).join('; ');
      if (ctx.faults.near(now, GRACE_MS).length === 0) f.unexplainedNotReady.push(`${at} ${why}`);
    }
  }
  return f;
}

/** `age`: how long a difference seen first at `since` has lasted with etcd up. */
function trackMismatches(diff: Map<string, string>, firstSeen: Map<string, number>, now: number, age: (since: number) => number, f: ReadyFigures): void {
  for (const [id, since] of firstSeen) {
    if (diff.has(id)) continue;
    f.longestMismatchMs = Math.max(f.longestMismatchMs, now - since);
    firstSeen.delete(id);
  }
  for (const [id, text] of diff) {
    const since = firstSeen.get(id);
    if (since === undefined) firstSeen.set(id, now);
    else if (age(since) > STALE_MS && !f.staleMismatches.some((m) => m.includes(` ${text}`))) f.staleMismatches.push(`${new Date(now).toISOString()} ${text}`);
  }
}

export interface ResourceSample {
  /** Seconds since the soak started. */
  t: number;
  rssMib: number;
  fds: number;
  cpuSeconds: number;
  /** The machine's 1-minute load average (the host is shared: it explains slow repairs). */
  load1: number;
}

/** Samples each daemon every `everyMs` (by PID, from /proc) until the signal. */
export async function sampleResources(pids: Map<string, number>, everyMs: number, signal: AbortSignal): Promise<Map<string, ResourceSample[]>> {
  const started = Date.now();
  const samples = new Map<string, ResourceSample[]>([...pids.keys()].map((name) => [name, []]));
  do {
    for (const [name, pid] of pids) {
      const sample = await readSample(pid, (Date.now() - started) / 1000).catch(() => undefined);
      if (sample) samples.get(name)?.push(sample);
    }
  } while (await pause(everyMs, signal));
  return samples;
}

async function readSample(pid: number, t: number): Promise<ResourceSample> {
  return { t, rssMib: await rssMib(pid), fds: (await readdir(`/proc/${pid}/fd`)).length, cpuSeconds: await cpuSeconds(pid), load1: loadavg()[0] ?? NaN };
}
