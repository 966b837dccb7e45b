// The dual-stack datapath against an in-memory kernel: what each family's device, addresses and
// per-peer entries are, and which kernel notifications each family claims.
import type { KernelWrite, RouteEntry } from './rtnetlink.js';
import { SkippedPeers, type ExternalInterface, type UnderlayAddresses } from './backend.js';
import { PerFamilyBackend } from './per-family-backend.js';
import { VxlanDatapath } from './vxlan-backend.js';
import { HostGwDatapath } from './host-gw-backend.js';
import type { Lease } from '../subnet/lease.js';
import type { IpFamily } from '../subnet/ip-address.js';
import { memoryLogger } from '../test/integration/lease-test-helpers.js';
import { ip, net } from '../test/addresses.js';
import { MemoryKernel } from '../test/memory-kernel.js';

const EXTERNAL: ExternalInterface = {
  name: 'eth0', index: 2, mtu: 1500,
  ipv4: { ifaceIp: ip('192.0.2.11'), publicIp: ip('192.0.2.11') },
  ipv6: { ifaceIp: ip('2001:db8::b'), publicIp: ip('2001:db8::b') },
};

/** A kernel holding the external interface's addresses of both families. */
function newKernel(): MemoryKernel {
  const kernel = new MemoryKernel();
  kernel.addresses.push({ index: 2, ip: ip('192.0.2.11'), prefixLength: 24 }, { index: 2, ip: ip('2001:db8::b'), prefixLength: 64 });
  return kernel;
}

function underlayOf(external: ExternalInterface, family: IpFamily): UnderlayAddresses {
  const underlay = external[family];
  if (!underlay) throw new Error(`no ${family} underlay in this test`);
  return underlay;
}

const OPTIONS = { type: 'vxlan', vni: 1, port: 0, mtu: undefined, gbp: false, learning: false, directRouting: false } as const;

function vxlanBackend(kernel: MemoryKernel, directRouting = false): PerFamilyBackend {
  const { logger } = memoryLogger();
  const skipped = new SkippedPeers('vxlan', logger);
  const options = { ...OPTIONS, directRouting };
  return new PerFamilyBackend('vxlan', (['ipv4', 'ipv6'] as const).map((family) =>
    new VxlanDatapath(family, kernel, EXTERNAL, underlayOf(EXTERNAL, family), options, skipped, logger)));
}

const dualPeer: Lease = {
  subnet: net('10.244.3.0/24'), publicIp: ip('192.0.2.13'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '02:00:00:00:04:03' },
  ipv6Subnet: net('fd00:10:244:3::/64'), publicIpv6: ip('2001:db8::d'), backendV6Data: { vni: 1, vtepMac: '02:00:00:00:06:03' },
};
const ipv4OnlyPeer: Lease = { subnet: net('10.244.4.0/24'), publicIp: ip('192.0.2.14'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '02:00:00:00:04:04' } };
const own: Lease = { ...dualPeer, subnet: net('10.244.1.0/24'), ipv6Subnet: net('fd00:10:244:1::/64') };

/** A write as text; a route through a nexthop object names the object's gateway (ids are hashes). */
const text = (w: KernelWrite, _i: number, all: readonly KernelWrite[]): string => {
  switch (w.op) {
    case 'set-neighbor': return `neigh ${w.ip.toString()} ${w.mac} dev ${w.index}`;
    case 'set-fdb': return `fdb ${w.mac} dst ${w.dst.toString()} dev ${w.index}`;
    case 'set-nexthop': return `nexthop via ${w.nexthop.gateway.toString()} dev ${w.nexthop.oif}${w.nexthop.onlink ? ' onlink' : ''} proto ${w.nexthop.protocol}`;
    case 'set-route': {
      const r = w.route;
      const nexthop = all.find((n) => n.op === 'set-nexthop' && n.nexthop.id === r.nexthopId);
      const through = nexthop?.op === 'set-nexthop' ? ` nhid(${nexthop.nexthop.gateway.toString()})` : ` via ${r.gateway.toString()} dev ${r.oif}${r.onlink ? ' onlink' : ''}`;
      return `route ${r.dst.toString()}${through} proto ${r.protocol}`;
    }
    default: return w.op;
  }
};

describe('PerFamilyBackend over vxlan', () => {
  it('makes flannel.1 and flannel-v6.1 (IPv6 local, 70 bytes of overhead) and publishes both halves', async () => {
    const kernel = newKernel();
    const backend = vxlanBackend(kernel);
    const attrs = await backend.prepare();
    expect(kernel.links.map((l) => [l.name, l.mtu, l.vxlan?.local?.toString()])).toEqual([
      ['flannel.1', 1450, '192.0.2.11'],
      ['flannel-v6.1', 1430, '2001:db8::b'],
    ]);
    expect(backend.podMtu).toBe(1430);
    expect(attrs).toEqual({
      publicIp: ip('192.0.2.11'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: kernel.links[0]?.mac },
      publicIpv6: ip('2001:db8::b'), backendV6Data: { vni: 1, vtepMac: kernel.links[1]?.mac },
    });
    await backend.configureOwnLease(own);
    expect(kernel.addresses.filter((a) => a.index >= 10).map((a) => `${a.ip.toString()}/${a.prefixLength} on ${a.index}`)).toEqual([
      '10.244.1.0/32 on 10', 'fd00:10:244:1::/128 on 11',
    ]);
  });

  it('programs each family of a dual-stack peer on its own device, and only IPv4 for an IPv4-only peer', async () => {
    const kernel = newKernel();
    const backend = vxlanBackend(kernel);
    await backend.prepare();
    const result = await backend.applyPeers(new Map([['a', dualPeer], ['b', ipv4OnlyPeer]]));
    expect(kernel.writes.map(text)).toEqual([
      'nexthop via 10.244.3.0 dev 10 onlink proto 87', 'nexthop via 10.244.4.0 dev 10 onlink proto 87',
      'neigh 10.244.3.0 02:00:00:00:04:03 dev 10', 'neigh 10.244.4.0 02:00:00:00:04:04 dev 10',
      'fdb 02:00:00:00:04:03 dst 192.0.2.13 dev 10', 'fdb 02:00:00:00:04:04 dst 192.0.2.14 dev 10',
      'route 10.244.3.0/24 nhid(10.244.3.0) proto 3', 'route 10.244.4.0/24 nhid(10.244.4.0) proto 3',
      'nexthop via fd00:10:244:3:: dev 11 onlink proto 87',
      'neigh fd00:10:244:3:: 02:00:00:00:06:03 dev 11',
      'fdb 02:00:00:00:06:03 dst 2001:db8::d dev 11',
      'route fd00:10:244:3::/64 nhid(fd00:10:244:3::) proto 3',
    ]);
    expect(result).toEqual({ repaired: { link: 0, neighbor: 3, fdb: 3, route: 3, nexthop: 3 }, removed: 0 });
    expect(kernel.routeLines()).toEqual([
      expect.stringMatching(/^10\.244\.3\.0\/24 nhid \d+ via 10\.244\.3\.0 dev 10 onlink proto 3$/),
      expect.stringMatching(/^10\.244\.4\.0\/24 nhid \d+ via 10\.244\.4\.0 dev 10 onlink proto 3$/),
      expect.stringMatching(/^fd00:10:244:3::\/64 nhid \d+ via fd00:10:244:3:: dev 11 onlink proto 3$/),
    ]);
  });

  it('routes each family directly via the peer\'s public address of that family with DirectRouting', async () => {
    const kernel = newKernel();
    const backend = vxlanBackend(kernel, true);
    await backend.prepare();
    await backend.applyPeers(new Map([['a', dualPeer]]));
    expect(kernel.writes.map(text)).toEqual([
      'nexthop via 192.0.2.13 dev 2 proto 87', 'route 10.244.3.0/24 nhid(192.0.2.13) proto 87',
      'nexthop via 2001:db8::d dev 2 proto 87', 'route fd00:10:244:3::/64 nhid(2001:db8::d) proto 87',
    ]);
  });

  it('claims a kernel notification only for the family and device it belongs to', async () => {
    const kernel = newKernel();
    const backend = vxlanBackend(kernel);
    await backend.prepare();
    await backend.applyPeers(new Map([['a', dualPeer]]));
    const v6Route = kernel.routes.get('fd00:10:244:3::/64') as RouteEntry;
    expect(v6Route).toMatchObject({ gateway: ip('fd00:10:244:3::'), oif: 11, protocol: 3, onlink: true, nexthopId: expect.any(Number) as number });
    // Our own write announced back: nothing to do; the same route deleted: a pass.
    expect(backend.ownsKernelEvent({ kind: 'route', deleted: false, ifindex: 11, route: v6Route })).toBe(false);
    // The same route with its own gateway (someone replaced it, or an older weft): a pass puts it back through its nexthop.
    expect(backend.ownsKernelEvent({ kind: 'route', deleted: false, ifindex: 11, route: { ...v6Route, nexthopId: undefined } })).toBe(true);
    expect(backend.ownsKernelEvent({ kind: 'route', deleted: true, ifindex: 11, route: v6Route })).toBe(true);
    // An IPv6 route of ours on the IPv4 device's index would not be ours: the family decides.
    expect(backend.ownsKernelEvent({ kind: 'route', deleted: false, ifindex: 10, route: { ...v6Route, oif: 10 } })).toBe(false);
    const v6Neighbor = { ip: ip('fd00:10:244:3::'), mac: '02:00:00:00:06:03', permanent: true };
    expect(backend.ownsKernelEvent({ kind: 'neighbor', deleted: true, ifindex: 11, neighbor: v6Neighbor })).toBe(true);
    expect(backend.ownsKernelEvent({ kind: 'neighbor', deleted: true, ifindex: 11, fdb: { mac: '02:00:00:00:06:03', dst: ip('2001:db8::d') } })).toBe(true);
  });
});

describe('PerFamilyBackend over host-gw', () => {
  it('routes each family via the peer\'s public address of that family and refuses a public IPv6 not on the interface', async () => {
    const kernel = newKernel();
    const { logger } = memoryLogger();
    const skipped = new SkippedPeers('host-gw', logger);
    const make = (external: ExternalInterface): PerFamilyBackend => new PerFamilyBackend('host-gw', (['ipv4', 'ipv6'] as const).map((family) =>
      new HostGwDatapath(family, kernel, external, underlayOf(external, family), skipped, logger)));
    const backend = make(EXTERNAL);
    expect(await backend.prepare()).toEqual({ publicIp: ip('192.0.2.11'), backendType: 'host-gw', backendData: undefined, publicIpv6: ip('2001:db8::b'), backendV6Data: undefined });
    expect(backend.podMtu).toBe(1500);
    await backend.applyPeers(new Map([['a', { ...dualPeer, backendType: 'host-gw' }]]));
    expect(kernel.writes.map(text)).toEqual([
      'nexthop via 192.0.2.13 dev 2 proto 87', 'route 10.244.3.0/24 nhid(192.0.2.13) proto 87',
      'nexthop via 2001:db8::d dev 2 proto 87', 'route fd00:10:244:3::/64 nhid(2001:db8::d) proto 87',
    ]);

    const elsewhere = make({ ...EXTERNAL, ipv6: { ifaceIp: ip('2001:db8::b'), publicIp: ip('2001:db8:9::9') } });
    await expect(elsewhere.prepare()).rejects.toMatchObject({ field: '--public-ipv6' });
  });
});
