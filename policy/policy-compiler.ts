// The compiler: pure functions from the cluster's NetworkPolicies, Pods and Namespaces to the rules
// for the pods on one node. Semantics follow networking.k8s.io/v1 as Kubernetes 1.20 defines it:
// - a pod is isolated for a direction when some policy in its namespace selects it and applies to
//   that direction; then only the union of those policies' rules is allowed (policies add up);
// - a rule with no peers allows all peers, a rule with no ports allows all ports, an empty rule {}
//   allows everything, an empty rule list allows nothing;
// - named ports resolve against the destination pod: the selected pod for ingress, each peer pod
//   for egress (so a named egress port reaches only pods, never a bare ipBlock address).
import { mergeRanges } from './address-ranges.js';
import { buildClusterView, type PeerPod, type PolicyWorld } from './cluster-view.js';
import type { Allow, DirectionRules, NodePolicyModel, PodRules, PolicyProblem, PortMatch } from './policy-model.js';
import { compilePolicy, type CompiledPolicy, type CompiledRule, type PortSpec } from './policy-rules.js';

export function compileNodePolicy(world: PolicyWorld, nodeName: string): NodePolicyModel {
  const view = buildClusterView(world);
  const problems: PolicyProblem[] = [];
  const policies = world.policies
    .flatMap((p) => {
      const compiled = compilePolicy(p, view, problems);
      return compiled ? [compiled] : [];
    })
    .sort((a, b) => a.key.localeCompare(b.key));
  const pods = view.pods.filter((pod) => pod.nodeName === nodeName).map((pod) => podRules(pod, policies));
  return { node: nodeName, pods, policyCount: policies.length, problems };
}

/** The rules for any one pod (weftctl uses this for a pod on another node). */
export function podRules(pod: PeerPod, policies: readonly CompiledPolicy[]): PodRules {
  const selecting = policies.filter((p) => p.selects(pod));
  return {
    namespace: pod.namespace,
    name: pod.name,
    ips: pod.ips,
    ingress: directionRules(selecting, 'ingress', pod),
    egress: directionRules(selecting, 'egress', pod),
  };
}

function directionRules(selecting: readonly CompiledPolicy[], direction: 'ingress' | 'egress', pod: PeerPod): DirectionRules | undefined {
  const applying = selecting.filter((p) => p[direction] !== undefined);
  if (applying.length === 0) return undefined;
  const allows = applying.flatMap((policy) =>
    (policy[direction] ?? []).flatMap((rule) =>
      direction === 'ingress' ? ingressAllows(policy.key, rule, pod) : egressAllows(policy.key, rule)));
  return { policies: applying.map((p) => p.key), allows };
}

function ingressAllows(policy: string, rule: CompiledRule, pod: PeerPod): Allow[] {
  if (rule.peers !== 'any' && rule.peers.length === 0) return [];
  const ports = rule.ports === 'any' ? 'any' : resolvePorts(rule.ports, pod);
  if (ports !== 'any' && ports.length === 0) return [];
  return [{ policy, rule: rule.index, peers: rule.peers, ports }];
}

/** Numbered ports apply to every peer; named ones only to peer pods that define the name. */
function egressAllows(policy: string, rule: CompiledRule): Allow[] {
  if (rule.peers !== 'any' && rule.peers.length === 0) return [];
  if (rule.ports === 'any') return [{ policy, rule: rule.index, peers: rule.peers, ports: 'any' }];
  const numbered = rule.ports.filter((p) => p.name === undefined).map(toPortMatch);
  const named = rule.ports.filter((p) => p.name !== undefined);
  const allows: Allow[] = numbered.length > 0 ? [{ policy, rule: rule.index, peers: rule.peers, ports: numbered }] : [];
  if (named.length === 0) return allows;
  // Pods that resolve the names to the same ports share one allow.
  const groups = new Map<string, { ports: PortMatch[]; pods: PeerPod[] }>();
  for (const peer of rule.peerPods) {
    const ports = resolvePorts(named, peer);
    if (ports.length === 0) continue;
    const key = ports.map((p) => `${p.protocol}:${String(p.port)}`).join(',');
    const group = groups.get(key) ?? { ports, pods: [] };
    group.pods.push(peer);
    groups.set(key, group);
  }
  for (const group of groups.values()) {
    allows.push({ policy, rule: rule.index, peers: mergeRanges(group.pods.flatMap((p) => p.ranges)), ports: group.ports });
  }
  return allows;
}

/** Resolves names against `pod`'s container ports (name and protocol must both match); sorted, unique. */
function resolvePorts(specs: readonly PortSpec[], pod: PeerPod): PortMatch[] {
  const out = new Map<string, PortMatch>();
  for (const spec of specs) {
    const match = spec.name === undefined
      ? toPortMatch(spec)
      : pod.namedPorts.find((p) => p.name === spec.name && p.protocol === spec.protocol);
    if (match === undefined) continue;
    const port: PortMatch = match.port === undefined ? { protocol: match.protocol } : { protocol: match.protocol, port: match.port };
    out.set(`${port.protocol}:${String(port.port)}`, port);
  }
  return [...out.values()].sort((a, b) => a.protocol.localeCompare(b.protocol) || (a.port ?? 0) - (b.port ?? 0));
}

function toPortMatch(spec: PortSpec): PortMatch {
  return spec.port === undefined ? { protocol: spec.protocol } : { protocol: spec.protocol, port: spec.port };
}
