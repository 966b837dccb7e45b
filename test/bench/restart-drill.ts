// Restarting weftd on a node that already has N peers, watched from outside as an operator would:
// an rtnetlink monitor (`ip -o monitor route neigh nexthop`, which also reports FDB entries) in the node's
// namespace records every change the kernel announces, pods on two nodes ping each other in both
// directions throughout, and one fake lease is deleted while the daemon is down. Used by the
// end-to-end test (1000 peers, in CI) and the restart benchmark (5000 peers).
import type { ChildProcess } from 'node:child_process';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import { waitFor } from '../lab/netns.js';
import { fakePeer, leaseKey, openEtcd, putPeers } from './fake-leases.js';
import { waitForEntries } from './kernel-state.js';

/** Fake peers live in 10.1.0.0-10.39.255.0; the lab's two real nodes take subnets in 10.244.0.0/16. */
const DRILL_NETWORK = { Network: '10.0.0.0/8', SubnetLen: 24, SubnetMin: '10.244.0.0', SubnetMax: '10.244.255.0', Backend: { Type: 'vxlan' } };
const PING_INTERVAL_S = 0.02;
/** Lines the first pass after a start logs (with or without writes). */
const FIRST_PASS_LINES = ['kernel state converged', 'kernel state already matches'];

export interface RestartDrill {
  lab: LabCluster;
  peers: number;
  node: LabNode;
  other: LabNode;
  pods: [LabPod, LabPod];
  /** Fake peers whose leases a restart deleted. */
  removed: number[];
}

export interface RestartOutcome {
  /** Monitor lines about entries of peers that still hold a lease (must be none). */
  liveChanges: string[];
  /** Monitor lines about the peer whose lease went while the daemon was down. */
  removedChanges: string[];
  /** Whether that peer's neighbour, FDB entry and route are all gone afterwards. */
  removedGone: boolean;
  pings: { sent: number; received: number }[];
  /** From the restarted daemon's spawn to its first pass being logged. */
  startToFirstPassMs: number;
}

export async function setUpRestartDrill(peers: number, tag: string, daemonArgs: string[] = []): Promise<RestartDrill> {
  const lab = await LabCluster.create(tag);
  try {
    await lab.startEtcd();
    await lab.writeNetworkConfig(DRILL_NETWORK);
    const etcd = openEtcd(lab.etcdHostEndpoint);
    try {
      await putPeers(etcd, 0, peers);
    } finally {
      etcd.close();
    }
    const node = await lab.addNode(1);
    const other = await lab.addNode(2);
    for (const n of [node, other]) lab.startDaemon(n, daemonArgs);
    const pods: [LabPod, LabPod] = [await lab.addPod(node), await lab.addPod(other)];
    // Every fake peer plus the other real node, on both nodes.
    for (const n of [node, other]) await waitForEntries(lab.scope, n.ns, peers + 1, performance.now(), 60_000);
    await waitFor('the pods to reach each other', async () => ((await lab.ping(pods[0], pods[1].ip, 1, 0.2, 1)) > 0 ? true : undefined), 10_000, 100);
    await waitForLinkLocal(lab, node);
    return { lab, peers, node, other, pods, removed: [] };
  } catch (err) {
    await lab.dispose();
    throw err;
  }
}

/** Adds fake peers up to `peers` in all and waits until both nodes hold them. */
export async function growRestartDrill(drill: RestartDrill, peers: number): Promise<void> {
  const etcd = openEtcd(drill.lab.etcdHostEndpoint);
  try {
    await putPeers(etcd, drill.peers, peers);
  } finally {
    etcd.close();
  }
  drill.peers = peers;
  // Every fake peer still leased plus the other real node, on both nodes.
  const wanted = peers - drill.removed.length + 1;
  for (const n of [drill.node, drill.other]) await waitForEntries(drill.lab.scope, n.ns, wanted, performance.now(), 60_000);
}

/**
 * Stops the node's daemon with `signal`, deletes fake peer `removedPeer`'s lease, starts the
 * daemon again and waits until its first pass is logged and the removed peer's entries are gone.
 */
export async function restartOnce(drill: RestartDrill, signal: 'SIGTERM' | 'SIGKILL', removedPeer: number, daemonArgs: string[] = []): Promise<RestartOutcome> {
  const { lab, node, pods } = drill;
  const monitor = await startKernelMonitor(lab, node);
  const pingers = [startPing(lab, pods[0], pods[1].ip), startPing(lab, pods[1], pods[0].ip)];
  try {
    await sleep(300); // some pings before the stop
    await lab.stopDaemon(node, signal);
    const etcd = openEtcd(lab.etcdHostEndpoint);
    try {
      await etcd.delete().key(leaseKey(fakePeer(removedPeer)));
      drill.removed.push(removedPeer);
    } finally {
      etcd.close();
    }
    const firstPassesBefore = await countFirstPassLines(lab, node);
    const started = performance.now();
    lab.startDaemon(node, daemonArgs);
    const removed = fakePeer(removedPeer);
    await waitFor('the first pass after the restart', async () => ((await countFirstPassLines(lab, node)) > firstPassesBefore ? true : undefined), 60_000, 20);
    const startToFirstPassMs = performance.now() - started;
    const removedGone = await waitFor('the removed peer to be cleaned up', async () =>
      ((await peerEntries(lab, node, removed.vtep, removed.mac)) === '' ? true : undefined), 5000, 50).catch(() => false);
    await sleep(1000); // late writes would show up here
    const lines = await monitor.stop();
    const isRemovedPeer = mentions(removed.vtep, removed.mac);
    // The kernel's own IPv6 entries on flannel.1 (multicast neighbours, NOARP, which it garbage
    // collects at any time; link-local) are not weft's: one such deletion once failed this check.
    const kernelOwn = (line: string): boolean => /^(Deleted )?(ff[0-9a-f]{2}:|fe80:)/.test(line) || / NOARP\s*$/.test(line);
    const ownEntry = (line: string): boolean => !kernelOwn(line) && (line.includes('dev flannel.1') || /^(Deleted )?10\.\d+\.\d+\.0\/24 /.test(line));
    return {
      liveChanges: lines.filter((l) => ownEntry(l) && !isRemovedPeer(l)),
      removedChanges: lines.filter(isRemovedPeer),
      removedGone,
      pings: await Promise.all(pingers.map((p) => p.stop())),
      startToFirstPassMs,
    };
  } finally {
    await monitor.stop();
    await Promise.all(pingers.map((p) => p.stop()));
  }
}

/**
 * The kernel adds flannel.1's IPv6 link-local address, and its `local fe80::...` route, only once
 * duplicate address detection ends, a second or two after the device came up: a monitor started
 * earlier would count that kernel route as a change.
 */
async function waitForLinkLocal(lab: LabCluster, node: LabNode): Promise<void> {
  await waitFor('flannel.1 to finish IPv6 duplicate address detection', async () => {
    const addresses = await lab.nodeExec(node, 'ip', ['-6', '-o', 'addr', 'show', 'dev', 'flannel.1']);
    return addresses.includes('fe80::') && !addresses.includes('tentative') ? true : undefined;
  }, 10_000, 100);
}

async function countFirstPassLines(lab: LabCluster, node: LabNode): Promise<number> {
  let count = 0;
  for (const text of FIRST_PASS_LINES) count += await lab.countLogLines(node, text);
  return count;
}

/** The peer's neighbour, FDB entry, route and nexthop object on the node, as `ip`/`bridge` print them ('' when all gone). */
async function peerEntries(lab: LabCluster, node: LabNode, vtep: string, mac: string): Promise<string> {
  const neigh = await lab.nodeExec(node, 'ip', ['neigh', 'show', vtep, 'dev', 'flannel.1']);
  const route = await lab.nodeExec(node, 'ip', ['route', 'show', `${vtep}/24`]);
  const fdb = (await lab.nodeExec(node, 'bridge', ['fdb', 'show', 'dev', 'flannel.1'])).split('\n').filter((l) => l.startsWith(mac));
  const nexthop = (await lab.nodeExec(node, 'ip', ['nexthop', 'list', 'dev', 'flannel.1'])).split('\n').filter((l) => l.includes(` via ${vtep} `));
  return [neigh.trim(), route.trim(), ...fdb, ...nexthop].filter((l) => l !== '').join('\n');
}

/** Whether a monitor line is about the peer with this VTEP address (neighbour, route) or MAC (FDB). */
function mentions(vtep: string, mac: string): (line: string) => boolean {
  const ip = new RegExp(`(^|\\s)${vtep.replace(/\./g, '\\.')}[\\s/]`);
  return (line) => ip.test(line) || line.includes(`lladdr ${mac} `) || line.includes(`${mac} dev`);
}

export interface Running<T> {
  stop(): Promise<T>;
}

/** `ip -o monitor route neigh nexthop` in the node; ready once it has seen a probe route come and go. */
export async function startKernelMonitor(lab: LabCluster, node: LabNode): Promise<Running<string[]>> {
  const child = lab.scope.spawn(node.ns, 'ip', ['-o', 'monitor', 'route', 'neigh', 'nexthop']);
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  const probe = '198.51.100.250';
  await waitFor('the monitor to see a probe route', async () => {
    await lab.nodeExec(node, 'ip', ['route', 'replace', `${probe}/32`, 'dev', 'lo']);
    await lab.nodeExec(node, 'ip', ['route', 'del', `${probe}/32`, 'dev', 'lo']);
    await sleep(50);
    return text.includes(`Deleted ${probe}`) ? true : undefined;
  }, 5000, 0);
  let stopped: Promise<string[]> | undefined;
  return {
    stop: () => (stopped ??= endProcess(child, 'SIGTERM').then(() => text.split('\n').filter((l) => l !== '' && !l.includes(probe)))),
  };
}

/** Pings every 20 ms until stopped (SIGINT makes ping print its summary); bounded at 5 minutes. */
export function startPing(lab: LabCluster, from: LabPod, toIp: string): Running<{ sent: number; received: number }> {
  const child = lab.scope.spawn(from.ns, 'ping', ['-n', '-q', '-i', String(PING_INTERVAL_S), '-w', '300', toIp]);
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  let stopped: Promise<{ sent: number; received: number }> | undefined;
  return {
    stop: () => (stopped ??= endProcess(child, 'SIGINT').then(() => {
      const m = /(\d+) packets transmitted, (\d+) received/.exec(text);
      return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) };
    })),
  };
}

async function endProcess(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
