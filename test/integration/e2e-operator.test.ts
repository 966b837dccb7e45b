// End to end, the operator's view of real daemons: /readyz before and after the lease, /readyz
// following a broken and repaired datapath (raw-socket ICMP probe through VXLAN), /metrics parsed
// strictly with the repair counter rising, and weftctl against the lab's etcd and daemons.
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parsePrometheusText } from '../../overlay/observability/prometheus-text.js';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import { waitFor } from '../lab/netns.js';

jest.setTimeout(120_000);

const PORT = 10267;
const WEFTCTL = fileURLToPath(new URL('../../cmd/weftctl.js', import.meta.url));
// A long resync: only the kernel monitor repairs, so a changed (not deleted) FDB entry stays broken.
const DAEMON_ARGS = ['--healthz-ip', '127.0.0.1', '--healthz-port', String(PORT), '--resync-interval', '3600'];

interface HttpAnswer {
  status: number;
  body: string;
}

/** GET on the node's health server, from inside the node's namespace. */
async function get(lab: LabCluster, node: LabNode, path: string): Promise<HttpAnswer> {
  const script = `fetch('http://127.0.0.1:${PORT}${path}').then(async (r) => console.log(JSON.stringify({ status: r.status, body: await r.text() })))`;
  return JSON.parse(await lab.nodeExec(node, process.execPath, ['-e', script])) as HttpAnswer;
}

async function repairs(lab: LabCluster, node: LabNode, kind: string): Promise<number> {
  const families = parsePrometheusText((await get(lab, node, '/metrics')).body);
  const sample = families.get('weft_kernel_repairs_total')?.samples.find((s) => s.labels['kind'] === kind);
  return sample?.value ?? 0;
}

describe('operator surface on a running lab', () => {
  let lab: LabCluster;
  let pods: LabPod[];
  let n1: LabNode;
  let n2: LabNode;

  beforeAll(async () => {
    lab = await LabCluster.create('o');
    await lab.startEtcd();
    await lab.writeNetworkConfig();
    for (let i = 1; i <= 2; i++) lab.startDaemon(await lab.addNode(i), DAEMON_ARGS);
    [n1, n2] = lab.nodes as [LabNode, LabNode];
    pods = [await lab.addPod(n1), await lab.addPod(n2)];
    await waitFor('node 1 ready', async () => ((await get(lab, n1, '/readyz').catch(() => undefined))?.status === 200 ? true : undefined), 20_000, 200);
  });
  afterAll(async () => {
    await lab.dispose();
  });

  it('serves /metrics that a strict Prometheus parser accepts, and counts a route deleted by hand as a repair', async () => {
    const families = parsePrometheusText((await get(lab, n1, '/metrics')).body);
    expect(families.get('weft_peers')?.samples[0]?.value).toBe(1);
    expect(families.get('weft_reconcile_passes_total')?.samples[0]?.value).toBeGreaterThan(0);
    const before = await repairs(lab, n1, 'route');
    const peerSubnet = `${(pods[1] as LabPod).ip.split('.').slice(0, 3).join('.')}.0/24`;
    await lab.nodeExec(n1, 'ip', ['route', 'del', peerSubnet]); // no dev: a route through a nexthop object matches none
    await waitFor('the repair counter to rise', async () => ((await repairs(lab, n1, 'route')) > before ? true : undefined), 5000, 100);
  });

  it('goes unready when the path to a peer breaks, and ready again once it is repaired', async () => {
    // Drop node 1's VXLAN packets to node 2 with a firewall rule: weft owns no firewall table of
    // this name, so nothing repairs it (a wrong FDB entry would be put right within a second).
    await lab.nodeExec(n1, 'nft', ['add', 'table', 'ip', 'weft-test-break']);
    await lab.nodeExec(n1, 'nft', ['add', 'chain', 'ip', 'weft-test-break', 'out', '{', 'type', 'filter', 'hook', 'output', 'priority', '0', ';', '}']);
    await lab.nodeExec(n1, 'nft', ['add', 'rule', 'ip', 'weft-test-break', 'out', 'ip', 'daddr', '192.0.2.12', 'udp', 'dport', '8472', 'drop']);
    const unready = await waitFor('/readyz 503', async () => {
      const answer = await get(lab, n1, '/readyz');
      return answer.status === 503 ? answer : undefined;
    }, 20_000, 250);
    expect(unready.body).toContain('datapath');
    expect(unready.body).toContain((pods[1] as LabPod).ip.split('.').slice(0, 3).join('.'));

    // The path is whole again once the rule goes; the probe sees it and /readyz follows.
    await lab.nodeExec(n1, 'nft', ['delete', 'table', 'ip', 'weft-test-break']);
    await waitFor('/readyz 200 again', async () => ((await get(lab, n1, '/readyz')).status === 200 ? true : undefined), 20_000, 250);
    expect(await lab.ping(pods[0] as LabPod, (pods[1] as LabPod).ip, 2)).toBeGreaterThan(0);
  });

  it('shows the node status through weftctl status', async () => {
    const out = await lab.nodeExec(n1, process.execPath, [WEFTCTL, 'status', '--healthz-port', String(PORT), '--json']);
    const status = JSON.parse(out) as { ready: boolean; lease: { subnet: string } };
    expect(status.ready).toBe(true);
    expect(status.lease.subnet.replace(/\.0\/24$/, '.1/24')).toBe(await lab.waitForSubnet(n1));
  });

  it('lists every lease with weftctl leases list --json', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [WEFTCTL, 'leases', 'list', '--json', '--etcd-endpoints', lab.etcdHostEndpoint]);
    const leases = JSON.parse(stdout) as { subnet: string; publicIp: string }[];
    expect(leases.map((l) => l.publicIp).sort()).toEqual([n1.underlayIp, n2.underlayIp]);
  });

  it('answers /readyz 503 while a daemon has no lease, then 200 once etcd is back', async () => {
    const n3 = await lab.addNode(3);
    await lab.stopEtcd();
    lab.startDaemon(n3, DAEMON_ARGS);
    const waiting = await waitFor('/readyz to answer', async () => get(lab, n3, '/readyz').catch(() => undefined), 15_000, 200);
    expect(waiting.status).toBe(503);
    expect(waiting.body).toContain('lease');
    expect((await get(lab, n3, '/healthz')).status).toBe(200);
    await lab.startEtcd();
    await waitFor('/readyz 200 on node 3', async () => ((await get(lab, n3, '/readyz')).status === 200 ? true : undefined), 30_000, 250);
  });
});
