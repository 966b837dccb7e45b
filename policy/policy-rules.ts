// One NetworkPolicy compiled against the cluster: which pods it selects, whether it applies to
// ingress and egress (with the API's defaulting of policyTypes), and each rule's peers resolved to
// address ranges. Peers do not depend on the selected pod, so this runs once per policy, not per pod.
//
// Anything that cannot be enforced as written is reported as a problem and narrowed, never widened:
// a bad peer or port matches nothing; a bad podSelector selects every pod in the namespace.
import type { KubeNetworkPolicy, PolicyPeer, PolicyPort } from './api-types.js';
import { AddressError, contains, mergeRanges, parseRange, subtract, type AddressRange } from './address-ranges.js';
import type { ClusterView, PeerPod } from './cluster-view.js';
import { compileSelector, SelectorError, type LabelPredicate } from './label-selector.js';
import { PROTOCOLS, type PolicyProblem, type Protocol } from './policy-model.js';

/** A port as written: a number, a name (resolved per destination pod), or none (all ports). */
export interface PortSpec {
  protocol: Protocol;
  port?: number;
  name?: string;
}

export interface CompiledRule {
  index: number;
  /** 'any' when the rule lists no peers (from/to absent or empty). */
  peers: 'any' | AddressRange[];
  /** The pods among the peers (every pod when peers is 'any'), for egress named ports. */
  peerPods: PeerPod[];
  /** 'any' when the rule lists no ports; may be empty when none of them was valid. */
  ports: 'any' | PortSpec[];
}

export interface CompiledPolicy {
  key: string;
  namespace: string;
  selects: (pod: PeerPod) => boolean;
  /** Undefined when the policy does not apply to that direction. */
  ingress: CompiledRule[] | undefined;
  egress: CompiledRule[] | undefined;
}

export function compilePolicy(policy: KubeNetworkPolicy, view: ClusterView, problems: PolicyProblem[]): CompiledPolicy | undefined {
  const namespace = policy.metadata?.namespace;
  const name = policy.metadata?.name;
  if (!namespace || !name) return undefined;
  const key = `${namespace}/${name}`;
  const report = (reason: string): void => { problems.push({ policy: key, reason }); };
  const spec = policy.spec;
  const types = policyTypes(policy, report);
  let selector: LabelPredicate;
  try {
    selector = compileSelector(spec?.podSelector ?? {}, 'spec.podSelector');
  } catch (err) {
    if (!(err instanceof SelectorError)) throw err;
    report(`${err.message}: enforced as deny-all for every pod in namespace ${namespace}`);
    const none = types.ingress ? [] : undefined;
    return { key, namespace, selects: () => true, ingress: none, egress: types.egress ? [] : undefined };
  }
  const rules = (field: 'ingress' | 'egress'): CompiledRule[] =>
    (field === 'ingress' ? spec?.ingress ?? [] : spec?.egress ?? []).map((rule, index) => {
      const peers = 'to' in rule ? rule.to : 'from' in rule && rule.from !== undefined ? rule.from : '_from' in rule ? rule._from : undefined;
      return compileRule(peers, rule.ports, index, `spec.${field}[${String(index)}]`, namespace, view, report);
    });
  return {
    key,
    namespace,
    selects: (pod) => pod.namespace === namespace && selector(pod.labels),
    ingress: types.ingress ? rules('ingress') : undefined,
    egress: types.egress ? rules('egress') : undefined,
  };
}

/** The API's defaulting: no policyTypes means Ingress, plus Egress when there are egress rules. */
export function policyTypes(policy: KubeNetworkPolicy, report: (reason: string) => void): { ingress: boolean; egress: boolean } {
  const listed = policy.spec?.policyTypes ?? [];
  if (listed.length === 0) return { ingress: true, egress: (policy.spec?.egress ?? []).length > 0 };
  for (const type of listed) {
    if (type !== 'Ingress' && type !== 'Egress') report(`spec.policyTypes: unknown type "${type}" ignored (Ingress or Egress)`);
  }
  const ingress = listed.includes('Ingress');
  const egress = listed.includes('Egress');
  if (!ingress && !egress) {
    report('spec.policyTypes names neither Ingress nor Egress: enforced as Ingress (deny what it does not allow)');
    return { ingress: true, egress: false };
  }
  return { ingress, egress };
}

function compileRule(
  peers: PolicyPeer[] | undefined,
  ports: PolicyPort[] | undefined,
  index: number,
  field: string,
  namespace: string,
  view: ClusterView,
  report: (reason: string) => void,
): CompiledRule {
  const compiledPorts = ports === undefined || ports.length === 0
    ? 'any'
    : ports.flatMap((port, i) => compilePort(port, `${field}.ports[${i}]`, report));
  if (peers === undefined || peers.length === 0) return { index, peers: 'any', peerPods: view.pods, ports: compiledPorts };
  const ranges: AddressRange[] = [];
  const pods = new Set<PeerPod>();
  const peerField = field.startsWith('spec.ingress') ? 'from' : 'to';
  peers.forEach((peer, i) => {
    const resolved = resolvePeer(peer, namespace, view, `${field}.${peerField}[${i}]`, report);
    ranges.push(...resolved.ranges);
    for (const pod of resolved.pods) pods.add(pod);
  });
  return { index, peers: mergeRanges(ranges), peerPods: [...pods], ports: compiledPorts };
}

function resolvePeer(
  peer: PolicyPeer,
  namespace: string,
  view: ClusterView,
  field: string,
  report: (reason: string) => void,
): { ranges: AddressRange[]; pods: PeerPod[] } {
  const none = { ranges: [], pods: [] };
  const hasSelector = peer.podSelector !== undefined || peer.namespaceSelector !== undefined;
  if (peer.ipBlock !== undefined) {
    if (hasSelector) {
      report(`${field}: ipBlock cannot be combined with a selector: this peer matches nothing`);
      return none;
    }
    try {
      const block = [parseRange(peer.ipBlock.cidr)];
      const ranges = subtract(block, (peer.ipBlock.except ?? []).map((e) => parseRange(e)));
      return { ranges, pods: view.pods.filter((pod) => pod.ranges.some((r) => contains(ranges, r))) };
    } catch (err) {
      if (!(err instanceof AddressError)) throw err;
      report(`${field}.ipBlock: ${err.message}: this peer matches nothing`);
      return none;
    }
  }
  if (!hasSelector) {
    report(`${field}: names no podSelector, namespaceSelector or ipBlock: this peer matches nothing`);
    return none;
  }
  try {
    const podMatch = compileSelector(peer.podSelector ?? {}, `${field}.podSelector`);
    const nsSelector = peer.namespaceSelector;
    const nsMatch = nsSelector === undefined ? undefined : compileSelector(nsSelector, `${field}.namespaceSelector`);
    // The namespaces this peer can pick from, decided once (not once per pod).
    const namespaces = new Set<string>();
    if (nsMatch === undefined) namespaces.add(namespace);
    else for (const [name, labels] of view.namespaceLabels) if (nsMatch(labels)) namespaces.add(name);
    const pods = view.pods.filter((pod) => namespaces.has(pod.namespace) && podMatch(pod.labels));
    return { ranges: pods.flatMap((pod) => pod.ranges), pods };
  } catch (err) {
    if (!(err instanceof SelectorError)) throw err;
    report(`${err.message}: this peer matches nothing`);
    return none;
  }
}

function compilePort(port: PolicyPort, field: string, report: (reason: string) => void): PortSpec[] {
  const protocol = (port.protocol ?? 'TCP') as Protocol;
  if (!PROTOCOLS.includes(protocol)) {
    report(`${field}.protocol: "${String(port.protocol)}" is not TCP, UDP or SCTP: this port matches nothing`);
    return [];
  }
  if (port.endPort !== undefined) {
    report(`${field}.endPort: port ranges are Kubernetes 1.21+; only port ${String(port.port)} is allowed`);
  }
  const value = port.port;
  if (value === undefined) return [{ protocol }];
  if (typeof value === 'number' || /^\d+$/.test(value)) {
    const number = Number(value);
    if (number >= 1 && number <= 65535) return [{ protocol, port: number }];
    report(`${field}.port: ${String(value)} is not in 1..65535: this port matches nothing`);
    return [];
  }
  return [{ protocol, name: value }];
}
