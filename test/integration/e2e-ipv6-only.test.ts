// End to end, IPv6 only, etcd mode: an underlay with no IPv4 at all (2001:db8::/64, etcd on
// [2001:db8::1]), three real weftd nodes with `EnableIPv4: false`, vxlan and host-gw, real pods
// with an IPv6 address only, ping6 across nodes. Checked against what flanneld writes and
// programs for an IPv6-only network: subnet.env with only the IPv6 lines, flannel's IPv6-only
// lease key (`0.0.0.0-0&<subnet>`) and value, flannel-v6.1 alone, the IPv6 entries of each peer.
import { jest } from '@jest/globals';
import type { IpFamily } from '../../subnet/ip-address.js';
import { LabCluster, type LabPod } from '../lab/cluster.js';
import { VXLAN_DEVICE, linkDetails, weftRoutes } from '../lab/datapath-entries.js';
import {
  entryMisfits, type Peer,
} from '../lab/peer-expectations.js';
import { DEFAULT_IPV6_NETWORK } from '../lab/topology.js';
import { podMtu, startFamilyLab } from '../lab/family-lab.js';

jest.setTimeout(120_000);

const PREFIX = '/coreos.com/network';
const FAMILIES: readonly IpFamily[] = ['ipv6'];
describe.each([['vxlan'], ['host-gw']] as const)('IPv6 only, three nodes, %s', (backend) => {
  let lab: LabCluster;
  let pods: LabPod[];
  let peers: Peer[];

  beforeAll(async () => {
    lab = await LabCluster.create(backend === 'vxlan' ? 'v' : 'g', { ipv4: false, ipv6: true });
    ({ pods, peers } = await startFamilyLab(lab, backend, FAMILIES));
  });
  afterAll(async () => {
    await lab.dispose();
  });

  it('has no IPv4 address on the underlay', async () => {
    for (const node of lab.nodes) expect(await lab.nodeExec(node, 'ip', ['-4', 'addr', 'show', 'dev', 'eth0'])).toBe('');
  });

  it('leases one IPv6 subnet per node and writes subnet.env with only the IPv6 lines', async () => {
    for (const [i, node] of lab.nodes.entries()) {
      const subnet = peers[i]?.subnets.ipv6;
      expect(subnet?.prefixLength).toBe(64);
      expect(peers[i]?.subnets.ipv4).toBeUndefined();
      expect(await lab.readSubnetEnv(node)).toBe([
        `FLANNEL_IPV6_NETWORK=${DEFAULT_IPV6_NETWORK}`,
        `FLANNEL_IPV6_SUBNET=${subnet?.host(1n)?.toString() ?? ''}/64`,
        `FLANNEL_MTU=${podMtu(backend, FAMILIES)}`,
        'FLANNEL_IPMASQ=false',
        '',
      ].join('\n'));
    }
    expect(new Set(peers.map((p) => p.subnets.ipv6?.toString())).size).toBe(3);
  });

  it("stores each lease under flannel's IPv6-only key with flannel's exact value", async () => {
    const keys = (await lab.etcdctl(['get', '--prefix', `${PREFIX}/subnets/`, '--keys-only'])).split('\n').filter((k) => k !== '');
    // flannel's MakeSubnetKey writes the empty IPv4 half as 0.0.0.0-0; LeaseAttrs.PublicIP (not a pointer) as "0.0.0.0".
    const wanted = peers.map((p) => `${PREFIX}/subnets/0.0.0.0-0&${p.subnets.ipv6?.address.toString() ?? '?'}-64`);
    expect(keys.sort()).toEqual([...wanted].sort());
    for (const [i, peer] of peers.entries()) {
      const value = (await lab.etcdctl(['get', wanted[i] ?? '', '--print-value-only'])).trim();
      const publicIps = `"PublicIP":"0.0.0.0","PublicIPv6":"${peer.publicIp.ipv6 ?? ''}"`;
      expect(value).toBe(backend === 'vxlan'
        ? `{${publicIps},"BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"${peer.macs.ipv6 ?? ''}"}}`
        : `{${publicIps},"BackendType":"host-gw"}`);
    }
  });

  it(backend === 'vxlan' ? 'makes flannel-v6.1 only, as flannel does' : 'makes no VXLAN device', async () => {
    for (const [i, node] of lab.nodes.entries()) {
      expect(await linkDetails(lab, node, VXLAN_DEVICE.ipv4)).toBeUndefined();
      const v6 = await linkDetails(lab, node, VXLAN_DEVICE.ipv6);
      if (backend === 'host-gw') {
        expect(v6).toBeUndefined();
        continue;
      }
      // flanneld asks for 1450; the kernel caps an IPv6 VXLAN device at the underlay's 1500 less 70.
      expect(v6).toMatchObject({ mtu: 1430, up: true, kind: 'vxlan', addresses: [`${peers[i]?.subnets.ipv6?.address.toString() ?? ''}/128`] });
      expect(v6?.info).toMatchObject({ id: 1, port: 8472, learning: false, local6: node.underlayIpv6 });
    }
  });

  it('holds exactly the IPv6 entries of each peer and no IPv4 route of its own', async () => {
    for (const node of lab.nodes) {
      expect(await entryMisfits(lab, node, backend, 'ipv6', peers.filter((p) => p.name !== node.name))).toEqual([]);
      expect(await weftRoutes(lab, node, 'ipv4')).toEqual([]);
    }
  });

  it('lets every pod ping6 every other pod across nodes', async () => {
    expect(pods.map((p) => p.ips.length)).toEqual([1, 1, 1]);
    expect(pods.every((p) => p.ip.includes(':'))).toBe(true);
    const matrix = await lab.connectivityMatrix();
    expect(matrix).toHaveLength(6);
    expect(matrix.filter((r) => !r.ok).map((r) => `${r.from.ip}->${r.ip}`)).toEqual([]);
  });
});
