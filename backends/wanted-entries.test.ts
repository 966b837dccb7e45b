import type { DesiredEntries } from './kernel-diff.js';
import { WantedEntries } from './wanted-entries.js';
import { ip, net } from '../test/addresses.js';

const DEVICE = 5;

function peer(subnet: string, mac: string, publicIp: string): DesiredEntries {
  const subnetNet = net(subnet);
  return {
    neighbors: [{ ip: subnetNet.address, mac, permanent: true }],
    fdb: [{ mac, dst: ip(publicIp) }],
    routes: [{ dst: subnetNet, gateway: subnetNet.address, oif: DEVICE, onlink: true, protocol: 3 }],
  };
}

describe('WantedEntries', () => {
  it('lets notifications of its own writes pass and flags changed, deleted and unwanted entries', () => {
    const wanted = new WantedEntries();
    const a = peer('10.244.1.0/24', '02:00:00:00:00:01', '192.0.2.11');
    wanted.reset(new Map([['a', a]]));
    const [n, f, r] = [a.neighbors[0], a.fdb[0], a.routes[0]];
    if (!n || !f || !r) throw new Error('entries');
    expect(wanted.neighborNeedsPass(n, false)).toBe(false);
    expect(wanted.fdbNeedsPass(f, false)).toBe(false);
    expect(wanted.routeNeedsPass(r, false)).toBe(false);

    expect(wanted.neighborNeedsPass({ ...n, mac: '02:00:00:00:00:99' }, false)).toBe(true);
    expect(wanted.neighborNeedsPass({ ...n, mac: '', permanent: false }, true)).toBe(true);
    expect(wanted.fdbNeedsPass({ ...f, dst: ip('192.0.2.250') }, false)).toBe(true);
    expect(wanted.fdbNeedsPass(f, true)).toBe(true);
    expect(wanted.routeNeedsPass({ ...r, gateway: ip('10.244.250.0') }, false)).toBe(true);
    expect(wanted.routeNeedsPass(r, true)).toBe(true);

    // Deleting what nobody wants (our own removal of a stale peer) wakes nothing.
    const stale = peer('10.244.9.0/24', '02:00:00:00:00:09', '192.0.2.19');
    expect(wanted.neighborNeedsPass(stale.neighbors[0] ?? n, true)).toBe(false);
    expect(wanted.fdbNeedsPass(stale.fdb[0] ?? f, true)).toBe(false);
    expect(wanted.routeNeedsPass(stale.routes[0] ?? r, true)).toBe(false);
    // An unwanted permanent neighbour or gatewayed route on our device is removed by a pass.
    expect(wanted.neighborNeedsPass(stale.neighbors[0] ?? n, false)).toBe(true);
    expect(wanted.routeNeedsPass(stale.routes[0] ?? r, false)).toBe(true);
  });

  it('keeps an FDB entry two leases share until neither wants it', () => {
    const wanted = new WantedEntries();
    const old = peer('10.244.1.0/24', '02:00:00:00:00:01', '192.0.2.11');
    const renewed = peer('10.244.7.0/24', '02:00:00:00:00:01', '192.0.2.11');
    expect(wanted.reset(new Map([['old', old], ['new', renewed]])).fdb).toHaveLength(1);
    const gone = wanted.delete('old');
    expect(gone.stale.fdb).toEqual([]);
    expect(gone.stale.neighbors).toEqual(old.neighbors);
    expect(gone.stale.routes).toEqual(old.routes);
    expect(wanted.delete('new').stale.fdb).toEqual(renewed.fdb);
  });

  it('gives a MAC claimed with two public IPs to the first claimant, then to the next', () => {
    const wanted = new WantedEntries();
    const first = peer('10.244.1.0/24', '02:00:00:00:00:01', '192.0.2.11');
    const second = peer('10.244.2.0/24', '02:00:00:00:00:01', '192.0.2.12');
    wanted.reset(new Map([['first', first]]));
    expect(wanted.set('second', second).write.fdb).toEqual([]);
    expect(wanted.all().fdb).toEqual(first.fdb);
    const gone = wanted.delete('first');
    expect(gone.stale.fdb).toEqual(first.fdb);
    expect(gone.write.fdb).toEqual(second.fdb);
  });
});
