// End to end: host-gw across three nodes, and the reconcile loop repairing kernel state that
// someone deleted by hand (through the rtnetlink monitor, well before the 10 s resync), leaving
// routes it does not own alone, and removing entries of a lease deleted while it was stopped.
import { jest } from '@jest/globals';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import { waitFor } from '../lab/netns.js';
import { repairsLogged, repairsSince, timeUntil as timeUntilDeadline } from '../lab/repair-checks.js';
import { literal, nexthopMisfits } from '../lab/datapath-entries.js';

jest.setTimeout(120_000);

const PREFIX = '/coreos.com/network';
const REPAIR_DEADLINE_MS = 2000;

async function startCluster(lab: LabCluster, backend: string): Promise<LabPod[]> {
  await lab.startEtcd();
  await lab.writeNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: backend } });
  for (let i = 1; i <= 3; i++) lab.startDaemon(await lab.addNode(i));
  const pods: LabPod[] = [];
  for (const node of lab.nodes) pods.push(await lab.addPod(node));
  return pods;
}

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

/** The subnet (a.b.c.0/24) a pod lives in. */
function podSubnet(pod: LabPod): string {
  return `${pod.ip.split('.').slice(0, 3).join('.')}.0/24`;
}

/** Polls until `check` holds and returns how long that took; fails after the repair deadline. */
async function timeUntil(what: string, check: () => Promise<boolean>): Promise<number> {
  return timeUntilDeadline(what, check, REPAIR_DEADLINE_MS);
}

async function allPodsReachEachOther(lab: LabCluster): Promise<void> {
  await waitFor('every pod to reach every other pod', async () => {
    const matrix = await lab.connectivityMatrix();
    return matrix.every((row) => row.ok) ? true : undefined;
  }, 10_000, 200);
}

describe('host-gw', () => {
  let lab: LabCluster;
  let pods: LabPod[];
  let n1: LabNode;
  beforeAll(async () => {
    lab = await LabCluster.create('g');
    pods = await startCluster(lab, 'host-gw');
    n1 = lab.nodes[0] as LabNode;
    await waitFor('two peer routes on every node', async () => {
      for (const node of lab.nodes) {
        const routes = lines(await lab.nodeExec(node, 'ip', ['route', 'show', 'proto', '87']));
        if (routes.length !== 2) return undefined;
      }
      return true;
    }, 15_000, 100);
  });
  afterAll(async () => {
    await lab.dispose();
  });

  it('routes each peer subnet via the peer node, through a nexthop object of its own, and has no VXLAN device', async () => {
    for (const node of lab.nodes) {
      const routes = lines(await lab.nodeExec(node, 'ip', ['route', 'show', 'proto', '87'])).sort();
      const nexthops = lines(await lab.nodeExec(node, 'ip', ['nexthop', 'list', 'protocol', '87']));
      const peers = pods.filter((p) => p.node !== node).sort((a, b) => podSubnet(a).localeCompare(podSubnet(b)));
      expect(routes).toEqual(peers.map((p) => expect.stringMatching(new RegExp(`^${literal(podSubnet(p))} nhid \\d+ via ${literal(p.node.underlayIp)} dev eth0$`)) as string));
      const byGateway = (line: string): string => / via (\S+)/.exec(line)?.[1] ?? '';
      nexthops.sort((a, b) => byGateway(a).localeCompare(byGateway(b)));
      peers.sort((a, b) => a.node.underlayIp.localeCompare(b.node.underlayIp));
      expect(nexthops).toEqual(peers.map((p) => expect.stringMatching(new RegExp(`^id \\d+ via ${literal(p.node.underlayIp)} dev eth0 scope link proto 87$`)) as string));
      expect(nexthopMisfits(routes, nexthops)).toEqual([]);
      expect(lines(await lab.nodeExec(node, 'ip', ['-d', 'link', 'show', 'type', 'vxlan']))).toEqual([]);
    }
    const matrix = await lab.connectivityMatrix();
    expect(matrix.filter((row) => !row.ok).map((r) => `${r.from.ip}->${r.to.ip}`)).toEqual([]);
  });

  it('puts back a peer route deleted by hand within 2 s, and pods reach each other again', async () => {
    const peer = pods[1] as LabPod;
    await lab.nodeExec(n1, 'ip', ['route', 'del', podSubnet(peer)]);
    const ms = await timeUntil('the route to come back', async () =>
      (await lab.nodeExec(n1, 'ip', ['route', 'show', podSubnet(peer)])).includes(`via ${peer.node.underlayIp}`));
    expect(ms).toBeLessThan(REPAIR_DEADLINE_MS);
    await allPodsReachEachOther(lab);
  });

  it('puts back a nexthop object deleted by hand, and the route through it, within 2 s', async () => {
    const peer = pods[1] as LabPod;
    const id = /nhid (\d+)/.exec(await lab.nodeExec(n1, 'ip', ['route', 'show', podSubnet(peer)]))?.[1];
    expect(id).toBeDefined();
    await lab.nodeExec(n1, 'ip', ['nexthop', 'del', 'id', id ?? '']);
    const ms = await timeUntil('the nexthop object and its route to come back', async () => {
      const route = lines(await lab.nodeExec(n1, 'ip', ['route', 'show', podSubnet(peer)]));
      return route.length === 1 && nexthopMisfits(route, lines(await lab.nodeExec(n1, 'ip', ['nexthop', 'list', 'protocol', '87']))).length === 0 &&
        (route[0]?.includes(`via ${peer.node.underlayIp} dev eth0`) ?? false);
    });
    expect(ms).toBeLessThan(REPAIR_DEADLINE_MS);
    await allPodsReachEachOther(lab);
  });

  it('leaves routes and nexthop objects it does not own alone, even inside the pod network', async () => {
    await lab.nodeExec(n1, 'ip', ['route', 'add', '10.244.250.0/24', 'via', '192.0.2.1', 'dev', 'eth0']);
    await lab.nodeExec(n1, 'ip', ['route', 'add', '198.51.100.0/24', 'via', '192.0.2.1', 'dev', 'eth0']);
    await lab.nodeExec(n1, 'ip', ['nexthop', 'add', 'id', '4242', 'via', '192.0.2.1', 'dev', 'eth0']);
    await lab.nodeExec(n1, 'ip', ['route', 'add', '10.244.251.0/24', 'nhid', '4242']);
    // Make the daemon run passes (a deleted route of its own) and let a few pass.
    await lab.nodeExec(n1, 'ip', ['route', 'del', podSubnet(pods[2] as LabPod)]);
    await timeUntil('the deleted route to come back', async () =>
      (await lab.nodeExec(n1, 'ip', ['route', 'show', podSubnet(pods[2] as LabPod)])) !== '');
    const routes = await lab.nodeExec(n1, 'ip', ['route', 'show']);
    expect(routes).toContain('10.244.250.0/24 via 192.0.2.1 dev eth0');
    expect(routes).toContain('198.51.100.0/24 via 192.0.2.1 dev eth0');
    expect(routes).toContain('10.244.251.0/24 nhid 4242 via 192.0.2.1 dev eth0');
    expect(await lab.nodeExec(n1, 'ip', ['nexthop', 'list', 'id', '4242'])).toContain('id 4242 via 192.0.2.1 dev eth0');
  });
});

describe('vxlan repair', () => {
  let lab: LabCluster;
  let pods: LabPod[];
  let n1: LabNode;
  let peer: LabPod;
  /** The peer's VTEP address (its subnet's .0), MAC and underlay IP as node 1 knows them. */
  let peerVtep: { ip: string; mac: string; publicIp: string };

  beforeAll(async () => {
    lab = await LabCluster.create('r');
    pods = await startCluster(lab, 'vxlan');
    n1 = lab.nodes[0] as LabNode;
    peer = pods[1] as LabPod;
    await allPodsReachEachOther(lab);
    const vtepIp = podSubnet(peer).replace('/24', '');
    const neigh = await lab.nodeExec(n1, 'ip', ['neigh', 'show', vtepIp, 'dev', 'flannel.1']);
    const mac = /lladdr (\S+)/.exec(neigh)?.[1] ?? '';
    peerVtep = { ip: vtepIp, mac, publicIp: peer.node.underlayIp };
  });
  afterAll(async () => {
    await lab.dispose();
  });

  const hasNeighbor = async (): Promise<boolean> =>
    (await lab.nodeExec(n1, 'ip', ['neigh', 'show', peerVtep.ip, 'dev', 'flannel.1'])).includes(`lladdr ${peerVtep.mac} PERMANENT`);
  const hasFdb = async (): Promise<boolean> =>
    (await lab.nodeExec(n1, 'bridge', ['fdb', 'show', 'dev', 'flannel.1'])).includes(`${peerVtep.mac} dst ${peerVtep.publicIp} self permanent`);

  // The monitor repairs faster than `ip` can look, so the log proves the entry was really gone.
  let repairsBefore = 0;
  beforeEach(async () => {
    repairsBefore = await repairsLogged(lab, n1);
  });
  const expectRepairLogged = async (reason: string, before: number): Promise<void> => {
    const repairs = await repairsSince(lab, n1, before);
    expect(repairs.length).toBeGreaterThan(0);
    expect(repairs.some((l) => l.includes(reason))).toBe(true);
  };

  /** The route to the peer as `ip route` shows it, when it goes through a nexthop object of ours with the peer's VTEP as gateway. */
  const routeThroughNexthop = async (): Promise<boolean> => {
    const route = lines(await lab.nodeExec(n1, 'ip', ['route', 'show', podSubnet(peer)]));
    const nexthops = lines(await lab.nodeExec(n1, 'ip', ['nexthop', 'list', 'dev', 'flannel.1']));
    return route.length === 1 && new RegExp(`^${literal(podSubnet(peer))} nhid \\d+ via ${literal(peerVtep.ip)} dev flannel\\.1 onlink$`).test(route[0] ?? '') &&
      nexthopMisfits(route, nexthops.filter((n) => n.endsWith(' proto 87 onlink'))).length === 0;
  };

  it('puts back a deleted nexthop object and the route through it (the kernel deletes the route silently)', async () => {
    expect(await routeThroughNexthop()).toBe(true);
    const id = /nhid (\d+)/.exec(await lab.nodeExec(n1, 'ip', ['route', 'show', podSubnet(peer)]))?.[1];
    await lab.nodeExec(n1, 'ip', ['nexthop', 'del', 'id', id ?? '']);
    expect(await timeUntil('the nexthop object and its route to come back', routeThroughNexthop)).toBeLessThan(REPAIR_DEADLINE_MS);
    await expectRepairLogged('kernel-nexthop-deleted', repairsBefore);
    expect(await lab.ping(pods[0] as LabPod, peer.ip, 3)).toBeGreaterThan(0);
  });

  it('puts back a deleted route', async () => {
    await lab.nodeExec(n1, 'ip', ['route', 'del', podSubnet(peer)]); // no dev: a route through a nexthop object matches none
    expect(await timeUntil('the route to come back', routeThroughNexthop)).toBeLessThan(REPAIR_DEADLINE_MS);
    await expectRepairLogged('kernel-route-deleted', repairsBefore);
    expect(await lab.ping(pods[0] as LabPod, peer.ip, 3)).toBeGreaterThan(0);
  });

  it('puts back a deleted neighbour entry', async () => {
    await lab.nodeExec(n1, 'ip', ['neigh', 'del', peerVtep.ip, 'dev', 'flannel.1']);
    expect(await timeUntil('the neighbour to come back', hasNeighbor)).toBeLessThan(REPAIR_DEADLINE_MS);
    await expectRepairLogged('kernel-neighbor-deleted', repairsBefore);
    expect(await lab.ping(pods[0] as LabPod, peer.ip, 3)).toBeGreaterThan(0);
  });

  it('puts back a deleted FDB entry', async () => {
    await lab.nodeExec(n1, 'bridge', ['fdb', 'del', peerVtep.mac, 'dev', 'flannel.1', 'dst', peerVtep.publicIp]);
    expect(await timeUntil('the FDB entry to come back', hasFdb)).toBeLessThan(REPAIR_DEADLINE_MS);
    await expectRepairLogged('kernel-neighbor-deleted', repairsBefore);
    expect(await lab.ping(pods[0] as LabPod, peer.ip, 3)).toBeGreaterThan(0);
  });

  // Changed, not deleted: the monitor reacts to RTM_NEW* of entries that differ from what is wanted.
  it('puts right a route changed to a wrong next hop', async () => {
    await lab.nodeExec(n1, 'ip', ['route', 'replace', podSubnet(peer), 'via', '10.244.250.0', 'dev', 'flannel.1', 'onlink']);
    const ms = await timeUntil('the next hop to be right again (through its nexthop object)', routeThroughNexthop);
    expect(ms).toBeLessThan(REPAIR_DEADLINE_MS);
    await expectRepairLogged('kernel-route-changed', repairsBefore);
  });

  it('puts right a neighbour changed to a wrong MAC', async () => {
    await lab.nodeExec(n1, 'ip', ['neigh', 'replace', peerVtep.ip, 'lladdr', '02:00:00:00:00:99', 'dev', 'flannel.1', 'nud', 'permanent']);
    expect(await timeUntil('the MAC to be right again', hasNeighbor)).toBeLessThan(REPAIR_DEADLINE_MS);
    await expectRepairLogged('kernel-neighbor-changed', repairsBefore);
  });

  it('puts right an FDB entry changed to a wrong destination', async () => {
    await lab.nodeExec(n1, 'bridge', ['fdb', 'replace', peerVtep.mac, 'dev', 'flannel.1', 'dst', '192.0.2.250', 'self', 'permanent']);
    expect(await timeUntil('the destination to be right again', hasFdb)).toBeLessThan(REPAIR_DEADLINE_MS);
    await expectRepairLogged('kernel-neighbor-changed', repairsBefore);
    expect(await lab.ping(pods[0] as LabPod, peer.ip, 3)).toBeGreaterThan(0);
  });

  it('recreates a deleted flannel.1 with its MAC and replays every peer onto it', async () => {
    const before = await lab.nodeExec(n1, 'ip', ['-j', 'link', 'show', 'flannel.1']);
    const mac = (JSON.parse(before) as { address: string }[])[0]?.address;
    await lab.nodeExec(n1, 'ip', ['link', 'del', 'flannel.1']);
    const ms = await timeUntil('flannel.1 and its peers to come back', async () => {
      const link = await lab.nodeExec(n1, 'ip', ['-j', 'link', 'show', 'flannel.1']).catch(() => '[]');
      const up = (JSON.parse(link) as { address: string; flags: string[] }[])[0];
      if (!up || up.address !== mac || !up.flags.includes('UP')) return false;
      const routes = lines(await lab.nodeExec(n1, 'ip', ['route', 'show', 'dev', 'flannel.1'])).filter((l) => l.includes(' via '));
      const nexthops = lines(await lab.nodeExec(n1, 'ip', ['nexthop', 'list', 'dev', 'flannel.1']));
      return routes.length === 2 && nexthops.length === 2 && nexthopMisfits(routes, nexthops).length === 0 && (await hasNeighbor()) && (await hasFdb());
    });
    expect(ms).toBeLessThan(REPAIR_DEADLINE_MS);
    await allPodsReachEachOther(lab);
  });

  it('removes the entries of a lease deleted while the daemon was stopped', async () => {
    // A flanneld-style peer written by hand; its public IP is an unused underlay address.
    const key = `${PREFIX}/subnets/10.244.201.0-24`;
    const value = '{"PublicIP":"192.0.2.201","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:58:0a:f4:c9:00"}}';
    await lab.etcdctl(['put', key, value]);
    const hasStalePeer = async (): Promise<boolean> =>
      (await lab.nodeExec(n1, 'ip', ['route', 'show', '10.244.201.0/24'])) !== '';
    await waitFor('the hand-written peer on node 1', async () => ((await hasStalePeer()) ? true : undefined), 5000, 50);
    expect(await lab.nodeExec(n1, 'ip', ['nexthop', 'list', 'dev', 'flannel.1'])).toContain('via 10.244.201.0 ');

    expect((await lab.stopDaemon(n1)).code).toBe(0);
    await lab.etcdctl(['del', key]);
    expect(await hasStalePeer()).toBe(true); // the datapath outlives the daemon
    lab.startDaemon(n1);
    await waitFor('the stale peer to be gone', async () => {
      if (await hasStalePeer()) return undefined;
      const neigh = await lab.nodeExec(n1, 'ip', ['neigh', 'show', '10.244.201.0', 'dev', 'flannel.1']);
      const fdb = await lab.nodeExec(n1, 'bridge', ['fdb', 'show', 'dev', 'flannel.1']);
      const nexthops = await lab.nodeExec(n1, 'ip', ['nexthop', 'list', 'dev', 'flannel.1']);
      return neigh === '' && !fdb.includes('0a:58:0a:f4:c9:00') && !nexthops.includes('via 10.244.201.0 ') ? true : undefined;
    }, 10_000, 100);
    await allPodsReachEachOther(lab);
  });
});
