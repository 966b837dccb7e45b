// End to end, kube mode: a real kube-apiserver (RBAC on) in the underlay namespace, the manifest
// applied with kubectl, weftd on three node namespaces running with the manifest's service-account
// token and nothing else, real pods and traffic; API server outage, Node deletion, bad input and a
// backend switch.
import { jest } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import type { KubeApiServer } from '../lab/kube-apiserver.js';
import { waitFor } from '../lab/netns.js';

jest.setTimeout(180_000);

const MANIFEST = fileURLToPath(new URL('../../../manifests/weft.yaml', import.meta.url));
const P = 'flannel.alpha.coreos.com';

function lines(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

async function routesVia(lab: LabCluster, node: LabNode, dev: string): Promise<string[]> {
  return lines(await lab.nodeExec(node, 'ip', ['route', 'show', 'dev', dev]).catch(() => ''));
}

async function allPodsReachEachOther(lab: LabCluster, timeoutMs = 15_000): Promise<void> {
  await waitFor('every pod to reach every other pod', async () => {
    const matrix = await lab.connectivityMatrix();
    return matrix.every((row) => row.ok) ? true : undefined;
  }, timeoutMs, 200);
}

describe('kube mode against a real kube-apiserver', () => {
  let lab: LabCluster;
  let server: KubeApiServer;
  let weftToken: string;
  const pods: LabPod[] = [];

  beforeAll(async () => {
    lab = await LabCluster.create('k');
    server = await lab.startKubeApiServer('RBAC');
    await server.kubectl(['apply', '-f', MANIFEST]);
    weftToken = await server.serviceAccountToken('kube-weft', 'weft');
    await lab.useKubeToken(weftToken);
    for (let i = 1; i <= 3; i++) {
      const node = await lab.addNode(i);
      await server.createNode(node.name, `10.244.${i}.0/24`);
      lab.startDaemon(node);
    }
    for (const node of lab.nodes) pods.push(await lab.addPod(node));
    await allPodsReachEachOther(lab);
  });
  afterAll(async () => {
    await lab.dispose();
  });

  it('takes each subnet from podCIDR, writes flannel annotations exactly and marks the network available', async () => {
    for (const node of lab.nodes) {
      expect(await lab.readSubnetEnv(node)).toBe(
        `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.${node.index}.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n`,
      );
      const link = JSON.parse(await lab.nodeExec(node, 'ip', ['-j', 'link', 'show', 'flannel.1'])) as { address: string }[];
      const object = await server.getNode(node.name);
      expect(object.metadata.annotations).toEqual({
        [`${P}/backend-type`]: 'vxlan',
        [`${P}/backend-data`]: `{"VNI":1,"VtepMAC":"${link[0]?.address ?? ''}"}`,
        [`${P}/public-ip`]: node.underlayIp,
        [`${P}/kube-subnet-manager`]: 'true',
      });
      expect(object.status?.conditions).toEqual([
        expect.objectContaining({ type: 'NetworkUnavailable', status: 'False' }),
      ]);
      expect(await routesVia(lab, node, 'flannel.1')).toHaveLength(2);
    }
  });

  it('is accepted by the API server as a dry run too', async () => {
    const out = await server.kubectl(['apply', '--dry-run=server', '-f', MANIFEST]);
    expect(out).toContain('daemonset.apps/weft');
    const ds = JSON.parse(await server.kubectl(['get', '-n', 'kube-weft', 'daemonset', 'weft', '-o', 'json'])) as {
      spec: { template: { spec: { containers: { securityContext: { privileged: boolean; capabilities: { add: string[] } } }[] } } };
    };
    const security = ds.spec.template.spec.containers[0]?.securityContext;
    expect(security?.privileged).toBe(false);
    expect(security?.capabilities.add).toEqual(['NET_ADMIN', 'NET_RAW']);
  });

  it("ships the CNI conflist in the ConfigMap exactly as cni/10-weft.conflist", async () => {
    const cm = JSON.parse(await server.kubectl(['get', '-n', 'kube-weft', 'configmap', 'kube-weft-cfg', '-o', 'json'])) as {
      data: Record<string, string>;
    };
    const bundled = await readFile(fileURLToPath(new URL('../../../cni/10-weft.conflist', import.meta.url)), 'utf8');
    expect(JSON.parse(cm.data['cni-conf.json'] ?? '')).toEqual(JSON.parse(bundled));
    expect(JSON.parse(cm.data['net-conf.json'] ?? '')).toEqual({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } });
  });

  it("refuses the service account what weftd does not need", async () => {
    const asWeft = { token: weftToken, contentType: 'application/merge-patch+json' };
    const patchSpec = await server.request('PATCH', '/api/v1/nodes/n2', { spec: { unschedulable: true } }, asWeft);
    expect(patchSpec.status).toBe(403);
    const patchOtherMetadata = await server.request('PATCH', '/api/v1/nodes/n2', { metadata: { labels: { x: 'y' } } }, asWeft);
    expect(patchOtherMetadata.status).toBe(403);
    expect((await server.request('DELETE', '/api/v1/nodes/n2', undefined, { token: weftToken })).status).toBe(403);
    expect((await server.request('GET', '/api/v1/configmaps', undefined, { token: weftToken })).status).toBe(403);
    expect((await server.request('GET', '/api/v1/namespaces/kube-weft/secrets', undefined, { token: weftToken })).status).toBe(403);
    // What it does use is allowed.
    expect((await server.request('GET', '/api/v1/nodes', undefined, { token: weftToken })).status).toBe(200);
  });

  it('lists and watches the Node leases with weftctl in kube mode', async () => {
    const weftctl = fileURLToPath(new URL('../../cmd/weftctl.js', import.meta.url));
    const kubeconfig = await server.writeKubeconfig();
    const store = ['--kube-subnet-mgr', '--kubeconfig-file', kubeconfig];
    const { stdout } = await promisify(execFile)(process.execPath, [weftctl, 'leases', 'list', '--json', ...store]);
    const leases = JSON.parse(stdout) as { node: string; subnet: string; backendType: string }[];
    expect(leases.map((l) => `${l.node} ${l.subnet} ${l.backendType}`).sort()).toEqual([
      'n1 10.244.1.0/24 vxlan', 'n2 10.244.2.0/24 vxlan', 'n3 10.244.3.0/24 vxlan',
    ]);

    // Watch: the three existing leases come first, then what happens while it runs.
    const watch = spawn(process.execPath, [weftctl, 'leases', 'watch', '--json', '--timeout', '30', ...store]);
    let output = '';
    watch.stdout.on('data', (chunk: Buffer) => { output += chunk.toString(); });
    const changes = (): { type: string; lease: { subnet: string } }[] =>
      output.split('\n').filter((l) => l.trim() !== '').map((line) => JSON.parse(line) as { type: string; lease: { subnet: string } });
    try {
      await waitFor('the existing leases', () => (changes().length >= 3 ? true : undefined), 20_000, 100);
      await server.createNode('watched', '10.244.60.0/24', {
        [`${P}/kube-subnet-manager`]: 'true', [`${P}/backend-type`]: 'host-gw', [`${P}/public-ip`]: '192.0.2.60',
      });
      await waitFor('the added lease', () => (changes().length >= 4 ? true : undefined), 10_000, 100);
      await server.deleteNode('watched');
      await waitFor('the removed lease', () => (changes().length >= 5 ? true : undefined), 10_000, 100);
      expect(changes().slice(3).map((c) => `${c.type} ${c.lease.subnet}`)).toEqual(['added 10.244.60.0/24', 'removed 10.244.60.0/24']);
    } finally {
      const exited = new Promise((resolve) => watch.once('exit', resolve));
      watch.kill('SIGINT');
      await exited;
    }
  });

  it('logs and skips a peer Node with malformed annotations while serving the others', async () => {
    await server.createNode('ghost', '10.244.50.0/24', {
      [`${P}/kube-subnet-manager`]: 'true',
      [`${P}/backend-type`]: 'vxlan',
      [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":',
      [`${P}/public-ip`]: '192.0.2.77',
    });
    const n1 = lab.nodes[0] as LabNode;
    await waitFor('a warning naming the ghost node', async () => ((await lab.countLogLines(n1, 'ghost')) > 0 ? true : undefined), 10_000, 100);
    expect(await routesVia(lab, n1, 'flannel.1')).toHaveLength(2);
    await server.annotateNode('ghost', { [`${P}/public-ip`]: 'not-an-ip', [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"zz"}' });
    await allPodsReachEachOther(lab);
    await server.deleteNode('ghost');
  });

  it('waits with a clear message while a node has no podCIDR, and refuses one outside Network', async () => {
    const n4 = await lab.addNode(4);
    await server.createNode(n4.name);
    lab.startDaemon(n4);
    await waitFor('the no-podCIDR message', async () =>
      ((await lab.countLogLines(n4, 'pod cidr not assigned')) > 0 ? true : undefined), 15_000, 100);
    expect(n4.daemon?.exitCode).toBeNull();
    await lab.stopDaemon(n4);
    await server.deleteNode(n4.name);

    await server.createNode(n4.name, '10.99.4.0/24');
    const daemon = lab.startDaemon(n4);
    const code = await new Promise<number | null>((resolve) => daemon.once('exit', (c) => { resolve(c); }));
    expect(code).toBe(1);
    const log = await readFile(n4.logFile, 'utf8');
    expect(log).toContain('outside Network 10.244.0.0/16');
    await server.deleteNode(n4.name);
  });

  it('keeps pods pinging through a 20 s API server outage, then picks up a node added afterwards', async () => {
    const [p1, p2] = pods as [LabPod, LabPod];
    const pinging = lab.ping(p1, p2.ip, 110, 0.2, 1); // ~22 s of pings across the outage
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, 20_000));
    await server.restart();
    expect(await pinging).toBeGreaterThanOrEqual(108);

    const n5 = await lab.addNode(5);
    await server.createNode(n5.name, '10.244.5.0/24');
    lab.startDaemon(n5);
    const p5 = await lab.addPod(n5);
    pods.push(p5);
    await waitFor('node 1 to route to the new node', async () =>
      ((await routesVia(lab, lab.nodes[0] as LabNode, 'flannel.1')).some((r) => r.startsWith('10.244.5.0/24')) ? true : undefined), 30_000, 200);
    expect(await lab.ping(p1, p5.ip, 3)).toBeGreaterThan(0);
  });

  it("removes a deleted Node's routes on the others", async () => {
    const n5 = lab.nodes.find((n) => n.name === 'n5') as LabNode;
    await lab.stopDaemon(n5);
    await server.deleteNode(n5.name);
    for (const node of lab.nodes.slice(0, 3)) {
      await waitFor(`${node.name} to drop 10.244.5.0/24`, async () =>
        ((await routesVia(lab, node, 'flannel.1')).some((r) => r.startsWith('10.244.5.0/24')) ? undefined : true), 10_000, 100);
    }
  });

  it('switches the backend from vxlan to host-gw when net-conf.json changes and daemons restart', async () => {
    const running = lab.nodes.slice(0, 3);
    await lab.writeKubeNetConf({ Network: '10.244.0.0/16', Backend: { Type: 'host-gw' } });
    for (const node of running) {
      await lab.stopDaemon(node);
      await writeFile(join(node.subnetFile), ''); // so waitForSubnet sees the new file
      lab.startDaemon(node);
    }
    for (const node of running) {
      await lab.waitForSubnet(node);
      await waitFor(`${node.name} on host-gw`, async () => {
        const vxlan = lines(await lab.nodeExec(node, 'ip', ['-d', 'link', 'show', 'type', 'vxlan']));
        const gwRoutes = lines(await lab.nodeExec(node, 'ip', ['route', 'show', 'proto', '87']));
        return vxlan.length === 0 && gwRoutes.length === 2 ? true : undefined;
      }, 15_000, 200);
      expect(await lab.readSubnetEnv(node)).toContain('FLANNEL_MTU=1500');
      expect((await server.getNode(node.name)).metadata.annotations?.[`${P}/backend-type`]).toBe('host-gw');
    }
    const matrix = await lab.connectivityMatrix();
    const reachable = matrix.filter((r) => r.from.node.index <= 3 && r.to.node.index <= 3);
    expect(reachable.filter((r) => !r.ok).map((r) => `${r.from.ip}->${r.to.ip}`)).toEqual([]);
  });
});
