// Lab addressing: one underlay bridge in its own namespace, nodes and pods as namespaces.
// All addresses come from documentation/test ranges and exist only inside the lab namespaces.

export const UNDERLAY_PREFIX = '192.0.2';
export const UNDERLAY_GATEWAY = `${UNDERLAY_PREFIX}.1`;
export const UNDERLAY_PREFIX_LENGTH = 24;
export const ETCD_PORT = 2379;
export const DEFAULT_NETWORK = '10.244.0.0/16';

/** Node i (1-based) gets 192.0.2.(10+i). */
export function nodeUnderlayIp(index: number): string {
  if (index < 1 || index > 200) throw new Error(`node index ${index} is outside 1..200`);
  return `${UNDERLAY_PREFIX}.${10 + index}`;
}
