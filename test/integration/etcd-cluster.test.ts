// weftd against a three-member etcd cluster (real Debian etcd 3.4 members in the lab's underlay
// namespace; every daemon is given all three endpoints), through the drills an operator meets: the
// leader stopped and started again, a follower stopped and started again, compaction and
// defragmentation while daemons watch, and a member whose data is lost re-joining empty (member
// remove/add). After each drill: pods pinged throughout without loss, the three leases are exactly
// as before (none lost, none duplicated), and every daemon still watches: a lease written afterwards
// reaches every node, and its deletion does too.
import { EtcdCluster } from '../lab/etcd-cluster.js';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import { waitFor } from '../lab/netns.js';
import { UNDERLAY_GATEWAY } from '../lab/topology.js';

const T = 120_000;
const SUBNETS = '/coreos.com/network/subnets/';

let lab: LabCluster;
let etcd: EtcdCluster;
const pods: LabPod[] = [];
let leasesAtStart: string;
let probes = 0;

async function routes(node: LabNode): Promise<string[]> {
  const out = await lab.nodeExec(node, 'ip', ['route', 'show', 'dev', 'flannel.1']).catch(() => '');
  return out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** Every lease key and value, one per line (etcdctl prints key and value on alternate lines). */
async function leases(): Promise<string> {
  return etcd.etcdctl(['get', SUBNETS, '--prefix']);
}

/** Runs `action` while every pod pings the next one (in 2 s rounds of 10); returns pings lost. */
async function pingingThrough(action: () => Promise<void>): Promise<{ sent: number; lost: number }> {
  const state = { done: false };
  const totals = { sent: 0, lost: 0 };
  const pinger = (async () => {
    for (let round = 0; round < 60 && !state.done; round++) {
      const received = await Promise.all(pods.map((p, i) => lab.ping(p, (pods[(i + 1) % pods.length] as LabPod).ip, 10, 0.2, 1)));
      totals.sent += 10 * pods.length;
      totals.lost += received.reduce((sum, r) => sum + (10 - r), 0);
    }
  })();
  try {
    await action();
  } finally {
    state.done = true;
    await pinger;
  }
  return totals;
}

/** A lease written now must reach every node's kernel, and so must its deletion. */
async function everyDaemonStillWatches(): Promise<number> {
  const third = 200 + ++probes;
  const subnet = `10.244.${third}.0/24`;
  const key = `${SUBNETS}10.244.${third}.0-24`;
  const written = Date.now();
  await etcd.etcdctl(['put', key, `{"PublicIP":"198.51.100.${third - 190}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:${third.toString(16)}"}}`]);
  for (const node of lab.nodes) {
    await waitFor(`${node.name} to route ${subnet}`, async () => ((await routes(node)).some((r) => r.startsWith(subnet)) ? true : undefined), 10_000, 50);
  }
  const reachedMs = Date.now() - written;
  await etcd.etcdctl(['del', key]);
  for (const node of lab.nodes) {
    await waitFor(`${node.name} to drop ${subnet}`, async () => ((await routes(node)).some((r) => r.startsWith(subnet)) ? undefined : true), 10_000, 50);
  }
  return reachedMs;
}

async function afterDrill(name: string, pings: { sent: number; lost: number }): Promise<void> {
  const reachedMs = await everyDaemonStillWatches();
  process.stdout.write(`etcd-cluster ${name}: ${pings.sent} pings, ${pings.lost} lost; a new lease reached every node in ${reachedMs} ms\n`);
  expect(pings.lost).toBe(0);
  expect(pings.sent).toBeGreaterThan(0);
  expect(await leases()).toBe(leasesAtStart);
  for (const node of lab.nodes) expect(node.daemon?.exitCode).toBeNull();
}

beforeAll(async () => {
  lab = await LabCluster.create('c');
  etcd = await EtcdCluster.start({ scope: lab.scope, ns: lab.underlayNs, host: UNDERLAY_GATEWAY, workDir: lab.workDir });
  await etcd.etcdctl(['put', '/coreos.com/network/config', '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}']);
  lab.useEtcdEndpoints(etcd.endpoints);
  for (let i = 1; i <= 3; i++) lab.startDaemon(await lab.addNode(i));
  for (const node of lab.nodes) pods.push(await lab.addPod(node));
  await waitFor('every pod to reach every other pod', async () =>
    ((await lab.connectivityMatrix()).every((row) => row.ok) ? true : undefined), 30_000, 200);
  leasesAtStart = await leases();
  expect(leasesAtStart.split('\n').filter((l) => l.startsWith(SUBNETS))).toHaveLength(3);
}, T);

afterAll(async () => {
  await lab.dispose(); // daemons first, then namespaces
  await etcd.dispose();
}, T);

it('keeps going when the leader is stopped and started again', async () => {
  const leader = await etcd.leader();
  const pings = await pingingThrough(async () => {
    await etcd.stop(leader);
    await waitFor('a new leader', async () => ((await etcd.leader().catch(() => -1)) >= 0 ? true : undefined), 15_000, 200);
    expect(await etcd.leader()).not.toBe(leader);
    await etcd.etcdctl(['put', '/weft-drill/while-leader-down', 'x'], etcd.endpoints.filter((_e, i) => i !== leader));
    await etcd.restart(leader);
  });
  await afterDrill('leader stopped/restarted', pings);
}, T);

it('keeps going when a follower is stopped and started again', async () => {
  const leader = await etcd.leader();
  const follower = (leader + 1) % 3;
  const pings = await pingingThrough(async () => {
    await etcd.stop(follower);
    expect(await everyDaemonStillWatches()).toBeLessThan(10_000); // watching with a member down, too
    await etcd.restart(follower);
  });
  await afterDrill('follower stopped/restarted', pings);
}, T);

it('keeps watching through compaction and defragmentation', async () => {
  const pings = await pingingThrough(async () => {
    for (let i = 0; i < 20; i++) await etcd.etcdctl(['put', '/weft-drill/churn', String(i)]);
    const revision = /"revision":(\d+)/.exec(await etcd.etcdctl(['get', '/weft-drill/churn', '-w', 'json']))?.[1] ?? '';
    await etcd.etcdctl(['compact', revision]);
    await etcd.etcdctl(['defrag']);
  });
  await afterDrill('compaction + defragmentation', pings);
}, T);

it('keeps going when a member loses its data and re-joins empty (member remove/add)', async () => {
  const leader = await etcd.leader();
  const victim = (leader + 2) % 3;
  const pings = await pingingThrough(async () => {
    await etcd.replaceWithEmpty(victim);
  });
  expect(await etcd.etcdctl(['get', SUBNETS, '--prefix', '--consistency=s'], [etcd.endpoints[victim] ?? ''])).toBe(leasesAtStart); // caught up
  await afterDrill('member wiped and re-joined', pings);
}, T);
