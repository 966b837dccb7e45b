// What our own Node object tells the kube lease manager beyond its pod CIDRs: hints from an earlier
// run and overrides read before start-up, and the public address to publish when an operator set
// flannel's `<P>/public-ip(v6)-overwrite` annotation.
import type { Logger } from 'winston';
import { overrideIp, previousVtepMac, type AnnotationKeys } from './kube-annotations.js';
import type { KubeNode } from './kube-node-client.js';
import type { IpAddress } from './ip-address.js';

/** What our own Node object says about an earlier run and about overrides, read before start-up. */
export interface OwnNodeHints {
  /** `<P>/node-public-ip`: use instead of --public-ip when set. */
  nodePublicIp?: IpAddress | undefined;
  /** From our `<P>/backend-data`: give a newly created VXLAN device this MAC, so peers stay valid. */
  previousVtepMac?: string | undefined;
  /** `<P>/node-public-ipv6`: use instead of --public-ipv6 when set. */
  nodePublicIpv6?: IpAddress | undefined;
  /** From our `<P>/backend-v6-data`: the MAC of flannel-v6.<VNI> of an earlier run. */
  previousVtepMacV6?: string | undefined;
}

/** The hints `node` carries; a malformed one is warned about and left out. */
export function ownNodeHints(node: KubeNode, keys: AnnotationKeys, log: Logger): OwnNodeHints {
  const read = <T>(prefix: string, value: () => T): T | undefined => {
    try {
      return value();
    } catch (err) {
      log.warn(`${prefix}${(err as Error).message}`);
      return undefined;
    }
  };
  const hints: OwnNodeHints = {
    nodePublicIp: read('ignoring ', () => overrideIp(node, keys.nodePublicIp)),
    previousVtepMac: read('not reusing the earlier VTEP MAC: ', () => previousVtepMac(keys, node)),
  };
  const nodePublicIpv6 = read('ignoring ', () => overrideIp(node, keys.nodePublicIpv6, 'ipv6'));
  const previousVtepMacV6 = read('not reusing the earlier IPv6 VTEP MAC: ', () => previousVtepMac(keys, node, keys.backendV6Data));
  // Only when set: an IPv4-only node's hints stay as they were.
  if (nodePublicIpv6 !== undefined) hints.nodePublicIpv6 = nodePublicIpv6;
  if (previousVtepMacV6 !== undefined) hints.previousVtepMacV6 = previousVtepMacV6;
  return hints;
}

/**
 * The address of `own`'s family to publish: the node's overwrite annotation of that family when set
 * and valid, else `own`. Said in `log` when given (acquiring), not at every event of the Node.
 */
export function publishedAddress(node: KubeNode, keys: AnnotationKeys, own: IpAddress, log: Logger | undefined): IpAddress {
  const key = own.family === 'ipv6' ? keys.publicIpv6Overwrite : keys.publicIpOverwrite;
  try {
    const overwrite = overrideIp(node, key, own.family);
    if (overwrite !== undefined && !overwrite.equals(own)) {
      log?.info(`publishing public IP ${overwrite.toString()} from annotation ${key}`);
      return overwrite;
    }
  } catch (err) {
    log?.warn(`ignoring ${(err as Error).message}`);
  }
  return own;
}
