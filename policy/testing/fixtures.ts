// Builders for the API objects policy reads, for tests, the benchmark and the reachability matrix.
import type { KubeNamespace, KubeNetworkPolicy, KubePod, PolicySpec } from '../api-types.js';

export interface PodOptions {
  labels?: Record<string, string>;
  node?: string;
  ip?: string | undefined;
  /** Dual stack: every address (the first is podIP). */
  ips?: string[];
  /** Named container ports: name -> "80" or "81/UDP". */
  ports?: Record<string, string>;
  hostNetwork?: boolean;
  phase?: string;
}

export function makePod(namespace: string, name: string, options: PodOptions = {}): KubePod {
  const ports = Object.entries(options.ports ?? {}).map(([portName, spec]) => {
    const [number, protocol] = spec.split('/');
    return { name: portName, containerPort: Number(number), protocol: protocol ?? 'TCP' };
  });
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace, name, labels: options.labels ?? { pod: name } },
    spec: {
      nodeName: options.node ?? 'n1',
      hostNetwork: options.hostNetwork ?? false,
      containers: [{ name: 'main', image: 'agnhost', ports }],
    },
    status: {
      phase: options.phase ?? 'Running',
      ...podAddresses(options.ips ?? (options.ip === undefined ? [] : [options.ip])),
    },
  };
}

export function makeNamespace(name: string, labels: Record<string, string> = { ns: name }): KubeNamespace {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } };
}

export function makePolicy(namespace: string, name: string, spec: PolicySpec): KubeNetworkPolicy {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { namespace, name },
    spec: { podSelector: {}, ...spec },
  };
}

function podAddresses(ips: readonly string[]): { podIP?: string; podIPs?: { ip: string }[] } {
  const [first] = ips;
  return first === undefined ? {} : { podIP: first, podIPs: ips.map((ip) => ({ ip })) };
}
