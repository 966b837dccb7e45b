// Datapath: iperf3 from a pod on node 1 to a pod on node 2, over weft (vxlan, host-gw), over the same
// topology configured by hand with iproute2 in flannel's exact way, and node to node on the underlay.
import { writeFile } from 'node:fs/promises';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import { forwardChain, iptablesRestoreScript } from '../../overlay/firewall/flannel-rules.js';
import { median } from './kernel-state.js';
import { IpPrefix } from '../../subnet/ip-prefix.js';

export interface DatapathFigures {
  name: string;
  gbitPerSecond: number;
  runs: number[];
}

async function iperf(lab: LabCluster, server: { ns: string; ip: string }, clientNs: string, seconds: number): Promise<number> {
  const daemon = lab.scope.spawn(server.ns, 'iperf3', ['-s', '-1', '-B', server.ip]);
  try {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const { stdout } = await lab.scope.exec(clientNs, 'iperf3', ['-c', server.ip, '-t', String(seconds), '-J']);
    const report = JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } };
    return report.end.sum_received.bits_per_second / 1e9;
  } finally {
    daemon.kill('SIGTERM');
  }
}

async function measure(lab: LabCluster, name: string, server: { ns: string; ip: string }, clientNs: string, runs: number, seconds: number): Promise<DatapathFigures> {
  const results: number[] = [];
  for (let r = 0; r < runs; r++) results.push(await iperf(lab, server, clientNs, seconds));
  return { name, gbitPerSecond: median(results), runs: results };
}

async function podsOnTwoNodes(lab: LabCluster): Promise<[LabPod, LabPod]> {
  const [n1, n2] = lab.nodes as [LabNode, LabNode];
  return [await lab.addPod(n1), await lab.addPod(n2)];
}

/** weft on two nodes with `backend`, plus (once) the underlay between the same two nodes. */
export async function measureWeft(backend: 'vxlan' | 'host-gw', runs: number, seconds: number, withUnderlay: boolean): Promise<DatapathFigures[]> {
  const lab = await LabCluster.create('p');
  try {
    await lab.startEtcd();
    await lab.writeNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: backend } });
    for (let i = 1; i <= 2; i++) lab.startDaemon(await lab.addNode(i), ['--log-level', 'warn']);
    const [p1, p2] = await podsOnTwoNodes(lab);
    for (let i = 0; i < 50 && (await lab.ping(p1, p2.ip, 1, 0.2, 1)) === 0; i++) await new Promise((r) => setTimeout(r, 200));
    const figures = [await measure(lab, `weft ${backend}`, p2, p1.ns, runs, seconds)];
    if (withUnderlay) {
      const [n1, n2] = lab.nodes as [LabNode, LabNode];
      figures.push(await measure(lab, 'underlay node to node', { ns: n2.ns, ip: n2.underlayIp }, n1.ns, runs, seconds));
    }
    return figures;
  } finally {
    await lab.dispose();
  }
}

/** The same two nodes configured by hand as flannel configures them (no weftd at all). */
export async function measureByHand(backend: 'vxlan' | 'host-gw', runs: number, seconds: number): Promise<DatapathFigures> {
  const lab = await LabCluster.create('h');
  try {
    const nodes = [await lab.addNode(1), await lab.addNode(2)];
    const subnet = (i: number): string => `10.244.${i}.0`;
    const mtu = backend === 'vxlan' ? 1450 : 1500;
    const macs: string[] = [];
    for (const node of nodes) {
      await writeFile(node.subnetFile, `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.${node.index}.1/24\nFLANNEL_MTU=${mtu}\nFLANNEL_IPMASQ=false\n`);
      if (backend === 'vxlan') {
        await lab.scope.ipBatch(node.ns, [
          `link add flannel.1 type vxlan id 1 local ${node.underlayIp} dev eth0 dstport 8472 nolearning`,
          'link set flannel.1 mtu 1450 up',
          `addr add ${subnet(node.index)}/32 dev flannel.1`,
        ]);
        const link = JSON.parse(await lab.nodeExec(node, 'ip', ['-j', 'link', 'show', 'flannel.1'])) as { address: string }[];
        macs[node.index] = link[0]?.address ?? '';
      }
    }
    for (const node of nodes) {
      const peer = nodes.find((n) => n !== node) as LabNode;
      await lab.scope.ipBatch(node.ns, backend === 'vxlan'
        ? [
            `neigh replace ${subnet(peer.index)} lladdr ${macs[peer.index] ?? ''} dev flannel.1 nud permanent`,
            `route replace ${subnet(peer.index)}/24 via ${subnet(peer.index)} dev flannel.1 onlink`,
          ]
        : [`route replace ${subnet(peer.index)}/24 via ${peer.underlayIp} dev eth0`]);
      if (backend === 'vxlan') {
        await lab.nodeExec(node, 'bridge', ['fdb', 'replace', macs[peer.index] ?? '', 'dev', 'flannel.1', 'dst', peer.underlayIp, 'self', 'permanent']);
      }
    }
    // flanneld installs its FORWARD accept rules by default, and so does weftd: so does the baseline.
    const network = IpPrefix.parse('10.244.0.0/16', { family: 'ipv4' });
    if (!network) throw new Error('bad network');
    const forward = forwardChain({ network });
    for (const node of nodes) await lab.scope.exec(node.ns, 'iptables-restore', ['--noflush', '-w', '5'], iptablesRestoreScript([forward], new Set([forward.jump])));
    const [p1, p2] = await podsOnTwoNodes(lab);
    return await measure(lab, `by hand ${backend}`, p2, p1.ns, runs, seconds);
  } finally {
    await lab.dispose();
  }
}
