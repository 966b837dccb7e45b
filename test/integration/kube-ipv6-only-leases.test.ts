// The Kubernetes lease manager in an IPv6-only network (net-conf "EnableIPv4": false), against a
// real kube-apiserver v1.20.2: our lease is the IPv6 pod CIDR (spec.podCIDR), we publish exactly the
// annotations flannel's kube.go writes for such a node (vxlan: no public-ip nor backend-data; host-gw:
// public-ip "0.0.0.0" and backend-data null), a restart takes the IPv6 VTEP MAC back, and an
// IPv6-only peer (also one of a dual-stack cluster) is a lease with only an IPv6 half, removed with its Node.
import type { LeaseAttrs } from '../../subnet/lease.js';
import { waitFor } from '../lab/netns.js';
import { ip } from '../addresses.js';
import { PeerRecorder, pool, useKubeApiServer } from './lease-test-helpers.js';

const P = 'flannel.alpha.coreos.com';
const ipv6Pool = pool('fd00:10:244::/56', 'fd00:10:244:1::', 'fd00:10:244:ff::', 64);
const vxlanAttrs: LeaseAttrs = { publicIpv6: ip('2001:db8::1'), backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac: '12:c6:00:00:06:0a' } };
const vxlanAnnotations = {
  [`${P}/backend-type`]: 'vxlan',
  [`${P}/backend-v6-data`]: '{"VNI":1,"VtepMAC":"12:c6:00:00:06:0a"}',
  [`${P}/public-ipv6`]: '2001:db8::1',
  [`${P}/kube-subnet-manager`]: 'true',
};

describe('KubeLeaseManager with IPv6-only Nodes', () => {
  const lab = useKubeApiServer(['--feature-gates=IPv6DualStack=true']);
  const { makeManager } = lab;

  it("takes the IPv6 pod CIDR, writes exactly flannel's IPv6-only annotations, and takes the IPv6 MAC back on restart", async () => {
    await lab.server().createNode('v6-a', 'fd00:10:244:1::/64');
    const first = await makeManager('v6-a');
    const lease = await first.manager.acquireLease({ ipv6Pool, attrs: vxlanAttrs }, lab.signal);
    expect([lease.subnet, lease.publicIp, lease.ipv6Subnet?.toString(), lease.publicIpv6?.toString()]).toEqual([undefined, undefined, 'fd00:10:244:1::/64', '2001:db8::1']);
    expect((await lab.server().getNode('v6-a')).metadata.annotations).toEqual(vxlanAnnotations);
    await first.manager.close();

    const restarted = await makeManager('v6-a');
    expect(await restarted.manager.readOwnNodeHints(lab.signal)).toEqual({ previousVtepMacV6: '12:c6:00:00:06:0a', previousVtepMac: undefined, nodePublicIp: undefined });
    const again = await restarted.manager.acquireLease({ ipv6Pool, attrs: vxlanAttrs }, lab.signal);
    expect(again.ipv6Subnet?.toString()).toBe('fd00:10:244:1::/64');
    expect(restarted.lines.some((l) => l.includes('published lease annotations'))).toBe(false); // nothing to change
    await restarted.manager.close();
  }, 30_000);

  it('takes only the IPv6 entry of a dual-stack Node, and writes the host-gw annotations as flannel does', async () => {
    await lab.server().createNode('v6-b', ['10.244.2.0/24', 'fd00:10:244:2::/64']);
    const { manager } = await makeManager('v6-b');
    const hostGw: LeaseAttrs = { publicIpv6: ip('2001:db8::2'), backendType: 'host-gw' };
    const lease = await manager.acquireLease({ ipv6Pool, attrs: hostGw }, lab.signal);
    expect([lease.subnet, lease.ipv6Subnet?.toString()]).toEqual([undefined, 'fd00:10:244:2::/64']);
    expect((await lab.server().getNode('v6-b')).metadata.annotations).toEqual({
      [`${P}/backend-type`]: 'host-gw',
      [`${P}/backend-data`]: 'null',
      [`${P}/public-ip`]: '0.0.0.0',
      [`${P}/backend-v6-data`]: 'null',
      [`${P}/public-ipv6`]: '2001:db8::2',
      [`${P}/kube-subnet-manager`]: 'true',
    });
    await manager.close();
  }, 30_000);

  it('sees IPv6-only peers with only an IPv6 half, and their removal when their Node is deleted', async () => {
    const { manager } = await makeManager('v6-w');
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = manager.watchLeases(recorder, AbortSignal.any([stop.signal, lab.signal]));
    try {
      // v6-a and v6-b of the tests before are peers already.
      await waitFor('the earlier nodes', () => (recorder.peers.size >= 2 ? true : undefined), 10_000);
      expect(recorder.subnets()).toEqual(['fd00:10:244:1::/64', 'fd00:10:244:2::/64']);
      const peerA = recorder.peers.get('fd00:10:244:1::/64');
      expect([peerA?.subnet, peerA?.publicIp, peerA?.publicIpv6?.toString(), peerA?.backendV6Data?.vtepMac]).toEqual([undefined, undefined, '2001:db8::1', '12:c6:00:00:06:0a']);
      // host-gw's public-ip "0.0.0.0" on a dual-stack Node: no IPv4 half.
      const peerB = recorder.peers.get('fd00:10:244:2::/64');
      expect([peerB?.subnet, peerB?.publicIp, peerB?.publicIpv6?.toString(), peerB?.backendType]).toEqual([undefined, undefined, '2001:db8::2', 'host-gw']);

      await lab.server().createNode('v6-p', 'fd00:10:244:3::/64', { ...vxlanAnnotations, [`${P}/public-ipv6`]: '2001:db8::3' });
      await waitFor('the new peer', () => (recorder.peers.has('fd00:10:244:3::/64') ? true : undefined), 10_000);
      await lab.server().deleteNode('v6-p');
      await waitFor('the removed peer', () => (recorder.peers.has('fd00:10:244:3::/64') ? undefined : true), 10_000);
      const removed = recorder.batches.filter((b) => b.kind === 'removed');
      expect(removed.at(-1)?.leases.map((l) => [l.subnet, l.ipv6Subnet?.toString(), l.publicIpv6?.toString()])).toEqual([[undefined, 'fd00:10:244:3::/64', '2001:db8::3']]);
    } finally {
      stop.abort();
      await watching;
      await manager.close();
    }
  }, 30_000);
});
