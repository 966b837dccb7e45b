// What each node of a lab must hold for its peers, per family, as flanneld would program it, and
// waiting until it does: vxlan one permanent neighbour, one FDB entry and one onlink route per peer
// on the family's device; host-gw one route via the peer's public address. Each route goes through
// a nexthop object of weft's (protocol 87) with that gateway: `<subnet> nhid N via <gateway> ...`. Used by the dual-stack
// and IPv6-only end-to-end tests (and for any family set a lab runs).
import type { IpFamily } from '../../subnet/ip-address.js';
import type { LabCluster, LabNode } from './cluster.js';
import { literal, nexthopMisfits, nodeSubnets, vtepMac, VXLAN_DEVICE, vxlanEntries, weftNexthops, weftRoutes, type NodeSubnets } from './datapath-entries.js';
import { waitFor } from './netns.js';

export type LabBackend = 'vxlan' | 'host-gw';

/** A peer as the other nodes must see it: its subnets, VTEP MACs and public IPs per family. */
export interface Peer {
  name: string;
  subnets: NodeSubnets;
  macs: Partial<Record<IpFamily, string>>;
  publicIp: Partial<Record<IpFamily, string>>;
}

/** The node as a peer, read from its subnet.env, its devices and the lab's addressing. */
export async function describePeer(lab: LabCluster, node: LabNode, families: readonly IpFamily[]): Promise<Peer> {
  const peer: Peer = { name: node.name, subnets: await nodeSubnets(lab, node), macs: {}, publicIp: {} };
  for (const family of families) {
    peer.macs[family] = await vtepMac(lab, node, family);
    const publicIp = family === 'ipv4' ? node.underlayIp : node.underlayIpv6;
    if (publicIp === undefined) throw new Error(`${node.name} has no ${family} underlay address: create the lab with ipv6`);
    peer.publicIp[family] = publicIp;
  }
  return peer;
}

export async function describePeers(lab: LabCluster, families: readonly IpFamily[]): Promise<Peer[]> {
  return Promise.all(lab.nodes.map((n) => describePeer(lab, n, families)));
}

export function subnetOf(peer: Peer, family: IpFamily): string {
  const subnet = peer.subnets[family];
  if (!subnet) throw new Error(`${peer.name} has no ${family} subnet`);
  return subnet.toString();
}

interface Entries<T> {
  neigh: T[];
  fdb: T[];
  routes: T[];
  /** One nexthop object per peer route, which the route goes through (`nhid N`). */
  nexthops: T[];
}

/** The node's weft entries of one family. */
async function entriesOf(lab: LabCluster, node: LabNode, backend: LabBackend, family: IpFamily): Promise<Entries<string>> {
  if (backend === 'host-gw') return { neigh: [], fdb: [], routes: await weftRoutes(lab, node, family), nexthops: await weftNexthops(lab, node, family) };
  return vxlanEntries(lab, node, family);
}

/** Patterns the entries of one family must match one to one. */
function wantedEntries(backend: LabBackend, family: IpFamily, peers: Peer[]): Entries<RegExp> {
  const vtep = (p: Peer): string => literal(p.subnets[family]?.address.toString() ?? '?');
  const subnet = (p: Peer): string => literal(subnetOf(p, family));
  const publicIp = (p: Peer): string => literal(p.publicIp[family] ?? '?');
  if (backend === 'host-gw') {
    return {
      neigh: [], fdb: [],
      routes: peers.map((p) => new RegExp(`^${subnet(p)} nhid \\d+ via ${publicIp(p)} dev eth0( |$)`)),
      nexthops: peers.map((p) => new RegExp(`^id \\d+ via ${publicIp(p)} dev eth0 scope link proto 87$`)),
    };
  }
  const dev = literal(VXLAN_DEVICE[family]);
  return {
    neigh: peers.map((p) => new RegExp(`^${vtep(p)} lladdr ${p.macs[family] ?? '?'} PERMANENT$`)),
    fdb: peers.map((p) => new RegExp(`^${p.macs[family] ?? '?'} dst ${publicIp(p)} self permanent$`)),
    routes: peers.map((p) => new RegExp(`^${subnet(p)} nhid \\d+ via ${vtep(p)} .*onlink`)),
    nexthops: peers.map((p) => new RegExp(`^id \\d+ via ${vtep(p)} dev ${dev} scope link proto 87 onlink$`)),
  };
}

/** Lines not matched by exactly one pattern, and patterns not matched by exactly one line. */
function misfits(actual: string[], wanted: RegExp[]): string[] {
  const unexpected = actual.filter((line) => wanted.filter((re) => re.test(line)).length !== 1).map((l) => `unexpected ${l}`);
  const missing = wanted.filter((re) => actual.filter((line) => re.test(line)).length !== 1).map((re) => `missing ${re.source}`);
  return [...unexpected, ...missing];
}

/** How the node's entries of one family differ from exactly those of `peers` ([] when they match). */
export async function entryMisfits(lab: LabCluster, node: LabNode, backend: LabBackend, family: IpFamily, peers: Peer[]): Promise<string[]> {
  const actual = await entriesOf(lab, node, backend, family);
  const wanted = wantedEntries(backend, family, peers);
  return [
    ...misfits(actual.neigh, wanted.neigh), ...misfits(actual.fdb, wanted.fdb), ...misfits(actual.routes, wanted.routes),
    ...misfits(actual.nexthops, wanted.nexthops), ...nexthopMisfits(actual.routes, actual.nexthops),
  ];
}

/**
 * Waits until each node holds exactly the entries of its lab peers plus `extra` (e.g. a lease
 * written by hand), for every family; the error lists what still differs.
 */
export async function waitForPeerEntries(
  lab: LabCluster, backend: LabBackend, families: readonly IpFamily[], peers: Peer[], extra: Peer[], timeoutMs: number,
): Promise<void> {
  let last: string[] = [];
  await waitFor(`every node to hold exactly its peers' entries (${families.join(', ')})`, async () => {
    last = [];
    for (const node of lab.nodes) {
      const wanted = [...peers.filter((p) => p.name !== node.name), ...extra];
      for (const family of families) last.push(...(await entryMisfits(lab, node, backend, family, wanted)).map((m) => `${node.name} ${family}: ${m}`));
    }
    return last.length === 0 ? true : undefined;
  }, timeoutMs, 100).catch((err: unknown) => { throw new Error(`${(err as Error).message}\n${last.join('\n')}`); });
}

/** Waits until every pod pings every address of every other pod; the error lists the failing pairs. */
export async function waitForFullConnectivity(lab: LabCluster, timeoutMs = 10_000): Promise<void> {
  let failed: string[] = [];
  await waitFor('every pod to reach every address of every other pod', async () => {
    failed = (await lab.connectivityMatrix()).filter((r) => !r.ok).map((r) => `${r.from.ip}->${r.ip}`);
    return failed.length === 0 ? true : undefined;
  }, timeoutMs, 200).catch((err: unknown) => { throw new Error(`${(err as Error).message}: ${failed.join(', ')}`); });
}
