// Installing weft on a RealCluster exactly as the README tells users: `kubectl apply -f
// manifests/weft.yaml`; the backend is switched by editing the ConfigMap's net-conf.json and
// `kubectl -n kube-weft rollout restart ds/weft`. Nothing in the manifest is patched.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../netns.js';
import { DEFAULT_IPV6_NETWORK } from '../topology.js';
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

/** An edit of net-conf.json (e.g. EnableIPv6 and IPv6Network for dual stack). */
export type NetConfEdit = (netConf: Record<string, unknown>) => Record<string, unknown>;

/** Dual stack on a RealCluster started with dualStack: the IPv6 pod network is the controller-manager's second cluster CIDR. */
export const enableDualStack: NetConfEdit = (netConf) => ({ ...netConf, EnableIPv6: true, IPv6Network: DEFAULT_IPV6_NETWORK });

interface ManifestList {
  items: ({ kind: string } & Partial<ConfigMap>)[];
}

/**
 * `kubectl apply -f manifests/weft.yaml`. With `netConf`, the ConfigMap's net-conf.json is edited
 * before the apply, as a user edits the file first (kubectl turns the YAML into JSON, so no YAML
 * parser is needed here); the first weftd on each node then starts with that config.
 */
export async function applyWeft(cluster: RealCluster, netConf?: NetConfEdit): Promise<void> {
  if (!netConf) {
    await cluster.kubectl(['apply', '-f', WEFT_MANIFEST]);
    return;
  }
  const list = JSON.parse(await cluster.kubectl(['apply', '--dry-run=client', '-o', 'json', '-f', WEFT_MANIFEST])) as ManifestList;
  const configMap = list.items.find((item) => item.kind === 'ConfigMap' && item.data?.['net-conf.json'] !== undefined);
  if (!configMap?.data) throw new Error(`${WEFT_MANIFEST} has no ConfigMap with net-conf.json`);
  configMap.data['net-conf.json'] = editedNetConf(configMap.data['net-conf.json'], netConf);
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(list));
}

function editedNetConf(text: string | undefined, edit: NetConfEdit): string {
  return `${JSON.stringify(edit(JSON.parse(text ?? '{}') as Record<string, unknown>), null, 2)}\n`;
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
export async function editNetConf(cluster: RealCluster, edit: NetConfEdit, timeoutMs = 180_000): Promise<void> {
  const cm = await cluster.kubectlJson<ConfigMap & Record<string, unknown>>(['-n', WEFT_NAMESPACE, 'get', 'configmap', 'kube-weft-cfg']);
  cm.data['net-conf.json'] = editedNetConf(cm.data['net-conf.json'], edit);
  await cluster.kubectl(['replace', '-f', '-'], JSON.stringify(cm));
  await cluster.kubectl(['-n', WEFT_NAMESPACE, 'rollout', 'restart', 'ds/weft']);
  await cluster.kubectl(['-n', WEFT_NAMESPACE, 'rollout', 'status', 'ds/weft', `--timeout=${Math.round(timeoutMs / 1000)}s`]);
  await waitForWeft(cluster, timeoutMs);
}
