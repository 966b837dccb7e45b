// The soak's view of one node: what its kernel should hold for the leases in etcd (a neighbour, an
// FDB entry and a route per vxlan peer), what it does hold (read with iproute2's JSON output), the
// difference between the two, and how to delete one entry by hand.
import type { NetnsScope } from '../lab/netns.js';

export const SUBNETS_PREFIX = '/coreos.com/network/subnets/';

/** Entry id ("route 10.1.3.0/24", "neigh 10.1.3.0", "fdb 0a:58:01:03:00:01") -> what it must point at. */
export type Entries = Map<string, string>;

export interface LeaseRecord {
  subnet: string;
  publicIp: string;
  vtepMac: string | undefined;
}

/** Parses etcd's subnets (key -> JSON value) the way flannel writes them; other records are skipped. */
export function parseLeases(kvs: Record<string, string>): Map<string, LeaseRecord> {
  const leases = new Map<string, LeaseRecord>();
  for (const [key, value] of Object.entries(kvs)) {
    const subnet = key.slice(SUBNETS_PREFIX.length).replace('-', '/');
    try {
      const parsed = JSON.parse(value) as { PublicIP?: string; BackendType?: string; BackendData?: { VtepMAC?: string } };
      if (parsed.PublicIP === undefined || parsed.BackendType !== 'vxlan') continue;
      leases.set(subnet, { subnet, publicIp: parsed.PublicIP, vtepMac: parsed.BackendData?.VtepMAC });
    } catch {
      // Not a lease this soak wrote or weftd publishes: nothing to expect for it.
    }
  }
  return leases;
}

/** What a vxlan node must hold for every lease except its own (flannel's layout: VTEP = subnet address). */
export function expectedEntries(leases: Map<string, LeaseRecord>, ownSubnet: string): Entries {
  const want: Entries = new Map();
  for (const lease of leases.values()) {
    if (lease.subnet === ownSubnet || lease.vtepMac === undefined) continue;
    const vtep = lease.subnet.split('/')[0] ?? '';
    want.set(`route ${lease.subnet}`, vtep);
    want.set(`neigh ${vtep}`, lease.vtepMac);
    want.set(`fdb ${lease.vtepMac}`, lease.publicIp);
  }
  return want;
}

const SNAPSHOT_SCRIPT = [
  'ip -j neigh show dev flannel.1 nud permanent',
  'echo',
  'bridge -j fdb show dev flannel.1',
  'echo',
  'ip -4 -j route show dev flannel.1',
].join('; ');

interface NeighJson { dst?: string; lladdr?: string }
interface FdbJson { mac?: string; dst?: string }
interface RouteJson { dst?: string; gateway?: string }

/** The node's flannel.1 neighbours, FDB entries with a destination, and routes. */
export async function kernelEntries(scope: NetnsScope, ns: string): Promise<Entries> {
  const { stdout } = await scope.exec(ns, 'sh', ['-c', SNAPSHOT_SCRIPT]);
  const [neighText = '[]', fdbText = '[]', routeText = '[]'] = stdout.split('\n').filter((l) => l.trim() !== '');
  const got: Entries = new Map();
  for (const n of JSON.parse(neighText) as NeighJson[]) if (n.dst && n.lladdr) got.set(`neigh ${n.dst}`, n.lladdr);
  for (const f of JSON.parse(fdbText) as FdbJson[]) if (f.mac && f.dst) got.set(`fdb ${f.mac}`, f.dst);
  for (const r of JSON.parse(routeText) as RouteJson[]) if (r.dst && r.gateway) got.set(`route ${r.dst}`, r.gateway);
  return got;
}

/** Every entry that is missing, wrong or left over, as "id: want X, got Y". */
export function diffEntries(want: Entries, got: Entries): Map<string, string> {
  const diff = new Map<string, string>();
  for (const [id, value] of want) {
    const actual = got.get(id);
    if (actual !== value) diff.set(id, `${id}: want ${value}, got ${actual ?? 'nothing'}`);
  }
  for (const [id, value] of got) if (!want.has(id)) diff.set(id, `${id}: left over (${value})`);
  return diff;
}

/** Deletes one entry by hand, as an operator or another program might. */
export async function deleteEntry(scope: NetnsScope, ns: string, id: string, value: string): Promise<void> {
  const [kind = '', key = ''] = id.split(' ');
  const args: Record<string, [string, string[]]> = {
    route: ['ip', ['route', 'del', key]], // no dev: the kernel matches no device on a route through a nexthop object
    neigh: ['ip', ['neigh', 'del', key, 'dev', 'flannel.1']],
    fdb: ['bridge', ['fdb', 'del', key, 'dev', 'flannel.1', 'dst', value, 'self']],
  };
  const command = args[kind];
  if (!command) throw new Error(`unknown entry kind in ${id}`);
  await scope.exec(ns, command[0], command[1]);
}
