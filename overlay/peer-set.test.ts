import type { Lease } from '../subnet/lease.js';
import { dropOwnSubnet, foldBatch, type PeerMap } from './peer-set.js';
import { IpAddress } from '../subnet/ip-address.js';
import { IpPrefix } from '../subnet/ip-prefix.js';

function lease(subnet: string, publicIp: string, mac = 'aa:bb:cc:dd:ee:01'): Lease {
  const net = IpPrefix.parse(subnet, { family: 'ipv4' });
  const ip = IpAddress.parse(publicIp, 'ipv4');
  if (!net || ip === undefined) throw new Error('bad fixture');
  return { subnet: net, publicIp: ip, backendType: 'vxlan', backendData: { vni: 1, vtepMac: mac } };
}

const own = IpPrefix.parse('10.244.1.0/24', { family: 'ipv4' });

describe('foldBatch', () => {
  it('adds and removes peers and filters our own subnet', () => {
    const peers: PeerMap = new Map();
    expect(foldBatch(peers, { kind: 'added', leases: [lease('10.244.1.0/24', '192.0.2.1'), lease('10.244.2.0/24', '192.0.2.2')] }, own)).toBe(true);
    expect([...peers.keys()]).toEqual(['10.244.2.0/24']);
    expect(foldBatch(peers, { kind: 'removed', leases: [lease('10.244.2.0/24', '192.0.2.2')] }, own)).toBe(true);
    expect(peers.size).toBe(0);
    expect(foldBatch(peers, { kind: 'removed', leases: [lease('10.244.9.0/24', '192.0.2.9')] }, own)).toBe(false);
  });

  it('diffs a snapshot against what is known', () => {
    const peers: PeerMap = new Map();
    foldBatch(peers, { kind: 'added', leases: [lease('10.244.2.0/24', '192.0.2.2'), lease('10.244.3.0/24', '192.0.2.3')] }, own);
    const changed = foldBatch(
      peers,
      { kind: 'snapshot', leases: [lease('10.244.3.0/24', '192.0.2.3'), lease('10.244.4.0/24', '192.0.2.4'), lease('10.244.1.0/24', '192.0.2.1')] },
      own,
    );
    expect(changed).toBe(true);
    expect([...peers.keys()].sort()).toEqual(['10.244.3.0/24', '10.244.4.0/24']);
  });

  it('treats a renewal with the same datapath as no change, and a new MAC as a change', () => {
    const peers: PeerMap = new Map();
    foldBatch(peers, { kind: 'added', leases: [lease('10.244.2.0/24', '192.0.2.2')] }, own);
    expect(foldBatch(peers, { kind: 'added', leases: [lease('10.244.2.0/24', '192.0.2.2')] }, own)).toBe(false);
    expect(foldBatch(peers, { kind: 'added', leases: [lease('10.244.2.0/24', '192.0.2.2', 'aa:bb:cc:dd:ee:02')] }, own)).toBe(true);
    expect(foldBatch(peers, { kind: 'snapshot', leases: [lease('10.244.2.0/24', '192.0.2.2', 'aa:bb:cc:dd:ee:02')] }, own)).toBe(false);
  });
});

describe('foldBatch with IPv6-only leases', () => {
  function v6Lease(subnet: string, publicIpv6: string, mac = 'aa:bb:cc:dd:06:01'): Lease {
    const net = IpPrefix.parse(subnet, { family: 'ipv6' });
    const ip = IpAddress.parse(publicIpv6, 'ipv6');
    if (!net || ip === undefined) throw new Error('bad fixture');
    return { ipv6Subnet: net, publicIpv6: ip, backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac: mac } };
  }
  const ownV6 = IpPrefix.parse('fd00:10:244:1::/64', { family: 'ipv6' });

  it('keys them by their IPv6 subnet, filters our own, and removes them by that key', () => {
    const peers: PeerMap = new Map();
    const added = [v6Lease('fd00:10:244:1::/64', '2001:db8::1'), v6Lease('fd00:10:244:2::/64', '2001:db8::2'), v6Lease('fd00:10:244:3::/64', '2001:db8::3')];
    expect(foldBatch(peers, { kind: 'added', leases: added }, ownV6)).toBe(true);
    expect([...peers.keys()]).toEqual(['fd00:10:244:2::/64', 'fd00:10:244:3::/64']);
    expect(foldBatch(peers, { kind: 'added', leases: [v6Lease('fd00:10:244:2::/64', '2001:db8::2')] }, ownV6)).toBe(false); // a renewal
    expect(foldBatch(peers, { kind: 'added', leases: [v6Lease('fd00:10:244:2::/64', '2001:db8::22')] }, ownV6)).toBe(true); // moved
    expect(foldBatch(peers, { kind: 'removed', leases: [v6Lease('fd00:10:244:3::/64', '2001:db8::3')] }, ownV6)).toBe(true);
    expect(foldBatch(peers, { kind: 'snapshot', leases: [v6Lease('fd00:10:244:4::/64', '2001:db8::4')] }, ownV6)).toBe(true);
    expect([...peers.keys()]).toEqual(['fd00:10:244:4::/64']);
  });

  it('keeps an IPv6-only and an IPv4 lease apart, and drops a peer holding what became our own IPv6 subnet', () => {
    const peers: PeerMap = new Map();
    foldBatch(peers, { kind: 'snapshot', leases: [v6Lease('fd00:10:244:5::/64', '2001:db8::5'), lease('10.244.5.0/24', '192.0.2.5')] }, ownV6);
    expect([...peers.keys()].sort()).toEqual(['10.244.5.0/24', 'fd00:10:244:5::/64']);
    const newOwn = IpPrefix.parse('fd00:10:244:5::/64', { family: 'ipv6' });
    if (!newOwn) throw new Error('bad fixture');
    expect(dropOwnSubnet(peers, newOwn)).toBe(true);
    expect([...peers.keys()]).toEqual(['10.244.5.0/24']);
  });
});
