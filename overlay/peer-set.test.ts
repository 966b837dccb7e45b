import type { Lease } from '../subnet/lease.js';
import { foldBatch, type PeerMap } from './peer-set.js';
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
