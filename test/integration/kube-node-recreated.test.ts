// Kube mode, own Node deleted and registered again (as kubelet does after `kubectl delete node`): the
// running weftd notices, publishes its annotations and sets NetworkUnavailable=False on the new Node
// object, and the peer programs it again; pods ping across afterwards. flannel publishes only at start, so the node stayed invisible
// to its peers until a restart. A real kube-apiserver, two node namespaces running the real weftd.
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import type { KubeApiServer } from '../lab/kube-apiserver.js';
import { waitFor } from '../lab/netns.js';

const T = 120_000;
const P = 'flannel.alpha.coreos.com';

let lab: LabCluster;
let server: KubeApiServer;
let n1: LabNode;
let n2: LabNode;
const pods: LabPod[] = [];

/** The Node's NetworkUnavailable condition, as the API server has it. */
async function networkCondition(name: string): Promise<{ status: string; reason?: string } | undefined> {
  return (await server.getNode(name)).status?.conditions?.find((c) => c.type === 'NetworkUnavailable');
}

async function routes(node: LabNode): Promise<string[]> {
  const out = await lab.nodeExec(node, 'ip', ['route', 'show', 'dev', 'flannel.1']).catch(() => '');
  return out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
}

beforeAll(async () => {
  lab = await LabCluster.create('r');
  server = await lab.startKubeApiServer('AlwaysAllow');
  n1 = await lab.addNode(1);
  n2 = await lab.addNode(2);
  for (const node of [n1, n2]) {
    await server.createNode(node.name, `10.244.${node.index}.0/24`);
    lab.startDaemon(node);
  }
  for (const node of [n1, n2]) pods.push(await lab.addPod(node));
  const [p1, p2] = pods as [LabPod, LabPod];
  await waitFor('pods to reach each other', async () => ((await lab.ping(p1, p2.ip, 1)) === 1 ? true : undefined), 20_000, 200);
}, T);

afterAll(async () => {
  await lab.dispose();
}, T);

it('publishes its annotations again on its re-created Node, and the peer programs it again', async () => {
  const before = (await server.getNode(n2.name)).metadata.annotations ?? {};
  expect(before[`${P}/kube-subnet-manager`]).toBe('true');
  await waitFor('NetworkUnavailable=False on the first Node', async () => ((await networkCondition(n2.name))?.status === 'False' ? true : undefined), 15_000, 100);

  await server.deleteNode(n2.name);
  await waitFor('n1 to drop n2\'s route', async () => ((await routes(n1)).some((r) => r.startsWith('10.244.2.0/24')) ? undefined : true), 15_000, 100);
  await waitFor('n2 to notice its Node is gone', async () => ((await lab.countLogLines(n2, 'was deleted')) > 0 ? true : undefined), 15_000, 100);

  await server.createNode(n2.name, '10.244.2.0/24'); // kubelet registers again; the pod CIDR is set again
  await waitFor('the annotations back on the new Node', async () => {
    const annotations = (await server.getNode(n2.name)).metadata.annotations ?? {};
    return Object.entries(before).every(([k, v]) => annotations[k] === v) ? true : undefined;
  }, 15_000, 100);
  expect((await server.getNode(n2.name)).metadata.annotations).toEqual(before); // exactly what it published first
  const condition = await waitFor('NetworkUnavailable=False on the new Node', async () => {
    const c = await networkCondition(n2.name);
    return c?.status === 'False' ? c : undefined;
  }, 15_000, 100);
  expect(condition.reason).toBe('FlannelIsUp');

  await waitFor('n1 to route to n2 again', async () => ((await routes(n1)).some((r) => r.startsWith('10.244.2.0/24')) ? true : undefined), 15_000, 100);
  const [p1, p2] = pods as [LabPod, LabPod];
  expect(await lab.ping(p1, p2.ip, 3)).toBe(3);
  expect(await lab.ping(p2, p1.ip, 3)).toBe(3);
  expect(n2.daemon?.exitCode).toBeNull(); // the same process did it, no restart
  expect(await lab.countLogLines(n2, 'publishing them again')).toBeGreaterThan(0);
}, T);
