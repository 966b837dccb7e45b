// What a lab node's kernel holds for weft, per address family, read with iproute2 inside the
// node's namespace: the VXLAN device of the family (flannel.1 / flannel-v6.1) with its per-peer
// neighbours, FDB entries and routes, host-gw's routes, and the node's subnets from subnet.env.
// Shared by the dual-stack and IPv6-only end-to-end tests.
import type { IpFamily } from '../../subnet/ip-address.js';
import { IpPrefix } from '../../subnet/ip-prefix.js';
import type { LabCluster, LabNode } from './cluster.js';

/** flannel's device names for VNI 1. */
export const VXLAN_DEVICE: Readonly<Record<IpFamily, string>> = { ipv4: 'flannel.1', ipv6: 'flannel-v6.1' };

/** weft's route protocol number (`ip route show proto 87`). */
const WEFT_ROUTE_PROTOCOL = '87';

const familyFlag = (family: IpFamily): string => (family === 'ipv6' ? '-6' : '-4');

export function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

export interface VxlanEntries {
  /** Permanent neighbours on the device: `<vtep> lladdr <mac> PERMANENT`. */
  neigh: string[];
  /** `<mac> dst <public ip> self permanent`. */
  fdb: string[];
  /** Routes with a next hop (peer routes), not the kernel's own local or link-local ones: `<subnet> nhid N via <vtep> onlink`. */
  routes: string[];
  /** Nexthop objects on the device: `id N via <vtep> dev <dev> scope link proto 87 onlink`. */
  nexthops: string[];
}

/** The family's VXLAN entries on the node; empty lists while the device does not exist. */
export async function vxlanEntries(lab: LabCluster, node: LabNode, family: IpFamily): Promise<VxlanEntries> {
  const dev = VXLAN_DEVICE[family];
  const read = (cmd: string, args: string[]): Promise<string> => lab.nodeExec(node, cmd, args).catch(() => '');
  const [neigh, fdb, routes, nexthops] = await Promise.all([
    read('ip', [familyFlag(family), 'neigh', 'show', 'dev', dev, 'nud', 'permanent']),
    read('bridge', ['fdb', 'show', 'dev', dev]),
    read('ip', [familyFlag(family), 'route', 'show', 'dev', dev]),
    read('ip', [familyFlag(family), 'nexthop', 'list', 'dev', dev]),
  ]);
  return { neigh: lines(neigh), fdb: lines(fdb), routes: lines(routes).filter((l) => l.includes(' via ')), nexthops: lines(nexthops) };
}

/** weft's routes of the family (protocol 87): host-gw's `<subnet> nhid N via <public ip> dev eth0 ...`. */
export async function weftRoutes(lab: LabCluster, node: LabNode, family: IpFamily): Promise<string[]> {
  return lines(await lab.nodeExec(node, 'ip', [familyFlag(family), 'route', 'show', 'proto', WEFT_ROUTE_PROTOCOL]));
}

/** weft's nexthop objects of the family (protocol 87): `id N via <gateway> dev <dev> scope link proto 87[ onlink]`. */
export async function weftNexthops(lab: LabCluster, node: LabNode, family: IpFamily): Promise<string[]> {
  return lines(await lab.nodeExec(node, 'ip', [familyFlag(family), 'nexthop', 'list', 'protocol', WEFT_ROUTE_PROTOCOL]));
}

/**
 * Routes that do not go through a nexthop object of the same gateway: each `<subnet> nhid N via X`
 * needs the line `id N via X ...` among `nexthops` ([] when all do).
 */
export function nexthopMisfits(routes: string[], nexthops: string[]): string[] {
  return routes.flatMap((route) => {
    const [, id, gateway] = / nhid (\d+) via (\S+)/.exec(route) ?? [];
    if (id === undefined || gateway === undefined) return [`not through a nexthop object: ${route}`];
    return nexthops.some((n) => n.startsWith(`id ${id} via ${gateway} `)) ? [] : [`nexthop ${id} via ${gateway} missing for: ${route}`];
  });
}

export interface LinkDetails {
  mtu: number;
  mac: string;
  up: boolean;
  kind: string;
  /** `ip -d -j link`'s linkinfo.info_data (id, port, learning, local or local6 ...). */
  info: Record<string, unknown>;
  /** Global addresses as "address/length". */
  addresses: string[];
}

/** The link as `ip -d -j link` and `ip -j addr` show it; undefined when it does not exist. */
export async function linkDetails(lab: LabCluster, node: LabNode, dev: string): Promise<LinkDetails | undefined> {
  const link = await lab.nodeExec(node, 'ip', ['-d', '-j', 'link', 'show', dev]).catch(() => '');
  if (link === '') return undefined;
  const [l] = JSON.parse(link) as { mtu: number; address: string; flags: string[]; linkinfo?: { info_kind: string; info_data: Record<string, unknown> } }[];
  if (!l) return undefined;
  const addr = JSON.parse(await lab.nodeExec(node, 'ip', ['-j', 'addr', 'show', 'dev', dev])) as { addr_info: { local: string; prefixlen: number; scope: string }[] }[];
  const addresses = (addr[0]?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
  return { mtu: l.mtu, mac: l.address, up: l.flags.includes('UP'), kind: l.linkinfo?.info_kind ?? '', info: l.linkinfo?.info_data ?? {}, addresses };
}

/** The VXLAN device's MAC of the family ('' when it does not exist). */
export async function vtepMac(lab: LabCluster, node: LabNode, family: IpFamily): Promise<string> {
  return (await linkDetails(lab, node, VXLAN_DEVICE[family]))?.mac ?? '';
}

export type NodeSubnets = Partial<Record<IpFamily, IpPrefix>>;

/** The node's subnets from its subnet.env (FLANNEL_SUBNET, FLANNEL_IPV6_SUBNET), once it is written (atomically). */
export async function nodeSubnets(lab: LabCluster, node: LabNode, timeoutMs = 15_000): Promise<NodeSubnets> {
  await lab.waitForSubnet(node, timeoutMs);
  const text = await lab.readSubnetEnv(node);
  const subnets: NodeSubnets = {};
  for (const [family, name] of [['ipv4', 'FLANNEL_SUBNET'], ['ipv6', 'FLANNEL_IPV6_SUBNET']] as const) {
    const value = new RegExp(`^${name}=(\\S+)$`, 'm').exec(text)?.[1];
    const subnet = value === undefined ? undefined : IpPrefix.parse(value, { family, strict: false });
    if (subnet) subnets[family] = subnet;
  }
  return subnets;
}

/** A string for a RegExp that matches `text` literally. */
export function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
