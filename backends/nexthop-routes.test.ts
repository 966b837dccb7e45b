// Peer routes through nexthop objects, against the in-memory kernel: ids found again after a
// restart, an older weft's routes converted in place, foreign objects left alone, stale ones
// removed with their routes, a deleted object brought back, and the fallback to routes with their
// own gateway when the kernel refuses nexthop objects.
import { SkippedPeers, WEFT_ROUTE_PROTOCOL, type ExternalInterface } from './backend.js';
import { HostGwDatapath } from './host-gw-backend.js';
import { VxlanDatapath } from './vxlan-backend.js';
import type { Lease } from '../subnet/lease.js';
import { memoryLogger } from '../test/integration/lease-test-helpers.js';
import { ip, net } from '../test/addresses.js';
import { MemoryKernel, type NexthopSupport } from '../test/memory-kernel.js';

const EXTERNAL: ExternalInterface = { name: 'eth0', index: 2, mtu: 1500, ipv4: undefined, ipv6: undefined }; // the underlay is passed on its own
const UNDERLAY = { ifaceIp: ip('192.0.2.11'), publicIp: ip('192.0.2.11') };
const OPTIONS = { type: 'vxlan', vni: 1, port: 0, mtu: undefined, gbp: false, learning: false, directRouting: false } as const;

const peer = (n: number): Lease => ({
  subnet: net(`10.244.${n}.0/24`), publicIp: ip(`192.0.2.${n}`), backendType: 'vxlan', backendData: { vni: 1, vtepMac: `02:00:00:00:00:${n.toString(16).padStart(2, '0')}` },
});
const peers = (...ns: number[]): Map<string, Lease> => new Map(ns.map((n) => [`10.244.${n}.0/24`, peer(n)]));

function newKernel(support: NexthopSupport = 'yes'): MemoryKernel {
  const kernel = new MemoryKernel(support);
  kernel.addresses.push({ index: 2, ip: ip('192.0.2.11'), prefixLength: 24 });
  return kernel;
}

async function vxlan(kernel: MemoryKernel, useNexthops = true): Promise<{ datapath: VxlanDatapath; warnings: () => string[] }> {
  const { logger, lines } = memoryLogger();
  const datapath = new VxlanDatapath('ipv4', kernel, EXTERNAL, UNDERLAY, OPTIONS, new SkippedPeers('vxlan', logger), logger, undefined, useNexthops);
  await datapath.prepare();
  return { datapath, warnings: () => lines.filter((l) => l.startsWith('warn: ')).map((l) => l.slice('warn: '.length)) };
}

const nexthopIds = (kernel: MemoryKernel): number[] => [...kernel.nexthops.keys()].sort((a, b) => a - b);

describe('peer routes through nexthop objects (vxlan)', () => {
  it('writes one object per peer (proto 87) and routes by id; a restart finds the same ids and writes nothing', async () => {
    const kernel = newKernel();
    await (await vxlan(kernel)).datapath.applyPeers(peers(3, 4));
    expect(kernel.nexthopLines()).toEqual(['via 10.244.3.0 dev 10 onlink proto 87', 'via 10.244.4.0 dev 10 onlink proto 87']);
    expect(kernel.routeLines()).toEqual([...kernel.nexthops.values()].map((n) =>
      `${n.gateway?.toString() ?? ''}/24 nhid ${n.id} via ${n.gateway?.toString() ?? ''} dev 10 onlink proto 3`).sort());
    const ids = nexthopIds(kernel);
    kernel.writes.length = 0;
    const restarted = await vxlan(kernel);
    expect(await restarted.datapath.applyPeers(peers(3, 4))).toEqual({ repaired: { link: 0, neighbor: 0, fdb: 0, route: 0, nexthop: 0 }, removed: 0 });
    expect(kernel.writes).toEqual([]);
    expect(nexthopIds(kernel)).toEqual(ids);
  });

  it('converts an older weft\'s routes in place (replace, never delete) and leaves foreign objects alone', async () => {
    const kernel = newKernel();
    await (await vxlan(kernel, false)).datapath.applyPeers(peers(3));
    expect(kernel.routeLines()).toEqual(['10.244.3.0/24 via 10.244.3.0 dev 10 onlink proto 3']);
    const foreign = [{ id: 1, family: 'ipv4' as const, gateway: ip('10.244.3.0'), oif: 10, onlink: true, protocol: 3 }];
    for (const n of foreign) kernel.nexthops.set(n.id, n);
    kernel.writes.length = 0;
    await (await vxlan(kernel)).datapath.applyPeers(peers(3));
    expect(kernel.writes.map((w) => w.op)).toEqual(['set-nexthop', 'set-route']);
    expect(kernel.routeLines()).toEqual([expect.stringMatching(/^10\.244\.3\.0\/24 nhid (?!1 )\d+ via 10\.244\.3\.0 dev 10 onlink proto 3$/)]);
    expect(kernel.nexthops.get(1)).toEqual(foreign[0]);
  });

  it('never takes an id someone else holds, even the one its hash picks', async () => {
    const kernel = newKernel();
    await (await vxlan(kernel)).datapath.applyPeers(peers(3));
    const [hashed] = nexthopIds(kernel);
    if (hashed === undefined) throw new Error('no nexthop object written');
    const other = newKernel();
    other.nexthops.set(hashed, { id: hashed, family: 'ipv4', gateway: ip('192.0.2.99'), oif: 2, onlink: false, protocol: 4 });
    await (await vxlan(other)).datapath.applyPeers(peers(3));
    expect(other.nexthops.get(hashed)?.protocol).toBe(4);
    expect(other.nexthopLines()).toEqual(['via 10.244.3.0 dev 10 onlink proto 87', 'via 192.0.2.99 dev 2 proto 4']);
  });

  it('removes a departed peer\'s route and object, in a full pass and in a change', async () => {
    const kernel = newKernel();
    const { datapath } = await vxlan(kernel);
    await datapath.applyPeers(peers(3, 4, 5));
    await datapath.applyPeers(peers(3, 4));
    expect(kernel.nexthopLines()).toEqual(['via 10.244.3.0 dev 10 onlink proto 87', 'via 10.244.4.0 dev 10 onlink proto 87']);
    await datapath.applyChanges([peer(6)], [peer(4)]);
    expect(kernel.nexthopLines()).toEqual(['via 10.244.3.0 dev 10 onlink proto 87', 'via 10.244.6.0 dev 10 onlink proto 87']);
    expect(kernel.routeLines().map((l) => l.split(' ')[0])).toEqual(['10.244.3.0/24', '10.244.6.0/24']);
    expect(kernel.routeLines().every((l) => / nhid \d+ /.test(l))).toBe(true);
  });

  it('claims the deletion of one of its objects, and brings it back with its route', async () => {
    const kernel = newKernel();
    const { datapath } = await vxlan(kernel);
    await datapath.applyPeers(peers(3, 4));
    const gone = [...kernel.nexthops.values()].find((n) => n.gateway?.toString() === '10.244.3.0');
    if (!gone) throw new Error('no nexthop object for 10.244.3.0');
    kernel.deleteNexthop(gone.id); // as `ip nexthop del id N`: the IPv4 route goes silently
    expect(kernel.routeLines()).toHaveLength(1);
    expect(datapath.ownsKernelEvent({ kind: 'nexthop', deleted: true, ifindex: 10, nexthop: gone })).toBe(true);
    // Our own write announced back, and a foreign object: nothing to do.
    expect(datapath.ownsKernelEvent({ kind: 'nexthop', deleted: false, ifindex: 10, nexthop: { ...gone, id: gone.id } })).toBe(false);
    expect(datapath.ownsKernelEvent({ kind: 'nexthop', deleted: false, ifindex: 10, nexthop: { ...gone, id: 1, protocol: 3 } })).toBe(false);
    const result = await datapath.applyPeers(peers(3, 4));
    expect(result.repaired).toMatchObject({ nexthop: 1, route: 1 });
    expect(kernel.routeLines()).toHaveLength(2);
    expect(kernel.nexthops.get(gone.id)).toEqual(gone);
  });
});

describe('falling back to routes with their own gateway', () => {
  it.each<[string, NexthopSupport]>([['refuses adding one (EINVAL)', 'no-add'], ['has none (the dump answers EOPNOTSUPP)', 'no-dump']])(
    'when the kernel %s: routes via the peer, one warning, no retry', async (_what, support) => {
      const kernel = newKernel(support);
      const { datapath, warnings } = await vxlan(kernel);
      await datapath.applyPeers(peers(3, 4));
      expect(kernel.routeLines()).toEqual(['10.244.3.0/24 via 10.244.3.0 dev 10 onlink proto 3', '10.244.4.0/24 via 10.244.4.0 dev 10 onlink proto 3']);
      expect(warnings()).toEqual(['the kernel refuses nexthop objects; peer routes carry their own gateway']);
      kernel.writes.length = 0;
      await datapath.applyChanges([peer(5)], []);
      expect(kernel.writes.filter((w) => w.op === 'set-nexthop')).toEqual([]);
      expect(kernel.routeLines()).toContain('10.244.5.0/24 via 10.244.5.0 dev 10 onlink proto 3');
    });

  it('when turned off: no object written, and routes of a previous run through objects are put back on their gateway', async () => {
    const kernel = newKernel();
    await (await vxlan(kernel)).datapath.applyPeers(peers(3));
    await (await vxlan(kernel, false)).datapath.applyPeers(peers(3));
    expect(kernel.routeLines()).toEqual(['10.244.3.0/24 via 10.244.3.0 dev 10 onlink proto 3']);
  });
});

describe('peer routes through nexthop objects (host-gw)', () => {
  it('shares one object between leases of one node (same public IP) and deletes it with the last', async () => {
    const kernel = newKernel();
    const { logger } = memoryLogger();
    const datapath = new HostGwDatapath('ipv4', kernel, EXTERNAL, UNDERLAY, new SkippedPeers('host-gw', logger), logger);
    const hostGw = (n: number, publicIp: string): [string, Lease] => [`10.244.${n}.0/24`, { subnet: net(`10.244.${n}.0/24`), publicIp: ip(publicIp), backendType: 'host-gw' }];
    await datapath.applyPeers(new Map([hostGw(3, '192.0.2.13'), hostGw(4, '192.0.2.13')]));
    expect(kernel.nexthopLines()).toEqual([`via 192.0.2.13 dev 2 proto ${WEFT_ROUTE_PROTOCOL}`]);
    expect(new Set([...kernel.routes.values()].map((r) => r.nexthopId)).size).toBe(1);
    await datapath.applyPeers(new Map([hostGw(4, '192.0.2.13')]));
    expect(kernel.nexthopLines()).toHaveLength(1);
    await datapath.applyPeers(new Map());
    expect(kernel.nexthopLines()).toEqual([]);
    expect(kernel.routeLines()).toEqual([]);
  });
});
