// The parts of the Kubernetes objects policy reads, as plain structural types: client-node's V1Pod,
// V1Namespace and V1NetworkPolicy fit them, and tests build them as object literals.
type Opt<T> = T | undefined;

export interface LabelSelector {
  matchLabels?: Opt<Record<string, string>>;
  matchExpressions?: Opt<{ key: string; operator: string; values?: Opt<string[]> }[]>;
}

export interface ObjectMeta {
  name?: Opt<string>;
  namespace?: Opt<string>;
  labels?: Opt<Record<string, string>>;
  resourceVersion?: Opt<string>;
}

interface TypeMeta {
  apiVersion?: Opt<string>;
  kind?: Opt<string>;
}

export interface KubePod extends TypeMeta {
  metadata?: Opt<ObjectMeta>;
  spec?: Opt<{
    nodeName?: Opt<string>;
    hostNetwork?: Opt<boolean>;
    containers: { name: string; image?: Opt<string>; ports?: Opt<{ name?: Opt<string>; containerPort: number; protocol?: Opt<string> }[]> }[];
  }>;
  status?: Opt<{ phase?: Opt<string>; podIP?: Opt<string>; podIPs?: Opt<{ ip?: Opt<string> }[]> }>;
}

export interface KubeNamespace extends TypeMeta {
  metadata?: Opt<ObjectMeta>;
}

export interface PolicyPeer {
  podSelector?: Opt<LabelSelector>;
  namespaceSelector?: Opt<LabelSelector>;
  ipBlock?: Opt<{ cidr: string; except?: Opt<string[]> }>;
}

export interface PolicyPort {
  protocol?: Opt<string>;
  port?: Opt<number | string>;
  /** Kubernetes 1.21+; reported and ignored. */
  endPort?: Opt<number>;
}

export interface PolicySpec {
  podSelector?: Opt<LabelSelector>;
  policyTypes?: Opt<string[]>;
  /** `_from`: client-node's list calls deserialize `from` under that name; watch events keep `from`. */
  ingress?: Opt<{ from?: Opt<PolicyPeer[]>; _from?: Opt<PolicyPeer[]>; ports?: Opt<PolicyPort[]> }[]>;
  egress?: Opt<{ to?: Opt<PolicyPeer[]>; ports?: Opt<PolicyPort[]> }[]>;
}

export interface KubeNetworkPolicy extends TypeMeta {
  metadata?: Opt<ObjectMeta>;
  spec?: Opt<PolicySpec>;
}
