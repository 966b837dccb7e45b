// Where the Kubernetes API is and how to reach it, by flannel's rules (--kubeconfig-file,
// --kube-api-url, or the pod's service account): shared by weftd's kube lease manager, the policy
// daemon and weftctl.
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from './errors.js';

export interface KubeConnection {
  kubeconfigFile?: string | undefined;
  /** Overrides the server of the kubeconfig (or, with no kubeconfig, is used without credentials). */
  apiUrl?: string | undefined;
}

/**
 * flannel's rules: a kubeconfig file, else --kube-api-url alone, else the in-cluster service account.
 * Anything that cannot work is a ConfigError naming the flag, at start (not a retry loop later).
 */
export function loadKubeConfig(conn: KubeConnection): KubeConfig {
  const kc = new KubeConfig();
  if (conn.kubeconfigFile) {
    loadKubeconfigFile(kc, conn.kubeconfigFile);
  } else if (conn.apiUrl) {
    kc.loadFromClusterAndUser({ name: 'weft', server: conn.apiUrl, skipTLSVerify: false }, { name: 'weft' });
    return kc;
  } else {
    kc.loadFromCluster();
    // client-node builds https://undefined:undefined when KUBERNETES_SERVICE_HOST/PORT are not set.
    if (kc.getCurrentCluster()?.server.includes('undefined') !== false) {
      throw new ConfigError('--kubeconfig-file', 'not running in a pod (KUBERNETES_SERVICE_HOST/PORT are not set); give --kubeconfig-file or --kube-api-url');
    }
  }
  const cluster = kc.getCurrentCluster();
  if (conn.apiUrl && cluster) {
    kc.clusters = kc.clusters.map((c) => (c.name === cluster.name ? { ...c, server: conn.apiUrl ?? c.server } : c));
  }
  return kc;
}

function loadKubeconfigFile(kc: KubeConfig, path: string): void {
  const fix = 'give the path of a valid kubeconfig, or leave the flag empty inside a pod';
  try {
    kc.loadFromFile(path);
  } catch (err) {
    const { code, message } = err as NodeJS.ErrnoException;
    const why = code ?? `not valid YAML: ${message.split('\n')[0] ?? ''}`;
    throw new ConfigError('--kubeconfig-file', `cannot read ${path} (${why}); ${fix}`);
  }
  if (kc.getCurrentCluster() === null) {
    throw new ConfigError('--kubeconfig-file', `${path} has no cluster for its current-context; ${fix}`);
  }
}
