// End to end, dual stack on real Kubernetes nodes: kubelet + containerd in each node's namespaces
// (test/lab/kube) with Kubernetes 1.20's IPv6DualStack gate on every component, so each node has a
// podCIDR and an InternalIP of each family. weft comes from manifests/weft.yaml with EnableIPv6 and
// IPv6Network in its ConfigMap (vxlan); its CNI plugin gives pods one address of each family.
// Checked: pod addresses, traffic across nodes over both families, flannel's subnet.env and node
// annotations for IPv6, the flannel-v6.1 device, a dual-stack Service through kube-proxy (iptables
// mode, both families), masquerade of traffic leaving the pod network (both families), then
// host-gw through the ConfigMap (IPv6 routes via the peer's IPv6 address).
import { jest } from '@jest/globals';
import { once } from 'node:events';
import { IpAddress } from '../../subnet/ip-address.js';
import { IpPrefix } from '../../subnet/ip-prefix.js';
import { waitFor } from '../lab/netns.js';
import { SERVICE_CIDR, SERVICE_CIDR6 } from '../lab/kube/control-plane.js';
import { RealCluster, type RealNode } from '../lab/kube/real-cluster.js';
import { httpGet, ping, PodsByNode, runTestPods, WEB_PORT, type TestPod } from '../lab/kube/test-pods.js';
import { applyWeft, enableDualStack, switchBackend, waitForWeft } from '../lab/kube/weft-install.js';
import { DEFAULT_IPV6_NETWORK, DEFAULT_NETWORK, UNDERLAY6_GATEWAY, UNDERLAY_GATEWAY } from '../lab/topology.js';

jest.setTimeout(120_000);

const ANNOTATION = 'flannel.alpha.coreos.com';
/** Port of the stand-in outside server in the underlay namespace (nothing of the cluster listens there). */
const OUTSIDE_PORT = 18080;

type Family = 'ipv4' | 'ipv6';
const FAMILIES: Family[] = ['ipv4', 'ipv6'];

function familyOf(text: string): Family {
  const address = IpAddress.parse(text) ?? IpPrefix.parse(text)?.address;
  if (!address) throw new Error(`"${text}" is neither an address nor a CIDR`);
  return address.family;
}

/** The one entry of `texts` (addresses or CIDRs) in `family`. */
function ofFamily(texts: string[], family: Family): string {
  const found = texts.filter((t) => familyOf(t) === family);
  if (found.length !== 1) throw new Error(`expected one ${family} entry in [${texts.join(', ')}], found ${found.length}`);
  return found[0] ?? '';
}

/** Whether `inner` (an address or a CIDR) lies inside `cidr`. */
function inCidr(inner: string, cidr: string): boolean {
  const network = IpPrefix.parse(cidr);
  const address = IpAddress.parse(inner);
  if (address) return network?.contains(address) ?? false;
  const prefix = IpPrefix.parse(inner);
  return prefix !== undefined && (network?.containsPrefix(prefix) ?? false);
}

/** host:port for a URL: IPv6 literals go in brackets. */
const hostPort = (ip: string, port: number): string => (familyOf(ip) === 'ipv6' ? `[${ip}]:${port}` : `${ip}:${port}`);

interface NodeJson {
  metadata: { annotations?: Record<string, string> };
  status: { addresses?: { type: string; address: string }[] };
}

describe('real nodes, dual stack: weft from its manifest with EnableIPv6', () => {
  let cluster: RealCluster;
  /** One `a-<node>` pod per node, labelled app=web. */
  const pods = new PodsByNode();
  const pod = (node: string): TestPod => pods.on(node);
  const other = (node: RealNode): RealNode => {
    const found = cluster.nodes.find((n) => n !== node);
    if (!found) throw new Error(`no node besides ${node.name}`);
    return found;
  };

  beforeAll(async () => {
    const started = Date.now();
    cluster = await RealCluster.start({ nodes: 2, dualStack: true });
    const up = Date.now();
    await applyWeft(cluster, enableDualStack);
    await waitForWeft(cluster);
    process.stdout.write(`dual-stack cluster up in ${((up - started) / 1000).toFixed(1)} s, weft ready ${((Date.now() - up) / 1000).toFixed(1)} s after the apply\n`);
    for (const p of await runTestPods(cluster, cluster.nodeNames.map((node) => ({ name: `a-${node}`, node, labels: { app: 'web' } })))) pods.set(p.node, p);
  }, 420_000);

  afterAll(async () => {
    // Undefined when beforeAll failed before the cluster was up (it then cleaned up itself).
    await (cluster as RealCluster | undefined)?.dispose();
  }, 120_000);

  it('gives every pod one address of each family, each from its own node\'s podCIDR of that family', () => {
    for (const node of cluster.nodes) {
      expect(node.podCidrs.map(familyOf).sort()).toEqual(FAMILIES);
      const { ips } = pod(node.name);
      expect(ips.map(familyOf).sort()).toEqual(FAMILIES);
      for (const family of FAMILIES) expect(inCidr(ofFamily(ips, family), ofFamily(node.podCidrs, family))).toBe(true);
    }
    for (const node of cluster.nodes) expect(inCidr(ofFamily(node.podCidrs, 'ipv6'), DEFAULT_IPV6_NETWORK)).toBe(true);
  });

  it('writes flannel\'s dual-stack subnet.env on each node: FLANNEL_IPV6_NETWORK and FLANNEL_IPV6_SUBNET beside the IPv4 lines, the smaller tunnel MTU', async () => {
    for (const node of cluster.nodes) {
      const text = (await node.host.exec('cat', ['/run/flannel/subnet.env'])).stdout;
      const env = new Map(text.trim().split('\n').map((line) => line.split('=', 2) as [string, string]));
      const [v4, v6] = [IpPrefix.parse(ofFamily(node.podCidrs, 'ipv4')), IpPrefix.parse(ofFamily(node.podCidrs, 'ipv6'))];
      expect(env.get('FLANNEL_NETWORK')).toBe(DEFAULT_NETWORK);
      expect(env.get('FLANNEL_SUBNET')).toBe(`${v4?.host(1n)?.toString()}/${v4?.prefixLength}`);
      expect(env.get('FLANNEL_IPV6_NETWORK')).toBe(DEFAULT_IPV6_NETWORK);
      expect(env.get('FLANNEL_IPV6_SUBNET')).toBe(`${v6?.host(1n)?.toString()}/${v6?.prefixLength}`);
      // Pods get the smaller of the two tunnels' MTUs, so packets of either family fit without fragmenting.
      const tunnelMtus = await Promise.all(['flannel.1', 'flannel-v6.1'].map(async (device) =>
        Number(/ mtu (\d+) /.exec((await node.host.exec('ip', ['link', 'show', device])).stdout)?.[1])));
      expect(env.get('FLANNEL_MTU')).toBe(String(Math.min(...tunnelMtus)));
      expect(env.get('FLANNEL_IPMASQ')).toBe('true');
    }
  });

  it('publishes public-ipv6 (the node\'s IPv6 InternalIP) and backend-v6-data with the VtepMAC of the node\'s flannel-v6.1', async () => {
    for (const node of cluster.nodes) {
      const json = await cluster.kubectlJson<NodeJson>(['get', 'node', node.name]);
      const internal = (json.status.addresses ?? []).filter((a) => a.type === 'InternalIP').map((a) => a.address);
      expect(ofFamily(internal, 'ipv6')).toBe(node.host.ipv6);
      const annotations = json.metadata.annotations ?? {};
      expect(annotations[`${ANNOTATION}/public-ipv6`]).toBe(node.host.ipv6);
      const link = (await node.host.exec('ip', ['-d', 'link', 'show', 'flannel-v6.1'])).stdout;
      expect(link).toContain(`vxlan id 1 local ${node.host.ipv6 ?? '?'} `);
      const vtepMac = /link\/ether ([0-9a-f:]{17}) /.exec(link)?.[1];
      expect(JSON.parse(annotations[`${ANNOTATION}/backend-v6-data`] ?? 'null')).toEqual({ VNI: 1, VtepMAC: vtepMac });
      // The peer's IPv6 pod subnet goes through flannel-v6.1.
      const peerCidr = ofFamily(other(node).podCidrs, 'ipv6');
      expect((await node.host.exec('ip', ['-6', 'route', 'show', peerCidr])).stdout).toContain('dev flannel-v6.1');
    }
  });

  /** Each test pod pings and fetches /hostname from the other node's pod at its `family` address. */
  async function expectAcrossNodes(family: Family): Promise<void> {
    for (const node of cluster.nodes) {
      const [from, to] = [pod(node.name), pod(other(node).name)];
      const target = ofFamily(to.ips, family);
      await waitFor(`${from.name} -> ${to.name} ping ${target}`, async () => ((await ping(cluster, from.name, target, 1)) === 1 ? true : undefined), 20_000, 500);
      expect(await ping(cluster, from.name, target, 3)).toBe(3);
      expect((await httpGet(cluster, from.name, `http://${hostPort(target, WEB_PORT)}/hostname`)).trim()).toBe(to.name);
    }
  }

  it.each(FAMILIES)('connects pods across nodes over %s: ping and HTTP both ways', async (family) => {
    await expectAcrossNodes(family);
  });

  it('reaches pods on both nodes through each ClusterIP of a RequireDualStack Service (kube-proxy, iptables mode)', async () => {
    await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({
      apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: 'default' },
      spec: { ipFamilyPolicy: 'RequireDualStack', ipFamilies: ['IPv4', 'IPv6'], selector: { app: 'web' }, ports: [{ port: 80, targetPort: WEB_PORT }] },
    }));
    const svc = await cluster.kubectlJson<{ spec: { clusterIPs?: string[] } }>(['-n', 'default', 'get', 'service', 'web']);
    const clusterIps = svc.spec.clusterIPs ?? [];
    expect(inCidr(ofFamily(clusterIps, 'ipv4'), SERVICE_CIDR)).toBe(true);
    expect(inCidr(ofFamily(clusterIps, 'ipv6'), SERVICE_CIDR6)).toBe(true);
    for (const family of FAMILIES) {
      const url = `http://${hostPort(ofFamily(clusterIps, family), 80)}/hostname`;
      const seen = new Set<string>();
      // Random balancing over 2 endpoints: 40 tries miss one with probability 2^-39.
      for (let i = 0; i < 40 && seen.size < 2; i++) {
        const answer = (await httpGet(cluster, pod('n1').name, url).catch(() => '')).trim();
        if (answer) seen.add(answer);
        else await new Promise((r) => setTimeout(r, 500));
      }
      expect([family, [...seen].sort()]).toEqual([family, ['a-n1', 'a-n2']]);
    }
  });

  it('masquerades pod traffic leaving the pod network over both families: the underlay host sees the node\'s address', async () => {
    // A server in the underlay namespace (outside the pod network) answers with the source address it sees.
    const server = cluster.underlaySpawn(process.execPath, ['-e', `require('http').createServer((q, s) => s.end(q.socket.remoteAddress.replace(/^::ffff:/, '')))
      .listen(${OUTSIDE_PORT}, '::', () => console.log('ready'))`]);
    if (server.stdout) await once(server.stdout, 'data');
    const n1 = cluster.node('n1');
    for (const [outside, nodeAddress] of [[UNDERLAY_GATEWAY, n1.ip], [UNDERLAY6_GATEWAY, n1.host.ipv6]]) {
      expect((await httpGet(cluster, pod('n1').name, `http://${hostPort(outside ?? '?', OUTSIDE_PORT)}/`)).trim()).toBe(nodeAddress);
    }
  });

  it('switches to host-gw through the ConfigMap: IPv6 routes via the peer\'s IPv6 address, pods connect over both families', async () => {
    await switchBackend(cluster, 'host-gw');
    for (const node of cluster.nodes) {
      const peer = other(node);
      expect((await node.host.exec('ip', ['-6', 'route', 'show', ofFamily(peer.podCidrs, 'ipv6')])).stdout).toContain(`via ${peer.host.ipv6 ?? '?'} dev eth0`);
      expect((await node.host.exec('ip', ['route', 'show', peer.podCidr])).stdout).toContain(`via ${peer.ip} dev eth0`);
    }
    for (const family of FAMILIES) await expectAcrossNodes(family);
  }, 300_000);
});
