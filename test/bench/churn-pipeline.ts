// The churn baseline: the least a watcher can do for the same work. `etcdctl watch` feeds an awk
// script that turns each lease change into `ip -batch` (neighbour, route) and `bridge -batch` (FDB)
// lines for one long-lived ip and one bridge process in the node's namespace. No resync, no state
// beyond what deletes need (etcd's --prev-kv carries the deleted lease's value).
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { NetnsScope } from '../lab/netns.js';
import { cpuSeconds } from './weftd-process.js';

// Input per event (etcdctl's simple printer): TYPE, [prev key, prev value,] key, value.
// Churn only adds new keys and deletes existing ones, so a PUT has no prev pair and a DELETE has one.
const AWK = String.raw`
/^PUT$/ { type = "put"; line = 0; next }
/^DELETE$/ { type = "del"; line = 0; next }
{ line++ }
line == 1 { key = $0; sub(/.*\//, "", key); sub(/-/, "/", key); subnet = key; split(key, parts, "/"); vtep = parts[1]; next }
line == 2 {
  match($0, /"PublicIP":"[^"]*"/); pip = substr($0, RSTART + 12, RLENGTH - 13)
  match($0, /"VtepMAC":"[^"]*"/); mac = substr($0, RSTART + 11, RLENGTH - 12)
  if (type == "put") {
    print "neigh replace " vtep " lladdr " mac " dev flannel.1 nud permanent" | IP
    print "route replace " subnet " via " vtep " dev flannel.1 onlink" | IP
    print "fdb replace " mac " dev flannel.1 dst " pip " self permanent" | BRIDGE
  } else {
    print "route del " subnet " dev flannel.1" | IP
    print "neigh del " vtep " dev flannel.1" | IP
    print "fdb del " mac " dev flannel.1 dst " pip " self" | BRIDGE
  }
  fflush(IP); fflush(BRIDGE)
}
`;

export interface Pipeline {
  /** CPU seconds used so far by every process of the pipeline. */
  cpuSeconds(): Promise<number>;
  stop(): void;
}

async function descendants(pid: number): Promise<number[]> {
  const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8').catch(() => '');
  const direct = children.trim().split(/\s+/).filter((p) => p !== '').map(Number);
  const deeper = await Promise.all(direct.map((p) => descendants(p)));
  return [...direct, ...deeper.flat()];
}

/** Starts the pipeline from the host's etcd endpoint (loopback) into namespace `ns`. */
export function startPipeline(scope: NetnsScope, ns: string, etcdEndpoint: string, prefix: string): Pipeline {
  const inNs = (cmd: string): string => `ip netns exec ${ns} ${cmd}`;
  const child: ChildProcess = spawn('sh', ['-c',
    `exec etcdctl --endpoints ${etcdEndpoint} watch --prefix --prev-kv ${prefix}/subnets | ` +
    `exec mawk -W interactive -v IP='${inNs('ip -force -batch -')}' -v BRIDGE='${inNs('bridge -force -batch -')}' "$0"`,
    AWK], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  scope.track(child);
  const pid = child.pid;
  if (pid === undefined) throw new Error('the churn pipeline did not start');
  return {
    cpuSeconds: async () => {
      const pids = [pid, ...(await descendants(pid))];
      const each = await Promise.all(pids.map((p) => cpuSeconds(p).catch(() => 0)));
      return each.reduce((a, b) => a + b, 0);
    },
    // The whole process group: etcdctl, awk and the ip/bridge processes awk opened.
    stop: () => { try { process.kill(-pid, 'SIGTERM'); } catch { /* already gone */ } },
  };
}
