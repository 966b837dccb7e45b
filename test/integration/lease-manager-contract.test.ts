// One suite for the LeaseManager interface, run against both implementations with their real
// stores: EtcdLeaseManager on a real etcd, KubeLeaseManager on a real kube-apiserver. Each store
// gets a small driver that plays "another node" the way flanneld would (a lease key in etcd, a Node
// with a pod CIDR and flannel's annotations in Kubernetes).
import { jest } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdLeaseManager } from '../../subnet/etcd-lease-manager.js';
import { KubeLeaseManager } from '../../subnet/kube-lease-manager.js';
import { ClientNodeKubeClient } from '../../subnet/kube-node-client.js';
import { loadKubeConfig } from '../../subnet/kubeconfig.js';
import { leaseKey, leaseSubnet, type LeaseManager } from '../../subnet/lease.js';
import { EtcdServer } from '../lab/etcd-server.js';
import { KubeApiServer } from '../lab/kube-apiserver.js';
import { NetnsScope, waitFor } from '../lab/netns.js';
import { ip } from '../addresses.js';
import { PeerRecorder, flannelV6Value, flannelValue, memoryLogger, pool, vxlan } from './lease-test-helpers.js';

jest.setTimeout(60_000);

const NET_CONF = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
const P = 'flannel.alpha.coreos.com';

/** What the suite needs from a store, beyond the LeaseManager under test. */
interface StoreDriver {
  /** A manager acting as node `name`, whose pod subnet (where the store assigns it) is `subnet`. */
  manager(name: string, subnet: string): Promise<{ manager: LeaseManager; lines: string[] }>;
  /** Another node's lease, as flanneld would publish it (an IPv6 subnet and address: an IPv6-only node's). */
  addPeer(name: string, subnet: string, publicIp: string, mac: string): Promise<void>;
  /** Another node's lease with garbage where the public IP goes. */
  addMalformedPeer(name: string, subnet: string): Promise<void>;
  removePeer(name: string, subnet: string): Promise<void>;
  dispose(): Promise<void>;
}

/** flannel's key for a subnet: an IPv6 one as an IPv6-only lease's. */
const etcdKey = (subnet: string): string => `/coreos.com/network/subnets/${subnet.includes(':') ? '0.0.0.0-0&' : ''}${subnet.replace('/', '-')}`;

async function etcdDriver(): Promise<StoreDriver> {
  const server = await EtcdServer.start();
  await server.etcdctl(['put', '/coreos.com/network/config', NET_CONF]);
  const managers: LeaseManager[] = [];
  return {
    manager: (_name, _subnet) => {
      const { logger, lines } = memoryLogger();
      const manager = new EtcdLeaseManager({ endpoints: [server.endpoint], logger, backoff: { initialMs: 100, maxMs: 1000 } });
      managers.push(manager);
      return Promise.resolve({ manager, lines });
    },
    addPeer: async (_name, subnet, publicIp, mac) => {
      await server.etcdctl(['put', etcdKey(subnet), subnet.includes(':') ? flannelV6Value(publicIp, mac) : flannelValue(publicIp, mac)]);
    },
    addMalformedPeer: async (_name, subnet) => {
      await server.etcdctl(['put', etcdKey(subnet), flannelValue('192.0.2.999', '0a:00:00:00:00:01')]);
    },
    removePeer: async (_name, subnet) => { await server.etcdctl(['del', etcdKey(subnet)]); },
    dispose: async () => {
      await Promise.all(managers.map((m) => m.close()));
      await server.dispose();
    },
  };
}

async function kubeDriver(): Promise<StoreDriver> {
  const scope = new NetnsScope();
  const server = await KubeApiServer.start({ scope });
  const dir = await mkdtemp(join(tmpdir(), 'weft-contract-'));
  const netConfigPath = join(dir, 'net-conf.json');
  await writeFile(netConfigPath, NET_CONF);
  const kubeconfigFile = await server.writeKubeconfig();
  const managers: LeaseManager[] = [];
  // An IPv6-only node (vxlan) writes neither public-ip nor backend-data, as flannel's kube.go.
  const annotations = (publicIp: string, backendData: string): Record<string, string> => ({
    [`${P}/backend-type`]: 'vxlan',
    ...(publicIp.includes(':') ? { [`${P}/backend-v6-data`]: backendData, [`${P}/public-ipv6`]: publicIp } : { [`${P}/backend-data`]: backendData, [`${P}/public-ip`]: publicIp }),
    [`${P}/kube-subnet-manager`]: 'true',
  });
  return {
    manager: async (name, subnet) => {
      // A restarted daemon finds its Node already there.
      if ((await server.request('GET', `/api/v1/nodes/${name}`)).status === 404) await server.createNode(name, subnet);
      const { logger, lines } = memoryLogger();
      const client = new ClientNodeKubeClient(loadKubeConfig({ kubeconfigFile }), { requestTimeoutMs: 5000, watchTimeoutSeconds: 5 });
      const manager = new KubeLeaseManager({ client, nodeName: name, netConfigPath, logger, backoff: { initialMs: 100, maxMs: 1000 } });
      managers.push(manager);
      return { manager, lines };
    },
    addPeer: async (name, subnet, publicIp, mac) => {
      await server.createNode(name, subnet, annotations(publicIp, JSON.stringify({ VNI: 1, VtepMAC: mac })));
    },
    addMalformedPeer: async (name, subnet) => { await server.createNode(name, subnet, annotations('192.0.2.999', '{"VNI":1,"VtepMAC":"0a:00:00:00:00:01"}')); },
    removePeer: async (name) => { await server.deleteNode(name); },
    dispose: async () => {
      await Promise.all(managers.map((m) => m.close()));
      await server.dispose();
      await scope.dispose();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describe.each([
  ['etcd', etcdDriver],
  ['kube', kubeDriver],
])('LeaseManager contract: %s', (_store, makeDriver) => {
  let driver: StoreDriver;
  const controller = new AbortController();
  beforeAll(async () => {
    driver = await makeDriver();
  }, 90_000);
  afterAll(async () => {
    controller.abort();
    await driver.dispose();
  }, 30_000);

  it('reads the network config as stored', async () => {
    const { manager } = await driver.manager('node-c', '10.244.30.0/24');
    expect(JSON.parse(await manager.readNetworkConfig(controller.signal))).toEqual(JSON.parse(NET_CONF));
  });

  it('leases a subnet inside the pool with our attributes, and the same one again after a restart', async () => {
    const first = await driver.manager('node-a', '10.244.10.0/24');
    const lease = await first.manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.10', '0a:00:00:00:0a:0a') }, controller.signal);
    expect(pool().network.containsPrefix(leaseSubnet(lease))).toBe(true);
    expect(lease.subnet?.prefixLength).toBe(24);
    expect(lease.publicIp).toEqual(ip('192.0.2.10'));
    expect(lease.backendData).toEqual({ vni: 1, vtepMac: '0a:00:00:00:0a:0a' });
    await first.manager.close();

    const { manager } = await driver.manager('node-a', '10.244.10.0/24');
    const again = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.10', '0a:00:00:00:0a:0a') }, controller.signal);
    expect(again.subnet?.toString()).toBe(lease.subnet?.toString());
  });

  it('streams peers: a snapshot without our own lease, then additions and removals; malformed peers are skipped', async () => {
    await driver.addPeer('peer-1', '10.244.21.0/24', '192.0.2.21', '0a:00:00:00:15:01');
    await driver.addMalformedPeer('peer-bad', '10.244.23.0/24');
    const { manager, lines } = await driver.manager('node-b', '10.244.20.0/24');
    const own = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.20', '0a:00:00:00:14:01') }, controller.signal);
    const recorder = new PeerRecorder();
    const watching = manager.watchLeases(recorder, controller.signal);

    await waitFor('the snapshot', () => (recorder.peers.has('10.244.21.0/24') ? true : undefined), 10_000);
    expect(recorder.batches[0]?.kind).toBe('snapshot');
    expect(recorder.peers.has(leaseKey(own))).toBe(false);
    expect(recorder.peers.has('10.244.23.0/24')).toBe(false);
    expect(lines.some((l) => l.startsWith('warn:') && l.includes('192.0.2.999'))).toBe(true);
    const peer = recorder.peers.get('10.244.21.0/24');
    expect(peer?.publicIp).toEqual(ip('192.0.2.21'));
    expect(peer?.backendType).toBe('vxlan');
    expect(peer?.backendData).toEqual({ vni: 1, vtepMac: '0a:00:00:00:15:01' });

    await driver.addPeer('peer-2', '10.244.22.0/24', '192.0.2.22', '0a:00:00:00:16:01');
    await waitFor('the added peer', () => (recorder.peers.has('10.244.22.0/24') ? true : undefined), 10_000);
    await driver.removePeer('peer-1', '10.244.21.0/24');
    await waitFor('the removed peer', () => (recorder.peers.has('10.244.21.0/24') ? undefined : true), 10_000);
    expect(recorder.count('added')).toBeGreaterThanOrEqual(1);
    expect(recorder.count('removed')).toBeGreaterThanOrEqual(1);

    await manager.close();
    await watching;
  });

  it('leases an IPv6-only node a subnet of the IPv6 pool, and streams IPv6-only peers without our own', async () => {
    const ipv6Pool = pool('fd00:10:244::/56', 'fd00:10:244:1::', 'fd00:10:244:ff::', 64);
    await driver.addPeer('peer-v6', 'fd00:10:244:41::/64', '2001:db8::41', '0a:00:00:00:29:01');
    const { manager } = await driver.manager('node-v6', 'fd00:10:244:40::/64');
    const attrs = { publicIpv6: ip('2001:db8::40'), backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac: '0a:00:00:00:28:01' } };
    const own = await manager.acquireLease({ ipv6Pool, attrs }, controller.signal);
    expect([own.subnet, own.publicIp, own.publicIpv6, own.backendV6Data]).toEqual([undefined, undefined, ip('2001:db8::40'), attrs.backendV6Data]);
    expect(ipv6Pool.network.containsPrefix(leaseSubnet(own))).toBe(true);
    expect(own.ipv6Subnet?.prefixLength).toBe(64);

    const recorder = new PeerRecorder();
    const watching = manager.watchLeases(recorder, controller.signal);
    await waitFor('the IPv6-only peer', () => (recorder.peers.has('fd00:10:244:41::/64') ? true : undefined), 10_000);
    expect(recorder.peers.has(leaseKey(own))).toBe(false);
    const peer = recorder.peers.get('fd00:10:244:41::/64');
    expect([peer?.subnet, peer?.publicIp, peer?.publicIpv6, peer?.backendV6Data]).toEqual([undefined, undefined, ip('2001:db8::41'), { vni: 1, vtepMac: '0a:00:00:00:29:01' }]);
    await driver.removePeer('peer-v6', 'fd00:10:244:41::/64');
    await waitFor('the removed IPv6-only peer', () => (recorder.peers.has('fd00:10:244:41::/64') ? undefined : true), 10_000);
    await manager.close();
    await watching;
  });
});
