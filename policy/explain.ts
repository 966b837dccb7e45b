// Explains, for one pod, which policies select it and what they allow: the text of
// `weftctl policy <namespace>/<pod>`. Pure: API objects in, lines out.
import { formatRange, type AddressRange } from './address-ranges.js';
import { buildClusterView, type PolicyWorld } from './cluster-view.js';
import { podRules } from './policy-compiler.js';
import type { Allow, DirectionRules, PodRules, PolicyProblem } from './policy-model.js';
import { compilePolicy } from './policy-rules.js';

export interface Explanation {
  pod: string;
  /** Undefined when policy does not apply to the pod (host network, finished, no address yet). */
  rules: PodRules | undefined;
  node: string | undefined;
  problems: PolicyProblem[];
  text: string[];
}

const MAX_PEERS_SHOWN = 8;

export function explainPod(world: PolicyWorld, namespace: string, name: string): Explanation {
  const view = buildClusterView(world);
  const problems: PolicyProblem[] = [];
  const policies = world.policies.flatMap((p) => {
    const compiled = compilePolicy(p, view, problems);
    return compiled ? [compiled] : [];
  }).sort((a, b) => a.key.localeCompare(b.key));
  const key = `${namespace}/${name}`;
  const pod = view.pods.find((p) => p.namespace === namespace && p.name === name);
  const exists = world.pods.some((p) => p.metadata?.namespace === namespace && p.metadata.name === name);
  if (!pod) {
    const why = exists ? 'not subject to NetworkPolicy: host network, finished, or no address yet' : 'no such pod';
    return { pod: key, rules: undefined, node: undefined, problems: [], text: [`pod ${key}: ${why}`] };
  }
  const rules = podRules(pod, policies);
  const podNames = new Map(view.pods.flatMap((p) => p.ips.map((ip) => [ip, `${p.namespace}/${p.name}`] as const)));
  const relevant = problems.filter((p) => rules.ingress?.policies.includes(p.policy) || rules.egress?.policies.includes(p.policy));
  const text = [
    `pod ${key} (${pod.ips.join(', ')}) on node ${pod.nodeName ?? '?'}`,
    ...directionText('ingress', 'from', rules.ingress, podNames),
    ...directionText('egress', 'to', rules.egress, podNames),
    ...relevant.map((p) => `problem: ${p.policy}: ${p.reason}`),
  ];
  return { pod: key, rules, node: pod.nodeName, problems: relevant, text };
}

function directionText(direction: string, preposition: string, rules: DirectionRules | undefined, podNames: ReadonlyMap<string, string>): string[] {
  if (rules === undefined) return [`${direction}: not isolated (no policy selects it for ${direction}): everything allowed`];
  const lines = [`${direction}: isolated by ${rules.policies.join(', ')}`];
  if (rules.allows.length === 0) lines.push(`  nothing allowed (replies to its own connections${direction === 'ingress' ? ' and traffic from its node' : ''} pass)`);
  for (const allow of rules.allows) lines.push(`  allow ${preposition} ${peersText(allow, podNames)} on ${portsText(allow)}   [${allow.policy} rule ${String(allow.rule)}]`);
  return lines;
}

function peersText(allow: Allow, podNames: ReadonlyMap<string, string>): string {
  if (allow.peers === 'any') return 'anywhere';
  const shown = allow.peers.slice(0, MAX_PEERS_SHOWN).map((r) => rangeText(r, podNames));
  const more = allow.peers.length > MAX_PEERS_SHOWN ? ` and ${String(allow.peers.length - MAX_PEERS_SHOWN)} more` : '';
  return `${shown.join(', ')}${more}`;
}

function rangeText(range: AddressRange, podNames: ReadonlyMap<string, string>): string {
  const text = formatRange(range);
  const pod = podNames.get(text);
  return pod === undefined ? text : `${text} (${pod})`;
}

function portsText(allow: Allow): string {
  if (allow.ports === 'any') return 'all ports';
  return allow.ports.map((p) => `${p.protocol} ${p.port === undefined ? 'all ports' : String(p.port)}`).join(', ');
}
