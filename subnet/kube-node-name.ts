// Which Node is ours in kube mode, by flannel's rule.
import { ConfigError } from './errors.js';
import type { KubeNodeClient } from './kube-node-client.js';

export interface NodeNameSources {
  nodeName?: string | undefined;
  podName?: string | undefined;
  podNamespace?: string | undefined;
}

/**
 * flannel's rule: NODE_NAME when set, else the spec.nodeName of the pod POD_NAMESPACE/POD_NAME.
 * The cmd layer passes the values; nothing here reads the environment.
 */
export async function resolveNodeName(
  env: NodeNameSources,
  client: Pick<KubeNodeClient, 'getPod'>,
  signal: AbortSignal,
): Promise<string> {
  if (env.nodeName) return env.nodeName;
  if (!env.podName || !env.podNamespace) {
    throw new ConfigError(
      'NODE_NAME',
      'is not set, and neither are POD_NAME and POD_NAMESPACE; set NODE_NAME from spec.nodeName with the downward API',
    );
  }
  const pod = await client.getPod(env.podNamespace, env.podName, signal);
  const name = pod.spec?.nodeName;
  if (!name) {
    throw new ConfigError('POD_NAME', `pod ${env.podNamespace}/${env.podName} has no spec.nodeName (not scheduled yet?)`);
  }
  return name;
}
