// The Kubernetes lease manager with dual-stack Nodes, against a real kube-apiserver v1.20.2 (with the
// IPv6DualStack gate, as a dual-stack cluster runs it): our lease takes the IPv4 and the IPv6 entry of
// spec.podCIDRs and publishes flannel's IPv6 annotations; a restart takes the IPv6 VTEP MAC back; a
// dual-stack peer carries both halves.
import type { LeaseAttrs } from '../../subnet/lease.js';
import { waitFor } from '../lab/netns.js';
import { ip } from '../addresses.js';
import { PeerRecorder, pool, useKubeApiServer } from './lease-test-helpers.js';

const P = 'flannel.alpha.coreos.com';
const pools = {
  pool: pool('10.244.0.0/16'),
  ipv6Pool: pool('fd00:10:244::/56', 'fd00:10:244:1::', 'fd00:10:244:ff::', 64),
};
const attrs: LeaseAttrs = {
  publicIp: ip('192.0.2.1'),
  publicIpv6: ip('2001:db8::1'),
  backendType: 'vxlan',
  backendData: { vni: 1, vtepMac: '12:c6:00:00:00:0a' },
  backendV6Data: { vni: 1, vtepMac: '12:c6:00:00:06:0a' },
};

describe('KubeLeaseManager with dual-stack Nodes', () => {
  const lab = useKubeApiServer(['--feature-gates=IPv6DualStack=true']);
  const { makeManager } = lab;

  it('takes both pod CIDRs, writes exactly flannel\'s annotations of both families, and takes the IPv6 MAC back on restart', async () => {
    await lab.server().createNode('dual-a', ['10.244.1.0/24', 'fd00:10:244:1::/64']);
    const first = await makeManager('dual-a');
    const lease = await first.manager.acquireLease({ ...pools, attrs }, lab.signal);
    expect([lease.subnet?.toString(), lease.ipv6Subnet?.toString()]).toEqual(['10.244.1.0/24', 'fd00:10:244:1::/64']);
    expect((await lab.server().getNode('dual-a')).metadata.annotations).toEqual({
      [`${P}/backend-type`]: 'vxlan',
      [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"12:c6:00:00:00:0a"}',
      [`${P}/public-ip`]: '192.0.2.1',
      [`${P}/backend-v6-data`]: '{"VNI":1,"VtepMAC":"12:c6:00:00:06:0a"}',
      [`${P}/public-ipv6`]: '2001:db8::1',
      [`${P}/kube-subnet-manager`]: 'true',
    });
    await first.manager.close();

    const restarted = await makeManager('dual-a');
    expect(await restarted.manager.readOwnNodeHints(lab.signal)).toEqual({
      previousVtepMac: '12:c6:00:00:00:0a', previousVtepMacV6: '12:c6:00:00:06:0a', nodePublicIp: undefined,
    });
    const again = await restarted.manager.acquireLease({ ...pools, attrs }, lab.signal);
    expect(again.ipv6Subnet?.toString()).toBe('fd00:10:244:1::/64');
    await restarted.manager.close();
  }, 30_000);

  it('sees a dual-stack peer with both halves, and a dual-stack node without IPv6 annotations as IPv4 only', async () => {
    const { manager } = await makeManager('dual-w');
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = manager.watchLeases(recorder, AbortSignal.any([stop.signal, lab.signal]));
    try {
      await lab.server().createNode('dual-p', ['10.244.2.0/24', 'fd00:10:244:2::/64'], {
        [`${P}/backend-type`]: 'vxlan',
        [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"12:c6:00:00:00:0b"}',
        [`${P}/public-ip`]: '192.0.2.2',
        [`${P}/backend-v6-data`]: '{"VNI":1,"VtepMAC":"12:c6:00:00:06:0b"}',
        [`${P}/public-ipv6`]: '2001:db8::2',
        [`${P}/kube-subnet-manager`]: 'true',
      });
      await lab.server().createNode('dual-q', ['10.244.3.0/24', 'fd00:10:244:3::/64'], {
        [`${P}/backend-type`]: 'host-gw',
        [`${P}/backend-data`]: 'null',
        [`${P}/public-ip`]: '192.0.2.3',
        [`${P}/kube-subnet-manager`]: 'true',
      });
      await waitFor('both peers', () => (recorder.peers.size >= 2 ? true : undefined), 10_000);
      const halves = (subnet: string): unknown[] => {
        const peer = [...recorder.peers.values()].find((l) => l.subnet?.toString() === subnet);
        return [peer?.ipv6Subnet?.toString(), peer?.publicIpv6?.toString(), peer?.backendV6Data?.vtepMac];
      };
      expect(halves('10.244.2.0/24')).toEqual(['fd00:10:244:2::/64', '2001:db8::2', '12:c6:00:00:06:0b']);
      expect(halves('10.244.3.0/24')).toEqual([undefined, undefined, undefined]);
    } finally {
      stop.abort();
      await watching;
      await manager.close();
    }
  }, 30_000);
});
