// The Kubernetes lease manager against a real kube-apiserver v1.20.2 and a real etcd.
import { ConfigError } from '../../subnet/errors.js';
import { resolveNodeName } from '../../subnet/kube-node-name.js';
import type { SubnetPool } from '../../subnet/lease.js';
import { KubeApiServer } from '../lab/kube-apiserver.js';
import { NetnsScope, waitFor } from '../lab/netns.js';
import { makeKubeManager, PeerRecorder } from './lease-test-helpers.js';
import { ClientNodeKubeClient } from '../../subnet/kube-node-client.js';
import { loadKubeConfig } from '../../subnet/kubeconfig.js';
import type { IpAddress } from '../../subnet/ip-address.js';
import { ip, net } from '../addresses.js';

const P = 'flannel.alpha.coreos.com';
const pool: SubnetPool = {
  network: net('10.244.0.0/16'),
  subnetLen: 24,
  subnetMin: ip('10.244.1.0'),
  subnetMax: ip('10.244.255.0'),
};
const vxlanAttrs = (publicIp: string, mac: string): { publicIp: IpAddress; backendType: string; backendData: { vni: number; vtepMac: string } } => ({
  publicIp: ip(publicIp),
  backendType: 'vxlan',
  backendData: { vni: 1, vtepMac: mac },
});
const peerAnnotations = (publicIp: string, mac: string): Record<string, string> => ({
  [`${P}/backend-type`]: 'vxlan',
  [`${P}/backend-data`]: JSON.stringify({ VNI: 1, VtepMAC: mac }),
  [`${P}/public-ip`]: publicIp,
  [`${P}/kube-subnet-manager`]: 'true',
});

const makeManager = makeKubeManager; // the lab's API server, as a node (or as a token's user)

describe('KubeLeaseManager against kube-apiserver (AlwaysAllow)', () => {
  const scope = new NetnsScope();
  let server: KubeApiServer;
  const controller = new AbortController();

  beforeAll(async () => {
    server = await KubeApiServer.start({ scope });
  }, 90_000);

  afterAll(async () => {
    controller.abort();
    await server.dispose();
    await scope.dispose();
  }, 30_000);

  it('takes the subnet from spec.podCIDR and writes exactly flannel annotations', async () => {
    await server.createNode('node-a', '10.244.1.0/24');
    const { manager } = await makeManager(server, 'node-a');
    const lease = await manager.acquireLease({ pool, attrs: vxlanAttrs('192.0.2.1', '12:c6:00:00:00:0a') }, controller.signal);
    expect(lease.subnet?.toString()).toBe('10.244.1.0/24');

    const node = await server.getNode('node-a');
    expect(node.metadata.annotations).toEqual({
      [`${P}/backend-type`]: 'vxlan',
      [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"12:c6:00:00:00:0a"}',
      [`${P}/public-ip`]: '192.0.2.1',
      [`${P}/kube-subnet-manager`]: 'true',
    });
    // A restart recovers the MAC from the node.
    expect(await manager.readOwnNodeHints(controller.signal)).toEqual({ previousVtepMac: '12:c6:00:00:00:0a', nodePublicIp: undefined });

    await manager.markNetworkAvailable(controller.signal);
    const after = await server.getNode('node-a');
    expect(after.status?.conditions).toEqual([
      expect.objectContaining({ type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp' }),
    ]);
    await manager.close();
  }, 30_000);

  it('publishes public-ip-overwrite and reads node-public-ip', async () => {
    await server.createNode('node-o', '10.244.2.0/24', {
      [`${P}/public-ip-overwrite`]: '198.51.100.2',
      [`${P}/node-public-ip`]: '198.51.100.3',
    });
    const { manager } = await makeManager(server, 'node-o');
    expect((await manager.readOwnNodeHints(controller.signal)).nodePublicIp).toEqual(ip('198.51.100.3'));
    await manager.acquireLease({ pool, attrs: { publicIp: ip('192.0.2.2'), backendType: 'host-gw' } }, controller.signal);
    const node = await server.getNode('node-o');
    expect(node.metadata.annotations?.[`${P}/public-ip`]).toBe('198.51.100.2');
    expect(node.metadata.annotations?.[`${P}/backend-data`]).toBe('null');
    await manager.close();
  }, 30_000);

  it('sees peers appear and disappear as Node objects are added and deleted, skipping malformed ones', async () => {
    const { manager, lines } = await makeManager(server, 'node-w');
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = manager.watchLeases(recorder, AbortSignal.any([stop.signal, controller.signal]));
    await waitFor('the first snapshot', () => (recorder.batches.length > 0 ? true : undefined), 10_000);
    // node-a from the first test is a managed peer; node-o too.
    expect(recorder.subnets()).toEqual(['10.244.1.0/24', '10.244.2.0/24']);

    await server.createNode('peer-b', '10.244.11.0/24', peerAnnotations('192.0.2.11', '12:c6:00:00:00:0b'));
    await server.createNode('plain-c', '10.244.12.0/24');
    await server.createNode('bad-d', '10.244.13.0/24', { ...peerAnnotations('192.0.2.13', '12:c6:00:00:00:0d'), [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"not-a-mac"}' });
    await server.createNode('peer-e', '10.244.14.0/24', peerAnnotations('192.0.2.14', '12:c6:00:00:00:0e'));
    await waitFor('peer-e', () => (recorder.peers.has('10.244.14.0/24') ? true : undefined), 10_000);
    expect(recorder.subnets()).toEqual(['10.244.1.0/24', '10.244.11.0/24', '10.244.14.0/24', '10.244.2.0/24']);
    expect(recorder.peers.get('10.244.11.0/24')).toMatchObject({ publicIp: ip('192.0.2.11'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '12:c6:00:00:00:0b' } });
    expect(lines.filter((l) => l.includes('skipping peer: node bad-d: backend-data VtepMAC "not-a-mac" is not a MAC address'))).toHaveLength(1);

    // Fixing the bad node's annotation makes it a peer; deleting a node removes its lease.
    await server.annotateNode('bad-d', { [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"12:c6:00:00:00:0d"}' });
    await waitFor('bad-d fixed', () => (recorder.peers.has('10.244.13.0/24') ? true : undefined), 10_000);
    await server.deleteNode('peer-b');
    await waitFor('peer-b removed', () => (recorder.peers.has('10.244.11.0/24') ? undefined : true), 10_000);
    // Dropping the kube-subnet-manager mark also removes the lease.
    await server.annotateNode('peer-e', { [`${P}/kube-subnet-manager`]: null });
    await waitFor('peer-e unmarked', () => (recorder.peers.has('10.244.14.0/24') ? undefined : true), 10_000);
    expect(recorder.subnets()).toEqual(['10.244.1.0/24', '10.244.13.0/24', '10.244.2.0/24']);
    // The server ends each watch after 5 s: we must have re-watched without listing again.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    expect(recorder.batches.filter((b) => b.kind === 'snapshot')).toHaveLength(1);
    expect(lines.filter((l) => l.startsWith('warn:'))).toHaveLength(1);

    stop.abort();
    await watching;
    await server.deleteNode('bad-d');
    await server.deleteNode('peer-e');
    await server.deleteNode('plain-c');
  }, 60_000);

  it('lists Nodes in pages and keeps of each only the fields the lease layer reads', async () => {
    // A Node as kubelet registers it carries much more: images, nodeInfo, full conditions.
    const status = {
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' }],
      images: [{ names: ['registry.example/pause:3.2'], sizeBytes: 683317 }],
      nodeInfo: { kubeletVersion: 'v1.20.2', osImage: 'lab' },
    };
    await server.requestOk('POST', '/api/v1/nodes', {
      apiVersion: 'v1', kind: 'Node', metadata: { name: 'full-f', annotations: peerAnnotations('192.0.2.15', '12:c6:00:00:00:0f'), labels: { a: 'b' } },
      spec: { podCIDR: '10.244.15.0/24', podCIDRs: ['10.244.15.0/24'] }, status,
    });
    const plain = ['page-1', 'page-2', 'page-3', 'page-4', 'page-5'];
    for (const name of plain) await server.createNode(name);
    const kubeconfigFile = await server.writeKubeconfig();
    const client = new ClientNodeKubeClient(loadKubeConfig({ kubeconfigFile }), { requestTimeoutMs: 5000, listPageSize: 2 });
    const whole = (await server.requestOk('GET', '/api/v1/nodes')) as { items: { metadata: { name: string } }[] };
    expect(whole.items.length).toBeGreaterThan(4); // three pages of two at least

    const list = await client.listNodes(controller.signal);
    expect(list.nodes.map((n) => n.metadata?.name)).toEqual(whole.items.map((n) => n.metadata.name));
    expect(Number(list.resourceVersion)).toBeGreaterThan(0);
    const full = list.nodes.find((n) => n.metadata?.name === 'full-f');
    expect(full?.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect({ ...full, metadata: { ...full?.metadata, resourceVersion: 'rv' } }).toEqual({
      metadata: { name: 'full-f', annotations: peerAnnotations('192.0.2.15', '12:c6:00:00:00:0f'), resourceVersion: 'rv' },
      spec: { podCIDR: '10.244.15.0/24', podCIDRs: ['10.244.15.0/24'] },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
    for (const name of ['full-f', ...plain]) await server.deleteNode(name);
  }, 30_000);

  it('waits with "pod cidr not assigned" until a pod CIDR is set', async () => {
    await server.createNode('node-late');
    const { manager, lines } = await makeManager(server, 'node-late');
    const pending = manager.acquireLease({ pool, attrs: vxlanAttrs('192.0.2.5', '12:c6:00:00:00:05') }, controller.signal);
    await waitFor('two warnings', () => (lines.filter((l) => l.includes('pod cidr not assigned')).length >= 2 ? true : undefined), 10_000);
    expect(lines[0]).toMatch(/^warn: node node-late pod cidr not assigned; waiting for kube-controller-manager/);
    // What kube-controller-manager does: set spec.podCIDR once.
    await server.requestOk('PATCH', '/api/v1/nodes/node-late', { spec: { podCIDR: '10.244.5.0/24', podCIDRs: ['10.244.5.0/24'] } }, { contentType: 'application/merge-patch+json' });
    const lease = await pending;
    expect(lease.subnet?.toString()).toBe('10.244.5.0/24');
    await manager.close();
  }, 30_000);

  it('refuses a pod CIDR outside Network with a clear ConfigError', async () => {
    await server.createNode('node-far', '10.9.0.0/24');
    const { manager } = await makeManager(server, 'node-far');
    const result = manager.acquireLease({ pool, attrs: vxlanAttrs('192.0.2.6', '12:c6:00:00:00:06') }, controller.signal);
    await expect(result).rejects.toBeInstanceOf(ConfigError);
    await expect(result).rejects.toThrow('Network: node node-far has pod CIDR 10.9.0.0/24, outside Network 10.244.0.0/16');
    const node = await server.getNode('node-far');
    expect(node.metadata.annotations ?? {}).toEqual({});
    await manager.close();
  }, 30_000);

  it('resumes the watch after the API server is down for 20 s and sees nodes added afterwards', async () => {
    const { manager, lines } = await makeManager(server, 'node-a');
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = manager.watchLeases(recorder, AbortSignal.any([stop.signal, controller.signal]));
    await waitFor('the first snapshot', () => (recorder.batches.length > 0 ? true : undefined), 10_000);
    const before = recorder.subnets();

    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    expect(lines.some((l) => l.startsWith('warn: node watch failed'))).toBe(true);
    await server.restart();
    await server.createNode('peer-after', '10.244.40.0/24', peerAnnotations('192.0.2.40', '12:c6:00:00:00:40'));
    await waitFor('peer-after', () => (recorder.peers.has('10.244.40.0/24') ? true : undefined), 15_000);
    expect(recorder.subnets()).toEqual([...before, '10.244.40.0/24'].sort());
    // The server kept its revision history, so the watch resumed instead of listing again.
    expect(recorder.batches.filter((b) => b.kind === 'snapshot')).toHaveLength(1);

    stop.abort();
    await watching;
    await manager.close();
  }, 90_000);
  it('lists again (one new snapshot) when its resourceVersion is too old after a restart (410)', async () => {
    const { manager, lines } = await makeManager(server, 'node-a');
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = manager.watchLeases(recorder, AbortSignal.any([stop.signal, controller.signal]));
    await waitFor('the first snapshot', () => (recorder.batches.length > 0 ? true : undefined), 10_000);
    const before = recorder.subnets();

    // While our server is down, a second API server on the same etcd changes nodes: when ours comes
    // back, its watch cache starts after our resourceVersion, so the resumed watch gets 410.
    await server.stop();
    const other = await KubeApiServer.start({ scope, etcdServers: server.etcdServers });
    try {
      await other.createNode('peer-while-down', '10.244.50.0/24', peerAnnotations('192.0.2.50', '12:c6:00:00:00:50'));
      await other.deleteNode('peer-after');
    } finally {
      await other.dispose();
    }
    await server.restart();
    const expected = [...before.filter((s) => s !== '10.244.40.0/24'), '10.244.50.0/24'].sort();
    await waitFor('the changes made while down', () => (recorder.subnets().join() === expected.join() ? true : undefined), 30_000);
    expect(recorder.batches.filter((b) => b.kind === 'snapshot')).toHaveLength(2);
    expect(lines.some((l) => /^info: node watch expired \(watch nodes: too old resource version/.test(l))).toBe(true);

    stop.abort();
    await watching;
    await manager.close();
  }, 120_000);
});

describe('KubeLeaseManager with RBAC, API server inside a namespace', () => {
  const scope = new NetnsScope();
  let server: KubeApiServer;
  const controller = new AbortController();

  beforeAll(async () => {
    const ns = await scope.createNamespace('kapi');
    // An address of the namespace's own (veth pair inside it; the host's links are untouched).
    await scope.ipBatch(ns, ['link add kapi0 type veth peer name kapi1', 'addr add 192.0.2.200/24 dev kapi0', 'link set kapi0 up', 'link set kapi1 up']);
    server = await KubeApiServer.start({ scope, ns, bindAddress: '192.0.2.200', authorizationMode: 'RBAC' });
  }, 90_000);

  afterAll(async () => {
    controller.abort();
    await server.dispose();
    await scope.dispose();
  }, 30_000);

  it('works with only flannel\'s permissions and cannot change another node\'s spec', async () => {
    expect(server.url).toBe('https://192.0.2.200:6443');
    await server.bindClusterRole(
      'weft-test',
      [
        { apiGroups: [''], resources: ['pods'], verbs: ['get'] },
        { apiGroups: [''], resources: ['nodes'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: [''], resources: ['nodes/status'], verbs: ['patch'] },
      ],
      { namespace: 'kube-system', name: 'weft' },
    );
    const token = await server.serviceAccountToken('kube-system', 'weft');
    await server.createNode('rbac-a', '10.244.21.0/24');
    await server.createNode('rbac-b', '10.244.22.0/24', peerAnnotations('192.0.2.22', '12:c6:00:00:00:22'));

    // The node name from the pod, as with POD_NAME/POD_NAMESPACE.
    await server.request('POST', '/api/v1/namespaces/kube-system/serviceaccounts', { metadata: { name: 'default' } });
    await server.requestOk('POST', '/api/v1/namespaces/kube-system/pods', {
      metadata: { name: 'weft-xyz' },
      spec: { nodeName: 'rbac-a', automountServiceAccountToken: false, containers: [{ name: 'weft', image: 'weft:test' }] },
    });
    const { manager, client, lines } = await makeManager(server, 'rbac-a', token);
    expect(await resolveNodeName({ podName: 'weft-xyz', podNamespace: 'kube-system' }, client, controller.signal)).toBe('rbac-a');

    const lease = await manager.acquireLease({ pool, attrs: vxlanAttrs('192.0.2.21', '12:c6:00:00:00:21') }, controller.signal);
    expect(lease.subnet?.toString()).toBe('10.244.21.0/24');
    await manager.markNetworkAvailable(controller.signal);
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = manager.watchLeases(recorder, AbortSignal.any([stop.signal, controller.signal]));
    await waitFor('rbac-b as a peer', () => (recorder.peers.has('10.244.22.0/24') ? true : undefined), 10_000);
    expect(recorder.subnets()).toEqual(['10.244.22.0/24']);
    expect(lines.filter((l) => l.startsWith('warn:'))).toEqual([]);

    // What the role does not allow is refused.
    const specPatch = await server.request('PATCH', '/api/v1/nodes/rbac-b', { spec: { unschedulable: true } }, { token, contentType: 'application/strategic-merge-patch+json' });
    expect(specPatch.status).toBe(403);
    expect(JSON.stringify(specPatch.body)).toContain('cannot patch resource \\"nodes\\"');
    const deleteNode = await server.request('DELETE', '/api/v1/nodes/rbac-b', undefined, { token });
    expect(deleteNode.status).toBe(403);
    const secrets = await server.request('GET', '/api/v1/namespaces/kube-system/secrets', undefined, { token });
    expect(secrets.status).toBe(403);

    stop.abort();
    await watching;
    await manager.close();
  }, 60_000);
});
