// `weftctl policy <namespace>/<pod>`: which NetworkPolicies select a pod and what they allow, from
// the API objects (the same compiler the controller runs), for a pod on any node.
import { CoreV1Api, NetworkingV1Api } from '@kubernetes/client-node';
import { explainPod } from '../policy/explain.js';
import { loadKubeConfig, type KubeConnection } from '../subnet/kubeconfig.js';
import type { Output } from './weftctl-leases.js';

export async function showPolicy(connection: KubeConnection, pod: string, json: boolean, io: Output): Promise<number> {
  const [namespace, name] = pod.split('/');
  if (!namespace || !name) {
    io.err('weftctl: policy needs <namespace>/<pod>\n');
    return 2;
  }
  const kc = loadKubeConfig(connection);
  const core = kc.makeApiClient(CoreV1Api);
  const networking = kc.makeApiClient(NetworkingV1Api);
  const [pods, namespaces, policies] = await Promise.all([
    core.listPodForAllNamespaces(),
    core.listNamespace(),
    networking.listNetworkPolicyForAllNamespaces(),
  ]);
  const explanation = explainPod({
    pods: pods.items,
    namespaces: namespaces.items,
    policies: policies.items,
  }, namespace, name);
  if (json) io.out(`${JSON.stringify(explanation, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`);
  else io.out(`${explanation.text.join('\n')}\n`);
  return explanation.rules === undefined && !explanation.text[0]?.includes('not subject') ? 1 : 0;
}
