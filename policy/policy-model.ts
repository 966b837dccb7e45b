// What the compiler produces for one node: for each pod on it, whether it is isolated for ingress
// and egress, and if so every (peers, ports) pair some policy allows. The rule writer turns this
// into nftables; weftctl prints it. Peers are address ranges (pod IPs and ipBlocks alike).
import type { AddressRange } from './address-ranges.js';

export type Protocol = 'TCP' | 'UDP' | 'SCTP';
export const PROTOCOLS: readonly Protocol[] = ['TCP', 'UDP', 'SCTP'];

/** One protocol and port; `port` undefined means every port of that protocol. */
export interface PortMatch {
  protocol: Protocol;
  port?: number;
}

/** Traffic one rule of one policy allows: from (ingress) or to (egress) `peers`, on `ports`. */
export interface Allow {
  /** "namespace/name" of the policy. */
  policy: string;
  /** Index of the rule in the policy's ingress or egress list. */
  rule: number;
  peers: 'any' | AddressRange[];
  ports: 'any' | PortMatch[];
}

/** A pod isolated in one direction: only what `allows` lists may pass (replies to it aside). */
export interface DirectionRules {
  /** The policies that select the pod for this direction, "namespace/name", sorted. */
  policies: string[];
  allows: Allow[];
}

export interface PodRules {
  namespace: string;
  name: string;
  ips: readonly string[];
  /** Undefined: no policy isolates the pod for ingress, so all ingress is allowed. */
  ingress: DirectionRules | undefined;
  egress: DirectionRules | undefined;
}

/** A policy, or part of one, that cannot be enforced as written, and what is done instead. */
export interface PolicyProblem {
  policy: string;
  reason: string;
}

export interface NodePolicyModel {
  node: string;
  /** Every pod on the node with a known address that is not on the host network, sorted by key. */
  pods: PodRules[];
  /** NetworkPolicies in the whole cluster (any one turns on the unknown-address guard). */
  policyCount: number;
  problems: PolicyProblem[];
}

export function podKey(pod: { namespace: string; name: string }): string {
  return `${pod.namespace}/${pod.name}`;
}
