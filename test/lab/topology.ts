// Lab addressing: one underlay bridge in its own namespace, nodes and pods as namespaces.
// All addresses come from documentation/test ranges and exist only inside the lab namespaces.

export const UNDERLAY_PREFIX = '192.0.2';
export const UNDERLAY_GATEWAY = `${UNDERLAY_PREFIX}.1`;
export const UNDERLAY_PREFIX_LENGTH = 24;
export const ETCD_PORT = 2379;
export const DEFAULT_NETWORK = '10.244.0.0/16';
/** The IPv6 pod network of a dual-stack lab (flannel's IPv6Network; /64 per node). */
export const DEFAULT_IPV6_NETWORK = 'fd00:10:244::/56';

/** The IPv6 underlay of a dual-stack lab (LabCluster.create with ipv6). */
export const UNDERLAY6_PREFIX = '2001:db8::';
export const UNDERLAY6_GATEWAY = `${UNDERLAY6_PREFIX}1`;
export const UNDERLAY6_PREFIX_LENGTH = 64;

/** Node i (1-based) gets 192.0.2.(10+i). */
export function nodeUnderlayIp(index: number): string {
  if (index < 1 || index > 200) throw new Error(`node index ${index} is outside 1..200`);
  return `${UNDERLAY_PREFIX}.${10 + index}`;
}

/** Node i (1-based) gets 2001:db8::(10+i) (hex digits: node 1 is 2001:db8::b). */
export function nodeUnderlayIpv6(index: number): string {
  nodeUnderlayIp(index); // the same range check
  return `${UNDERLAY6_PREFIX}${(10 + index).toString(16)}`;
}
