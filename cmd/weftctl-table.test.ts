import type { Lease } from '../subnet/lease.js';
import { LeaseDiff } from './weftctl-lease-diff.js';
import { findOrphanedLeases } from './weftctl-orphans.js';
import { formatChange, formatTable, leaseJson, leaseTable } from './weftctl-table.js';
import { ip, net } from '../test/addresses.js';

const vxlan = (subnet: string, publicIp: string, mac: string): Lease => ({
  subnet: net(subnet), publicIp: ip(publicIp), backendType: 'vxlan', backendData: { vni: 1, vtepMac: mac },
});
const hostGw = (subnet: string, publicIp: string): Lease => ({ subnet: net(subnet), publicIp: ip(publicIp), backendType: 'host-gw' });

describe('formatTable', () => {
  it('pads columns to the widest cell without trailing blanks', () => {
    expect(formatTable(['A', 'BB'], [['xxx', 'y'], ['z', '']])).toBe('A    BB\nxxx  y\nz\n');
  });
});

describe('lease table and JSON', () => {
  const rows = [
    { lease: hostGw('10.244.10.0/24', '192.0.2.10'), expiresAt: new Date('2026-11-23T10:00:00.123Z') },
    { lease: vxlan('10.244.9.0/24', '192.0.2.9', 'c6:d2:32:6f:8f:44'), reservation: true },
  ];

  it('sorts by subnet and shows expiry or reservation (etcd)', () => {
    expect(leaseTable(rows, 'etcd')).toBe(
      'SUBNET          PUBLIC-IP   BACKEND  VTEP-MAC           EXPIRES\n' +
        '10.244.9.0/24   192.0.2.9   vxlan    c6:d2:32:6f:8f:44  never (reservation)\n' +
        '10.244.10.0/24  192.0.2.10  host-gw  -                  2026-11-23T10:00:00Z\n',
    );
  });

  it('shows the node in kube mode', () => {
    expect(leaseTable([{ lease: hostGw('10.244.1.0/24', '192.0.2.1'), node: 'n1' }], 'kube')).toBe(
      'SUBNET         PUBLIC-IP  BACKEND  VTEP-MAC  NODE\n10.244.1.0/24  192.0.2.1  host-gw  -         n1\n',
    );
  });

  it('writes JSON with null expiry for reservations', () => {
    const reserved = { lease: vxlan('10.244.9.0/24', '192.0.2.9', 'c6:d2:32:6f:8f:44'), reservation: true };
    expect(leaseJson(reserved, 'etcd')).toEqual({
      subnet: '10.244.9.0/24', publicIp: '192.0.2.9', backendType: 'vxlan', vni: 1, vtepMac: 'c6:d2:32:6f:8f:44', expiresAt: null,
    });
  });

  it('formats watch changes as JSON lines or table lines', () => {
    const row = { lease: hostGw('10.244.1.0/24', '192.0.2.1') };
    expect(JSON.parse(formatChange({ type: 'removed', row }, 'etcd', true))).toEqual({
      type: 'removed', lease: { subnet: '10.244.1.0/24', publicIp: '192.0.2.1', backendType: 'host-gw', expiresAt: null },
    });
    expect(formatChange({ type: 'added', row }, 'etcd', false)).toBe('ADDED    10.244.1.0/24  192.0.2.1  host-gw  -\n');
  });
});

describe('IPv6-only and dual-stack leases in the table and JSON', () => {
  const v6Only: Lease = { ipv6Subnet: net('fd00:10:244:3::/64'), publicIpv6: ip('2001:db8::3'), backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac: '02:00:00:00:06:03' } };
  const dual: Lease = { ...vxlan('10.244.2.0/24', '192.0.2.2', '02:00:00:00:00:02'), ipv6Subnet: net('fd00:10:244:2::/64'), publicIpv6: ip('2001:db8::2'), backendV6Data: { vni: 1, vtepMac: '02:00:00:00:06:02' } };

  it('shows an IPv6-only lease by its IPv6 half, after the IPv4 ones, and a dual-stack one by its IPv4 half', () => {
    expect(leaseTable([{ lease: v6Only, node: 'n3' }, { lease: dual, node: 'n2' }], 'kube')).toBe(
      'SUBNET              PUBLIC-IP    BACKEND  VTEP-MAC           NODE\n' +
        '10.244.2.0/24       192.0.2.2    vxlan    02:00:00:00:00:02  n2\n' +
        'fd00:10:244:3::/64  2001:db8::3  vxlan    02:00:00:00:06:03  n3\n',
    );
    expect(formatChange({ type: 'added', row: { lease: v6Only } }, 'etcd', false)).toBe('ADDED    fd00:10:244:3::/64  2001:db8::3  vxlan  02:00:00:00:06:03\n');
  });

  it('writes both halves in JSON, and no IPv4 fields for an IPv6-only lease', () => {
    expect(leaseJson({ lease: v6Only, expiresAt: new Date('2026-11-23T10:00:00Z') }, 'etcd')).toEqual({
      subnet: 'fd00:10:244:3::/64', backendType: 'vxlan', ipv6Subnet: 'fd00:10:244:3::/64', publicIpv6: '2001:db8::3', vniV6: 1, vtepMacV6: '02:00:00:00:06:03',
      expiresAt: '2026-11-23T10:00:00.000Z',
    });
    expect(leaseJson({ lease: dual, node: 'n2' }, 'kube')).toEqual({
      subnet: '10.244.2.0/24', publicIp: '192.0.2.2', backendType: 'vxlan', vni: 1, vtepMac: '02:00:00:00:00:02',
      ipv6Subnet: 'fd00:10:244:2::/64', publicIpv6: '2001:db8::2', vniV6: 1, vtepMacV6: '02:00:00:00:06:02', node: 'n2',
    });
  });
});

describe('findOrphanedLeases', () => {
  const pool = { ipv4: { network: net('10.244.0.0/16'), subnetLen: 24 } };
  it('finds leases outside the network or of another size', () => {
    const orphans = findOrphanedLeases(pool, [net('10.244.1.0/24'), net('10.245.1.0/24'), net('10.244.2.0/25'), net('10.0.0.0/8')]);
    expect(orphans.map((o) => [o.subnet.toString(), o.reason])).toEqual([
      ['10.245.1.0/24', 'outside Network 10.244.0.0/16'],
      ['10.244.2.0/25', 'prefix /25 differs from SubnetLen 24'],
      ['10.0.0.0/8', 'outside Network 10.244.0.0/16'],
    ]);
  });
  it('finds none when every lease fits', () => {
    expect(findOrphanedLeases(pool, [net('10.244.1.0/24'), net('10.244.255.0/24')])).toEqual([]);
  });
  it('checks IPv6 halves against IPv6Network, and halves of a family no longer enabled', () => {
    const dual = { ...pool, ipv6: { network: net('fd00:10:244::/56'), subnetLen: 64 } };
    const halves = [net('fd00:10:244:1::/64'), net('fd00:10:245::/64'), net('fd00:10:244:2::/80')];
    expect(findOrphanedLeases(dual, halves).map((o) => [o.subnet.toString(), o.reason])).toEqual([
      ['fd00:10:245::/64', 'outside IPv6Network fd00:10:244::/56'],
      ['fd00:10:244:2::/80', 'prefix /80 differs from IPv6SubnetLen 64'],
    ]);
    expect(findOrphanedLeases(pool, [net('fd00:10:244:1::/64')]).map((o) => o.reason)).toEqual(['IPv6 is no longer enabled (EnableIPv6)']);
    expect(findOrphanedLeases({ ipv6: dual.ipv6 }, [net('10.244.1.0/24')]).map((o) => o.reason)).toEqual(['IPv4 is no longer enabled (EnableIPv4)']);
  });
});

describe('LeaseDiff', () => {
  it('turns snapshots into adds and removes against what was shown', () => {
    const diff = new LeaseDiff();
    const a = hostGw('10.244.1.0/24', '192.0.2.1');
    const b = hostGw('10.244.2.0/24', '192.0.2.2');
    const bMoved = hostGw('10.244.2.0/24', '192.0.2.22');
    const show = (changes: ReturnType<LeaseDiff['apply']>): string[] => changes.map((c) => `${c.type} ${c.lease.subnet?.toString()}`);
    expect(show(diff.apply({ kind: 'snapshot', leases: [a, b] }))).toEqual(['added 10.244.1.0/24', 'added 10.244.2.0/24']);
    expect(show(diff.apply({ kind: 'added', leases: [a] }))).toEqual([]);
    expect(show(diff.apply({ kind: 'snapshot', leases: [bMoved] }))).toEqual(['removed 10.244.1.0/24', 'added 10.244.2.0/24']);
    expect(show(diff.apply({ kind: 'removed', leases: [a] }))).toEqual([]);
    expect(show(diff.apply({ kind: 'removed', leases: [bMoved] }))).toEqual(['removed 10.244.2.0/24']);
  });
});
