// A lab network of one or both address families in etcd mode, as the dual-stack and IPv6-only
// end-to-end tests build it: etcd, flannel's net-conf.json for the families, weftd on each node,
// one pod per node; and the pod MTU flanneld would write for it.
import type { IpFamily } from '../../subnet/ip-address.js';
import type { LabCluster, LabPod } from './cluster.js';
import { describePeers, waitForPeerEntries, type LabBackend, type Peer } from './peer-expectations.js';
import { DEFAULT_IPV6_NETWORK, DEFAULT_NETWORK } from './topology.js';

/**
 * weft's FLANNEL_MTU on the lab's 1500-byte underlay: host-gw the underlay's; vxlan 50 less (IPv4
 * tunnel), or 70 less once IPv6 is in the network, the smaller MTU of the families' tunnels (a
 * difference from flanneld, which writes underlay - 50 whatever the families: README).
 */
export function podMtu(backend: LabBackend, families: readonly IpFamily[]): number {
  if (backend === 'host-gw') return 1500;
  return families.includes('ipv6') ? 1430 : 1450;
}

/** flannel's net-conf.json for the families (IPv6 only: EnableIPv4 false). */
export function networkConfig(backend: LabBackend, families: readonly IpFamily[]): object {
  const ipv4 = families.includes('ipv4') ? { Network: DEFAULT_NETWORK } : { EnableIPv4: false };
  const ipv6 = families.includes('ipv6') ? { EnableIPv6: true, IPv6Network: DEFAULT_IPV6_NETWORK } : {};
  return { ...ipv4, ...ipv6, Backend: { Type: backend } };
}

/**
 * Starts etcd, writes the config, starts weftd on `nodes` new nodes, attaches one pod to each and
 * waits until every node holds exactly its peers' entries of every family.
 */
export async function startFamilyLab(lab: LabCluster, backend: LabBackend, families: readonly IpFamily[], nodes = 3): Promise<{ pods: LabPod[]; peers: Peer[] }> {
  await lab.startEtcd();
  await lab.writeNetworkConfig(networkConfig(backend, families));
  for (let i = 1; i <= nodes; i++) lab.startDaemon(await lab.addNode(i));
  const pods: LabPod[] = [];
  for (const node of lab.nodes) pods.push(await lab.addPod(node));
  const peers = await describePeers(lab, families);
  await waitForPeerEntries(lab, backend, families, peers, [], 15_000);
  return { pods, peers };
}
