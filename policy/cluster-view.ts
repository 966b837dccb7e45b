// The API objects the compiler reads, parsed once into what policy needs: pods that can be policy
// peers (an address, not on the host network, not finished) with their labels and named ports, and
// namespace labels. Malformed objects are left out here rather than failing the whole compile.
import type { KubeNamespace, KubeNetworkPolicy, KubePod } from './api-types.js';
import { addressRange, type AddressRange } from './address-ranges.js';
import type { Labels } from './label-selector.js';
import { PROTOCOLS, type Protocol } from './policy-model.js';

/** The inputs of a compile: everything the three informers hold. */
export interface PolicyWorld {
  pods: readonly KubePod[];
  namespaces: readonly KubeNamespace[];
  policies: readonly KubeNetworkPolicy[];
}

export interface NamedPort {
  name: string;
  protocol: Protocol;
  port: number;
}

export interface PeerPod {
  namespace: string;
  name: string;
  nodeName: string | undefined;
  labels: Labels;
  ips: string[];
  ranges: AddressRange[];
  namedPorts: NamedPort[];
}

export interface ClusterView {
  /** Pods a selector can pick, sorted by namespace/name. */
  pods: PeerPod[];
  /** Labels of every known namespace; a pod in an unknown namespace matches no namespaceSelector. */
  namespaceLabels: ReadonlyMap<string, Labels>;
}

export function buildClusterView(world: Pick<PolicyWorld, 'pods' | 'namespaces'>): ClusterView {
  const namespaceLabels = new Map<string, Labels>();
  for (const ns of world.namespaces) {
    const name = ns.metadata?.name;
    if (name) namespaceLabels.set(name, ns.metadata?.labels ?? {});
  }
  const pods = world.pods.flatMap((pod) => {
    const peer = toPeerPod(pod);
    return peer ? [peer] : [];
  });
  pods.sort((a, b) => compareKeys(a, b));
  return { pods, namespaceLabels };
}

export function compareKeys(a: { namespace: string; name: string }, b: { namespace: string; name: string }): number {
  return a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);
}

/**
 * Host-network pods are not peers: the API's selectors never pick them, their traffic is the
 * node's (ipBlock can match it). Finished pods (Succeeded, Failed) may have handed their
 * address to a new pod, so they are not peers either.
 */
function toPeerPod(pod: KubePod): PeerPod | undefined {
  const namespace = pod.metadata?.namespace;
  const name = pod.metadata?.name;
  if (!namespace || !name || pod.spec?.hostNetwork === true) return undefined;
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return undefined;
  const ips = podIps(pod);
  if (ips.length === 0) return undefined;
  let ranges: AddressRange[];
  try {
    ranges = ips.map((ip) => addressRange(ip));
  } catch {
    return undefined;
  }
  return { namespace, name, nodeName: pod.spec?.nodeName, labels: pod.metadata?.labels ?? {}, ips, ranges, namedPorts: namedPorts(pod) };
}

function podIps(pod: KubePod): string[] {
  const listed = (pod.status?.podIPs ?? []).map((p) => p.ip).filter((ip): ip is string => typeof ip === 'string' && ip !== '');
  if (listed.length > 0) return [...new Set(listed)];
  const single = pod.status?.podIP;
  return single ? [single] : [];
}

function namedPorts(pod: KubePod): NamedPort[] {
  const out: NamedPort[] = [];
  for (const container of pod.spec?.containers ?? []) {
    for (const port of container.ports ?? []) {
      const protocol = (port.protocol ?? 'TCP') as Protocol;
      if (port.name && PROTOCOLS.includes(protocol)) out.push({ name: port.name, protocol, port: port.containerPort });
    }
  }
  return out;
}
