// End to end: two leases with one public IP and one VTEP MAC (node 2's live lease, and an old one
// of node 2 under another subnet, as a node that re-registered leaves behind). Node 1 logs the
// conflict once per claim, naming both; when the old lease is deleted, the FDB entry both shared
// is not touched (an rtnetlink monitor in node 1 sees no change of it) and pods lose no ping.
// A lease of another backend type is skipped with one warning.
import { jest } from '@jest/globals';
import { startKernelMonitor, startPing } from '../bench/restart-drill.js';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import { waitFor } from '../lab/netns.js';

jest.setTimeout(120_000);

const SUBNETS = '/coreos.com/network/subnets';
const OLD_KEY = `${SUBNETS}/10.244.201.0-24`;

describe('conflicting leases', () => {
  let lab: LabCluster;
  let n1: LabNode;
  let n2: LabNode;
  let pods: [LabPod, LabPod];
  let n2Mac: string;
  beforeAll(async () => {
    lab = await LabCluster.create('k');
    await lab.startEtcd();
    await lab.writeNetworkConfig();
    n1 = await lab.addNode(1);
    n2 = await lab.addNode(2);
    for (const n of [n1, n2]) lab.startDaemon(n);
    pods = [await lab.addPod(n1), await lab.addPod(n2)];
    await waitFor('the pods to reach each other', async () => ((await lab.ping(pods[0], pods[1].ip, 1, 0.2, 1)) > 0 ? true : undefined), 15_000, 100);
    const link = JSON.parse(await lab.nodeExec(n2, 'ip', ['-j', 'link', 'show', 'flannel.1'])) as { address: string }[];
    n2Mac = link[0]?.address ?? '';
  });
  afterAll(async () => {
    await lab.dispose();
  });

  it('logs both claims once, and deleting the old lease keeps the live node working', async () => {
    const n2Subnet = (await lab.waitForSubnet(n2)).replace(/\.1\/24$/, '.0/24');
    const value = `{"PublicIP":"${n2.underlayIp}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${n2Mac}"}}`;
    await lab.etcdctl(['put', OLD_KEY, value]);
    await waitFor('the old lease on node 1', async () =>
      ((await lab.nodeExec(n1, 'ip', ['route', 'show', '10.244.201.0/24'])) !== '' ? true : undefined), 5000, 50);
    for (const claim of [`public IP ${n2.underlayIp}`, `VTEP MAC ${n2Mac}`]) {
      const text = `two leases claim the same ${claim}: `;
      await waitFor(`the ${claim} conflict in the log`, async () => ((await lab.countLogLines(n1, text)) > 0 ? true : undefined), 5000, 50);
      const lines = (await lab.nodeExec(n1, 'grep', ['-F', text, n1.logFile])).trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain('10.244.201.0/24');
      expect(lines[0]).toContain(n2Subnet);
    }

    const monitor = await startKernelMonitor(lab, n1);
    const ping = startPing(lab, pods[0], pods[1].ip);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await lab.etcdctl(['del', OLD_KEY]);
    await waitFor('the old lease gone from node 1', async () =>
      ((await lab.nodeExec(n1, 'ip', ['route', 'show', '10.244.201.0/24'])) === '' ? true : undefined), 5000, 50);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const changes = await monitor.stop();
    const { sent, received } = await ping.stop();
    expect(changes.filter((l) => l.includes(`lladdr ${n2Mac} `) && l.includes(n2.underlayIp))).toEqual([]);
    expect(sent).toBeGreaterThan(20);
    expect(received).toBe(sent);
    expect(await lab.nodeExec(n1, 'bridge', ['fdb', 'show', 'dev', 'flannel.1'])).toContain(`${n2Mac} dst ${n2.underlayIp} self permanent`);
  });

  it('skips a peer of another backend type with one warning', async () => {
    await lab.etcdctl(['put', `${SUBNETS}/10.244.202.0-24`, '{"PublicIP":"192.0.2.202","BackendType":"udp"}']);
    await lab.etcdctl(['put', `${SUBNETS}/10.244.203.0-24`, '{"PublicIP":"192.0.2.203","BackendType":"udp"}']);
    const text = 'skipping a peer of another backend type';
    await waitFor('the warning', async () => ((await lab.countLogLines(n1, text)) >= 2 ? true : undefined), 5000, 50);
    await lab.etcdctl(['put', `${SUBNETS}/10.244.202.0-24`, '{"PublicIP":"192.0.2.202","BackendType":"udp","BackendData":null}']);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const lines = (await lab.nodeExec(n1, 'grep', ['-F', text, n1.logFile])).trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.includes('10.244.202.0/24') && l.includes('"warn"'))).toBe(true);
    expect(await lab.nodeExec(n1, 'ip', ['route', 'show', '10.244.202.0/24'])).toBe('');
  });
});
