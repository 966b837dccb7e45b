// Flannel's node annotations in Kubernetes mode: the only module that knows their names and formats.
// A node is a peer when `<P>/kube-subnet-manager` is "true"; its subnet comes from spec.podCIDR(s)
// and the rest of its lease from `<P>/backend-type`, `<P>/backend-data` and `<P>/public-ip`.
// Dual stack (flannel's kube.go): the IPv6 pod CIDR of spec.podCIDRs, `<P>/public-ipv6` and
// `<P>/backend-v6-data` (vxlan: the MAC of flannel-v6.<VNI>) make the lease's IPv6 half.
// IPv6 only: spec.podCIDR is the IPv6 one; a vxlan node publishes no `<P>/public-ip` nor
// `<P>/backend-data`, a host-gw node publishes `<P>/public-ip` "0.0.0.0" and `<P>/backend-data` null.
import { ConfigError, RemoteDataError } from './errors.js';
import type { Lease, LeaseAttrs, VxlanBackendData } from './lease.js';
import { FAMILIES, IpAddress, type IpFamily } from './ip-address.js';
import { IpPrefix } from './ip-prefix.js';

export const DEFAULT_ANNOTATION_PREFIX = 'flannel.alpha.coreos.com';

/** The annotation keys for one prefix, as flannel spells them. */
export interface AnnotationKeys {
  backendType: string;
  backendData: string;
  publicIp: string;
  subnetKubeManaged: string;
  /** Read only: replaces the public IP that we publish. */
  publicIpOverwrite: string;
  /** Read only: replaces --public-ip before the interface is chosen. */
  nodePublicIp: string;
  backendV6Data: string;
  publicIpv6: string;
  publicIpv6Overwrite: string;
  nodePublicIpv6: string;
}

// flannel's rule for --kube-annotation-prefix (pkg/subnet/kube/annotations.go): at most one slash;
// without one, a slash is added; a name part after the slash is joined to each key with "-"; the
// result must be a lower-case DNS name, a slash and an optional name part. flannel's pattern is not
// anchored at the start, so it lets "Example.com" through for the API server to refuse on the first
// patch; this one is anchored, so that such a prefix stops the daemon at start instead.
const PREFIX_FORMAT = /^(?:[a-z0-9_-]+\.)+[a-z0-9_-]+\/(?:[a-z0-9_-]+-)?$/;

/**
 * The annotation keys for a prefix, as flannel spells them: "example.com" and "example.com/" give
 * "example.com/backend-type", "example.com/foo" gives "example.com/foo-backend-type".
 */
export function annotationKeys(prefix: string = DEFAULT_ANNOTATION_PREFIX): AnnotationKeys {
  const slashes = prefix.split('/').length - 1;
  let p = slashes === 0 ? `${prefix}/` : prefix;
  if (!p.endsWith('/') && !p.endsWith('-')) p += '-';
  if (slashes > 1 || !PREFIX_FORMAT.test(p)) {
    throw new ConfigError(
      '--kube-annotation-prefix',
      `"${prefix}" is not a prefix flannel accepts; write a lower-case domain name with an optional name part, like example.com or example.com/foo`,
    );
  }
  return {
    backendType: `${p}backend-type`,
    backendData: `${p}backend-data`,
    publicIp: `${p}public-ip`,
    subnetKubeManaged: `${p}kube-subnet-manager`,
    publicIpOverwrite: `${p}public-ip-overwrite`,
    nodePublicIp: `${p}node-public-ip`,
    backendV6Data: `${p}backend-v6-data`,
    publicIpv6: `${p}public-ipv6`,
    publicIpv6Overwrite: `${p}public-ipv6-overwrite`,
    nodePublicIpv6: `${p}node-public-ipv6`,
  };
}

/** The parts of a Node object this module reads (a structural subset of V1Node). */
export interface NodeLike {
  metadata?: { name?: string | undefined; annotations?: Record<string, string> | undefined } | undefined;
  spec?: { podCIDR?: string | undefined; podCIDRs?: string[] | undefined } | undefined;
}

export function nodeName(node: NodeLike): string {
  return node.metadata?.name ?? '<unnamed node>';
}

/**
 * The node's pod CIDR of `family` (IPv4 by default): the first such entry of spec.podCIDRs, else
 * spec.podCIDR; undefined when none is assigned yet. A value that is not a CIDR is the API server's
 * data gone wrong: RemoteDataError.
 */
export function nodePodCidr(node: NodeLike, family: IpFamily = 'ipv4'): IpPrefix | undefined {
  const candidates = [...(node.spec?.podCIDRs ?? []), ...(node.spec?.podCIDR ? [node.spec.podCIDR] : [])];
  for (const text of candidates) {
    if (text.includes(':') !== (family === 'ipv6')) continue; // the other half of a dual-stack node
    const net = IpPrefix.parse(text, { family, strict: false });
    if (net === undefined) throw new RemoteDataError(`node ${nodeName(node)}`, `podCIDR "${text}" is not an ${FAMILIES[family].label} CIDR`);
    return net;
  }
  return undefined;
}

/** `<P>/backend-data` exactly as flannel writes it: {"VNI":1,"VtepMAC":"aa:..."} or null. */
export function formatBackendData(data: VxlanBackendData | undefined): string {
  return data === undefined ? 'null' : JSON.stringify({ VNI: data.vni, VtepMAC: data.vtepMac });
}

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** Parses `<P>/backend-data` of a vxlan node; `source` names the node in the error. */
export function parseVxlanBackendData(text: string, source: string): VxlanBackendData {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new RemoteDataError(source, `backend-data ${JSON.stringify(text)} is not JSON`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new RemoteDataError(source, `backend-data ${JSON.stringify(text)} is not a JSON object`);
  }
  const { VNI: vni, VtepMAC: mac } = raw as Record<string, unknown>;
  if (typeof vni !== 'number' || !Number.isInteger(vni) || vni < 0 || vni > 0xffffff) {
    throw new RemoteDataError(source, `backend-data VNI ${JSON.stringify(vni)} is not a VXLAN network id`);
  }
  if (typeof mac !== 'string' || !MAC.test(mac.toLowerCase())) {
    throw new RemoteDataError(source, `backend-data VtepMAC ${JSON.stringify(mac)} is not a MAC address`);
  }
  return { vni, vtepMac: mac.toLowerCase() };
}

/** What flannel publishes as `<P>/public-ip` of a host-gw node without IPv4 (the zero ip.IP4). */
const NO_PUBLIC_IP = '0.0.0.0';

/**
 * The annotations we publish on our own node (flannel also rewrites them all when any differs): the
 * IPv4 ones with a published IPv4 address, the IPv6 ones with a published IPv6 address. Like
 * flannel's AcquireLease, a host-gw node without IPv4 still writes the IPv4 pair ("0.0.0.0", null);
 * a vxlan one does not.
 */
export function leaseAnnotations(keys: AnnotationKeys, attrs: LeaseAttrs, publishedIp: IpAddress | undefined, publishedIpv6?: IpAddress): Record<string, string> {
  const ipv4 = publishedIp === undefined && attrs.backendType === 'vxlan' ? {} : {
    [keys.backendData]: formatBackendData(attrs.backendData),
    [keys.publicIp]: (publishedIp ?? NO_PUBLIC_IP).toString(),
  };
  const ipv6 = publishedIpv6 === undefined ? {} : {
    [keys.backendV6Data]: formatBackendData(attrs.backendV6Data),
    [keys.publicIpv6]: publishedIpv6.toString(),
  };
  return {
    [keys.backendType]: attrs.backendType,
    ...ipv4,
    ...ipv6,
    [keys.subnetKubeManaged]: 'true',
  };
}

/** Whether a node carries flannel's kube-subnet-manager mark, i.e. is a peer at all. */
export function isManagedNode(keys: AnnotationKeys, node: NodeLike): boolean {
  return node.metadata?.annotations?.[keys.subnetKubeManaged] === 'true';
}

/**
 * The lease a managed peer node publishes: a half for each family the node has a pod CIDR of and
 * publishes an address of (IPv4 only, dual stack or IPv6 only). Throws RemoteDataError when that
 * leaves no half, or when its annotations are malformed; callers skip that node and warn.
 */
export function nodeToLease(keys: AnnotationKeys, node: NodeLike): Lease {
  const source = `node ${nodeName(node)}`;
  const annotations = node.metadata?.annotations ?? {};
  const subnet = nodePodCidr(node);
  const ipv6Subnet = nodePodCidr(node, 'ipv6');
  if (subnet === undefined && ipv6Subnet === undefined) throw new RemoteDataError(source, 'has no pod CIDR assigned');

  const backendType = annotations[keys.backendType];
  if (!backendType) throw new RemoteDataError(source, `annotation ${keys.backendType} is missing`);

  const lease: Lease = { backendType };
  // "0.0.0.0": a host-gw node without IPv4 (or an IPv6-only node in a dual-stack cluster).
  const publicIp = annotatedIp(annotations, keys.publicIp, 'ipv4', source);
  if (subnet !== undefined && publicIp !== undefined && !publicIp.isUnspecified()) {
    Object.assign(lease, { subnet, publicIp, backendData: annotatedVxlanData(annotations, keys.backendData, backendType, source) });
  }
  const publicIpv6 = annotatedIp(annotations, keys.publicIpv6, 'ipv6', source);
  if (ipv6Subnet !== undefined && publicIpv6 !== undefined) {
    Object.assign(lease, { ipv6Subnet, publicIpv6, backendV6Data: annotatedVxlanData(annotations, keys.backendV6Data, backendType, source) });
  }
  if (lease.subnet === undefined && lease.ipv6Subnet === undefined) {
    const key = subnet === undefined ? keys.publicIpv6 : keys.publicIp;
    throw new RemoteDataError(source, `annotation ${key} is ${publicIp?.isUnspecified() && key === keys.publicIp ? NO_PUBLIC_IP : 'missing'}`);
  }
  return lease;
}

function annotatedIp(annotations: Record<string, string>, key: string, family: IpFamily, source: string): IpAddress | undefined {
  const text = annotations[key];
  if (text === undefined) return undefined;
  const ip = IpAddress.parse(text, family);
  if (ip === undefined) throw new RemoteDataError(source, `annotation ${key} ${JSON.stringify(text)} is not an ${FAMILIES[family].label} address`);
  return ip;
}

/** Only vxlan carries data we use; other backends' data (host-gw: null) is ignored. */
function annotatedVxlanData(annotations: Record<string, string>, key: string, backendType: string, source: string): VxlanBackendData | undefined {
  if (backendType !== 'vxlan') return undefined;
  const dataText = annotations[key];
  if (dataText === undefined) throw new RemoteDataError(source, `annotation ${key} is missing`);
  return parseVxlanBackendData(dataText, source);
}

/**
 * Our VTEP MAC from an earlier run: undefined when our node carries no vxlan backend-data,
 * RemoteDataError when it is malformed.
 */
export function previousVtepMac(keys: AnnotationKeys, node: NodeLike, dataKey: string = keys.backendData): string | undefined {
  const annotations = node.metadata?.annotations ?? {};
  const dataText = annotations[dataKey];
  if (annotations[keys.backendType] !== 'vxlan' || dataText === undefined) return undefined;
  return parseVxlanBackendData(dataText, `node ${nodeName(node)}`).vtepMac;
}

/**
 * A read-only override annotation (node-public-ip(v6) or public-ip(v6)-overwrite); undefined when
 * absent or empty, RemoteDataError when set to something that is not an address of `family`.
 */
export function overrideIp(node: NodeLike, key: string, family: IpFamily = 'ipv4'): IpAddress | undefined {
  const text = node.metadata?.annotations?.[key];
  if (text === undefined || text === '') return undefined;
  return annotatedIp({ [key]: text }, key, family, `node ${nodeName(node)}`);
}
