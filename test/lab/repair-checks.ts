// Checks for the repair of kernel state deleted or changed by hand: how long until it is right
// again, and the daemon's own log as proof that it really was gone (the rtnetlink monitor often
// repairs faster than `ip` can look).
import type { LabCluster, LabNode } from './cluster.js';
import { waitFor } from './netns.js';

/** The log line weftd writes after each pass that changed the kernel. */
const CONVERGED = 'kernel state converged';

/** Polls until `check` holds and returns how long that took; fails after `deadlineMs`. */
export async function timeUntil(what: string, check: () => Promise<boolean>, deadlineMs: number): Promise<number> {
  const started = performance.now();
  await waitFor(what, async () => ((await check()) ? true : undefined), deadlineMs, 50);
  return performance.now() - started;
}

/** How many repair passes the node's daemon has logged so far. */
export async function repairsLogged(lab: LabCluster, node: LabNode): Promise<number> {
  return lab.countLogLines(node, CONVERGED);
}

/** The repair passes logged after the first `before`. */
export async function repairsSince(lab: LabCluster, node: LabNode, before: number): Promise<string[]> {
  const log = await lab.nodeExec(node, 'cat', [node.logFile]);
  return log.split('\n').filter((l) => l.includes(CONVERGED)).slice(before);
}
