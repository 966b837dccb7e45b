// Installing weft on a RealCluster exactly as the README tells users: `kubectl apply -f
// manifests/weft.yaml`; the backend is switched by editing the ConfigMap's net-conf.json and
// `kubectl -n kube-weft rollout restart ds/weft`. Nothing in the manifest is patched.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../netns.js';
import type { RealCluster } from './real-cluster.js';

const repoRoot = fileURLToPath(new URL('../../../..', import.meta.url));
export const WEFT_MANIFEST = join(repoRoot, 'manifests', 'weft.yaml');
export const WEFT_NAMESPACE = 'kube-weft';

interface ConfigMap {
  data: Record<string, string>;
}

interface DaemonSetStatus {
  metadata: { generation: number };
  status: { desiredNumberScheduled: number; numberReady: number; updatedNumberScheduled?: number; numberAvailable?: number; observedGeneration?: number };
}

interface NodeList {
  items: { metadata: { name: string }; status: { conditions?: { type: string; status: string }[] } }[];
}

export async function applyWeft(cluster: RealCluster, manifest = WEFT_MANIFEST): Promise<void> {
  await cluster.kubectl(['apply', '-f', manifest]);
}

/** Condition `type` of every node, by node name ("True", "False", or undefined when not reported). */
export async function nodeConditions(cluster: RealCluster, type: string): Promise<Map<string, string | undefined>> {
  const list = await cluster.kubectlJson<NodeList>(['get', 'nodes']);
  return new Map(list.items.map((n) => [n.metadata.name, n.status.conditions?.find((c) => c.type === type)?.status]));
}

/** Waits until the weft DaemonSet is fully rolled out on every node and every node is Ready. */
export async function waitForWeft(cluster: RealCluster, timeoutMs = 180_000): Promise<void> {
  await waitFor('the weft DaemonSet to be ready on every node', async () => {
    const ds = await cluster.kubectlJson<DaemonSetStatus>(['-n', WEFT_NAMESPACE, 'get', 'ds', 'weft']);
    const s = ds.status;
    const done = s.observedGeneration === ds.metadata.generation && s.desiredNumberScheduled === cluster.nodes.length &&
      s.numberReady === s.desiredNumberScheduled && s.updatedNumberScheduled === s.desiredNumberScheduled &&
      s.numberAvailable === s.desiredNumberScheduled;
    return done ? true : undefined;
  }, timeoutMs, 1000);
  await waitFor('every node to be Ready', async () => {
    const ready = await nodeConditions(cluster, 'Ready');
    return cluster.nodeNames.every((n) => ready.get(n) === 'True') ? true : undefined;
  }, timeoutMs, 1000);
}

/** The backend type in the ConfigMap's net-conf.json. */
export async function currentBackend(cluster: RealCluster): Promise<string> {
  const cm = await cluster.kubectlJson<ConfigMap>(['-n', WEFT_NAMESPACE, 'get', 'configmap', 'kube-weft-cfg']);
  const netConf = JSON.parse(cm.data['net-conf.json'] ?? '{}') as { Backend?: { Type?: string } };
  return netConf.Backend?.Type ?? '';
}

/** Edits net-conf.json's Backend.Type in the ConfigMap, restarts the DaemonSet and waits for the rollout. */
export async function switchBackend(cluster: RealCluster, type: 'vxlan' | 'host-gw', timeoutMs = 180_000): Promise<void> {
  await editNetConf(cluster, (netConf) => ({ ...netConf, Backend: { ...(netConf['Backend'] as object | undefined), Type: type } }), timeoutMs);
}

/**
 * Edits net-conf.json in the ConfigMap (e.g. EnableIPv6 and IPv6Network for dual stack), then
 * `rollout restart` of the DaemonSet, as the README tells users; waits for the rollout.
 */
export async function editNetConf(
  cluster: RealCluster,
  edit: (netConf: Record<string, unknown>) => Record<string, unknown>,
  timeoutMs = 180_000,
): Promise<void> {
  const cm = await cluster.kubectlJson<ConfigMap & Record<string, unknown>>(['-n', WEFT_NAMESPACE, 'get', 'configmap', 'kube-weft-cfg']);
  const netConf = edit(JSON.parse(cm.data['net-conf.json'] ?? '{}') as Record<string, unknown>);
  cm.data['net-conf.json'] = `${JSON.stringify(netConf, null, 2)}\n`;
  await cluster.kubectl(['replace', '-f', '-'], JSON.stringify(cm));
  await cluster.kubectl(['-n', WEFT_NAMESPACE, 'rollout', 'restart', 'ds/weft']);
  await cluster.kubectl(['-n', WEFT_NAMESPACE, 'rollout', 'status', 'ds/weft', `--timeout=${Math.round(timeoutMs / 1000)}s`]);
  await waitForWeft(cluster, timeoutMs);
}
