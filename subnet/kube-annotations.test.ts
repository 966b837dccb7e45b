import { ConfigError, RemoteDataError } from './errors.js';
import {
  annotationKeys,
  formatBackendData,
  isManagedNode,
  leaseAnnotations,
  nodePodCidr,
  nodeToLease,
  overrideIp,
  parseVxlanBackendData,
  previousVtepMac,
  type NodeLike,
} from './kube-annotations.js';
import { ip } from '../test/addresses.js';

const P = 'flannel.alpha.coreos.com';
const keys = annotationKeys();

function node(annotations: Record<string, string>, podCIDR?: string, podCIDRs?: string[]): NodeLike {
  return { metadata: { name: 'n1', annotations }, spec: { podCIDR, podCIDRs } };
}

const vxlanPeer = {
  [`${P}/backend-type`]: 'vxlan',
  [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"12:C6:0a:0b:0c:0d"}',
  [`${P}/public-ip`]: '192.0.2.11',
  [`${P}/kube-subnet-manager`]: 'true',
};

describe('annotation keys', () => {
  it('uses flannel.alpha.coreos.com by default and tolerates a trailing slash', () => {
    expect(keys.backendData).toBe('flannel.alpha.coreos.com/backend-data');
    expect(annotationKeys('example.com/').publicIp).toBe('example.com/public-ip');
    expect(annotationKeys('example.com').subnetKubeManaged).toBe('example.com/kube-subnet-manager');
    expect(keys.nodePublicIp).toBe('flannel.alpha.coreos.com/node-public-ip');
    expect(keys.publicIpOverwrite).toBe('flannel.alpha.coreos.com/public-ip-overwrite');
  });

  it('joins a name part with "-", as flannel does', () => {
    expect(annotationKeys('example.com/foo').backendType).toBe('example.com/foo-backend-type');
    expect(annotationKeys('example.com/foo').subnetKubeManaged).toBe('example.com/foo-kube-subnet-manager');
    expect(annotationKeys('example.com/foo-').publicIp).toBe('example.com/foo-public-ip');
    expect(annotationKeys('a-b.example_c.com/x_y').nodePublicIp).toBe('a-b.example_c.com/x_y-node-public-ip');
  });

  it.each(['org', 'org/', 'Example.com', 'EXAMPLE.COM/foo', 'example.com/Foo', 'example.com/foo/bar', '.com/', 'example.com/foo.bar', ''])(
    'refuses the prefix %j naming --kube-annotation-prefix, as flannel does',
    (prefix) => {
      expect(() => annotationKeys(prefix)).toThrow(ConfigError);
      expect(() => annotationKeys(prefix)).toThrow(/^--kube-annotation-prefix: .* is not a prefix flannel accepts/);
    },
  );
});

describe('formats we write', () => {
  it('writes backend-data byte for byte as flannel', () => {
    expect(formatBackendData({ vni: 1, vtepMac: '12:c6:0a:0b:0c:0d' })).toBe('{"VNI":1,"VtepMAC":"12:c6:0a:0b:0c:0d"}');
    expect(formatBackendData(undefined)).toBe('null');
  });

  it('writes the four lease annotations', () => {
    const publicIp = ip('192.0.2.10');
    expect(leaseAnnotations(keys, { publicIp, backendType: 'host-gw' }, publicIp)).toEqual({
      [`${P}/backend-type`]: 'host-gw',
      [`${P}/backend-data`]: 'null',
      [`${P}/public-ip`]: '192.0.2.10',
      [`${P}/kube-subnet-manager`]: 'true',
    });
  });
});

describe('nodeToLease', () => {
  it('reads a vxlan peer (MAC lower-cased)', () => {
    const lease = nodeToLease(keys, node(vxlanPeer, '10.244.3.0/24'));
    expect(lease.subnet?.toString()).toBe('10.244.3.0/24');
    expect(lease.publicIp?.toString()).toBe('192.0.2.11');
    expect(lease.backendType).toBe('vxlan');
    expect(lease.backendData).toEqual({ vni: 1, vtepMac: '12:c6:0a:0b:0c:0d' });
  });

  it('reads a host-gw peer with null backend-data', () => {
    const lease = nodeToLease(keys, node({ ...vxlanPeer, [`${P}/backend-type`]: 'host-gw', [`${P}/backend-data`]: 'null' }, '10.244.4.0/24'));
    expect(lease.backendType).toBe('host-gw');
    expect(lease.backendData).toBeUndefined();
  });

  it('reads the IPv6 half of a dual-stack peer, and refuses one whose public-ipv6 is not IPv6', () => {
    const dual = { ...vxlanPeer, [`${P}/public-ipv6`]: '2001:DB8::11', [`${P}/backend-v6-data`]: '{"VNI":1,"VtepMAC":"12:c6:0a:0b:06:0d"}' };
    const lease = nodeToLease(keys, node(dual, '10.244.6.0/24', ['10.244.6.0/24', 'fd00:1:0:6::/64']));
    expect([lease.ipv6Subnet?.toString(), lease.publicIpv6?.toString(), lease.backendV6Data?.vtepMac]).toEqual(['fd00:1:0:6::/64', '2001:db8::11', '12:c6:0a:0b:06:0d']);
    expect(nodePodCidr(node(dual, undefined, ['10.244.6.0/24', 'fd00:1:0:6::/64']), 'ipv6')?.toString()).toBe('fd00:1:0:6::/64');
    expect(() => nodeToLease(keys, node({ ...dual, [`${P}/public-ipv6`]: '192.0.2.11' }, '10.244.6.0/24', ['10.244.6.0/24', 'fd00:1:0:6::/64'])))
      .toThrow(/public-ipv6 "192.0.2.11" is not an IPv6 address/);
    expect(() => nodeToLease(keys, node({ ...dual, [`${P}/backend-v6-data`]: 'null' }, '10.244.6.0/24', ['10.244.6.0/24', 'fd00:1:0:6::/64'])))
      .toThrow(RemoteDataError);
  });

  it('publishes the IPv6 annotations only with an IPv6 address', () => {
    const attrs = { publicIp: ip('192.0.2.10'), publicIpv6: ip('2001:db8::10'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '12:c6:0a:0b:0c:0d' }, backendV6Data: { vni: 1, vtepMac: '12:c6:0a:0b:06:0d' } };
    expect(leaseAnnotations(keys, attrs, attrs.publicIp, attrs.publicIpv6)).toEqual({
      [`${P}/backend-type`]: 'vxlan',
      [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"12:c6:0a:0b:0c:0d"}',
      [`${P}/public-ip`]: '192.0.2.10',
      [`${P}/backend-v6-data`]: '{"VNI":1,"VtepMAC":"12:c6:0a:0b:06:0d"}',
      [`${P}/public-ipv6`]: '2001:db8::10',
      [`${P}/kube-subnet-manager`]: 'true',
    });
    expect(Object.keys(leaseAnnotations(keys, attrs, attrs.publicIp))).toHaveLength(4);
  });

  it('takes the IPv4 entry of a dual-stack podCIDRs', () => {
    const n = node(vxlanPeer, 'fd00:1::/64', ['fd00:1::/64', '10.244.5.0/24']);
    expect(nodePodCidr(n)?.toString()).toBe('10.244.5.0/24');
  });

  it('knows managed nodes by the kube-subnet-manager mark', () => {
    expect(isManagedNode(keys, node(vxlanPeer))).toBe(true);
    expect(isManagedNode(keys, node({ ...vxlanPeer, [`${P}/kube-subnet-manager`]: 'false' }))).toBe(false);
    expect(isManagedNode(keys, { metadata: { name: 'bare' } })).toBe(false);
  });

  const malformed: [string, NodeLike, RegExp][] = [
    ['no pod CIDR', node(vxlanPeer), /no pod CIDR/],
    ['a pod CIDR that is not a CIDR', node(vxlanPeer, '10.244.3.0'), /not an IPv4 CIDR/],
    ['no backend-type', node({ ...vxlanPeer, [`${P}/backend-type`]: '' }, '10.244.3.0/24'), /backend-type is missing/],
    ['no public-ip', node({ [`${P}/backend-type`]: 'host-gw', [`${P}/kube-subnet-manager`]: 'true' }, '10.244.3.0/24'), /public-ip is missing/],
    ['a public-ip that is not IPv4', node({ ...vxlanPeer, [`${P}/public-ip`]: '192.0.2.300' }, '10.244.3.0/24'), /not an IPv4 address/],
    ['vxlan without backend-data', node({ ...vxlanPeer, [`${P}/backend-data`]: undefined as unknown as string }, '10.244.3.0/24'), /backend-data is missing/],
    ['backend-data not JSON', node({ ...vxlanPeer, [`${P}/backend-data`]: '{VNI:1' }, '10.244.3.0/24'), /is not JSON/],
    ['backend-data null for vxlan', node({ ...vxlanPeer, [`${P}/backend-data`]: 'null' }, '10.244.3.0/24'), /not a JSON object/],
    ['a bad VNI', node({ ...vxlanPeer, [`${P}/backend-data`]: '{"VNI":"1","VtepMAC":"12:c6:0a:0b:0c:0d"}' }, '10.244.3.0/24'), /VNI "1"/],
    ['a bad MAC', node({ ...vxlanPeer, [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"12:c6:0a:0b:0c"}' }, '10.244.3.0/24'), /VtepMAC/],
  ];
  it.each(malformed)('rejects a node with %s as remote data naming the node', (_what, n, message) => {
    let caught: unknown;
    try {
      nodeToLease(keys, n);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(RemoteDataError);
    expect((caught as Error).message).toMatch(/^node n1: /);
    expect((caught as Error).message).toMatch(message);
  });
});

describe('read-only annotations of our own node', () => {
  it('recovers the VTEP MAC of an earlier vxlan run', () => {
    expect(previousVtepMac(keys, node(vxlanPeer))).toBe('12:c6:0a:0b:0c:0d');
    expect(previousVtepMac(keys, node({ [`${P}/backend-type`]: 'host-gw', [`${P}/backend-data`]: 'null' }))).toBeUndefined();
    expect(previousVtepMac(keys, node({}))).toBeUndefined();
    expect(() => previousVtepMac(keys, node({ ...vxlanPeer, [`${P}/backend-data`]: 'garbage' }))).toThrow(RemoteDataError);
  });

  it('reads IP overrides, treating empty as unset', () => {
    expect(overrideIp(node({ [keys.nodePublicIp]: '198.51.100.7' }), keys.nodePublicIp)).toEqual(ip('198.51.100.7'));
    expect(overrideIp(node({ [keys.nodePublicIp]: '' }), keys.nodePublicIp)).toBeUndefined();
    expect(overrideIp(node({}), keys.publicIpOverwrite)).toBeUndefined();
    expect(() => overrideIp(node({ [keys.publicIpOverwrite]: 'host.example' }), keys.publicIpOverwrite)).toThrow(/not an IPv4/);
  });

  it('parses backend-data with upper-case MACs into lower case', () => {
    expect(parseVxlanBackendData('{"VNI":4096,"VtepMAC":"AA:BB:CC:DD:EE:FF"}', 'x')).toEqual({ vni: 4096, vtepMac: 'aa:bb:cc:dd:ee:ff' });
  });
});

// IPv6 only, as flannel's kube.go AcquireLease writes it: a vxlan node without IPv4 has no
// BackendData ("null" is not written) and so no public-ip; host-gw writes its IPv4 pair anyway,
// with the zero ip.IP4 ("0.0.0.0") and null data.
describe('IPv6-only nodes', () => {
  const v6Vxlan = {
    [`${P}/backend-type`]: 'vxlan',
    [`${P}/backend-v6-data`]: '{"VNI":1,"VtepMAC":"12:c6:0a:0b:06:0e"}',
    [`${P}/public-ipv6`]: '2001:db8::12',
    [`${P}/kube-subnet-manager`]: 'true',
  };

  it('publish the IPv6 annotations only (vxlan), or with the IPv4 pair as 0.0.0.0 and null (host-gw)', () => {
    const publicIpv6 = ip('2001:db8::12');
    expect(leaseAnnotations(keys, { publicIpv6, backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac: '12:c6:0a:0b:06:0e' } }, undefined, publicIpv6)).toEqual(v6Vxlan);
    expect(leaseAnnotations(keys, { publicIpv6, backendType: 'host-gw' }, undefined, publicIpv6)).toEqual({
      [`${P}/backend-type`]: 'host-gw',
      [`${P}/backend-data`]: 'null',
      [`${P}/public-ip`]: '0.0.0.0',
      [`${P}/backend-v6-data`]: 'null',
      [`${P}/public-ipv6`]: '2001:db8::12',
      [`${P}/kube-subnet-manager`]: 'true',
    });
  });

  it('are peers with only an IPv6 half: spec.podCIDR IPv6, or an IPv6-only node of a dual-stack cluster', () => {
    for (const n of [node(v6Vxlan, 'fd00:1:0:7::/64', ['fd00:1:0:7::/64']), node(v6Vxlan, '10.244.7.0/24', ['10.244.7.0/24', 'fd00:1:0:7::/64'])]) {
      const lease = nodeToLease(keys, n);
      expect([lease.subnet, lease.publicIp, lease.backendData]).toEqual([undefined, undefined, undefined]);
      expect([lease.ipv6Subnet?.toString(), lease.publicIpv6?.toString(), lease.backendV6Data?.vtepMac]).toEqual(['fd00:1:0:7::/64', '2001:db8::12', '12:c6:0a:0b:06:0e']);
    }
    const hostGw = nodeToLease(keys, node({
      [`${P}/backend-type`]: 'host-gw', [`${P}/backend-data`]: 'null', [`${P}/public-ip`]: '0.0.0.0',
      [`${P}/backend-v6-data`]: 'null', [`${P}/public-ipv6`]: '2001:db8::13', [`${P}/kube-subnet-manager`]: 'true',
    }, 'fd00:1:0:8::/64'));
    expect([hostGw.subnet, hostGw.publicIp, hostGw.ipv6Subnet?.toString(), hostGw.publicIpv6?.toString()]).toEqual([undefined, undefined, 'fd00:1:0:8::/64', '2001:db8::13']);
  });

  it('are refused when no half is left: no public-ipv6, no backend-v6-data, or public-ip 0.0.0.0 on an IPv4 pod CIDR', () => {
    const withoutV6Ip = Object.fromEntries(Object.entries(v6Vxlan).filter(([k]) => k !== `${P}/public-ipv6`));
    expect(() => nodeToLease(keys, node(withoutV6Ip, 'fd00:1:0:7::/64'))).toThrow(`node n1: annotation ${P}/public-ipv6 is missing`);
    const withoutV6Data = Object.fromEntries(Object.entries(v6Vxlan).filter(([k]) => k !== `${P}/backend-v6-data`));
    expect(() => nodeToLease(keys, node(withoutV6Data, 'fd00:1:0:7::/64'))).toThrow(`annotation ${P}/backend-v6-data is missing`);
    expect(() => nodeToLease(keys, node({ ...vxlanPeer, [`${P}/public-ip`]: '0.0.0.0' }, '10.244.9.0/24'))).toThrow(`annotation ${P}/public-ip is 0.0.0.0`);
    expect(() => nodeToLease(keys, node(v6Vxlan, undefined))).toThrow('has no pod CIDR assigned');
  });
});
