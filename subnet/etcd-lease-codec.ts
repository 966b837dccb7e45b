// flannel's etcd formats, and the only module that knows them:
//   key   <prefix>/subnets/10.1.15.0-24            (dual stack: 10.1.15.0-24&fd00:12:13::-56)
//   value {"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}
// Everything read back is someone else's data: it is parsed into typed values here, and anything
// unusable becomes a RemoteDataError (never another exception), so that a watcher can skip it.
import { RemoteDataError } from './errors.js';
import { formatIpv4, Ipv4Net, parseIpv4 } from './ipv4.js';
import type { Lease, LeaseAttrs, VxlanBackendData } from './lease.js';

export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

export function configKey(prefix: string): string {
  return `${prefix}/config`;
}

/** The directory of all leases, with its trailing slash (what we list and watch). */
export function subnetsDir(prefix: string): string {
  return `${prefix}/subnets/`;
}

export function subnetKey(prefix: string, subnet: Ipv4Net): string {
  return `${subnetsDir(prefix)}${formatIpv4(subnet.ip)}-${subnet.prefixLength}`;
}

/**
 * The IPv4 subnet a lease key names. A dual-stack key is accepted for its IPv4 half; an IPv6-only key
 * is refused, as is anything outside `<prefix>/subnets/`.
 */
export function parseSubnetKey(prefix: string, key: string): Ipv4Net {
  const dir = subnetsDir(prefix);
  if (!key.startsWith(dir)) throw new RemoteDataError(describeKey(key), `not under ${dir}`);
  const name = key.slice(dir.length);
  const [v4, v6, ...rest] = name.split('&');
  if (rest.length > 0 || v4 === undefined) throw new RemoteDataError(describeKey(key), 'malformed subnet key');
  if (v6 !== undefined && !/^[0-9a-fA-F:]+-\d{1,3}$/.test(v6)) {
    throw new RemoteDataError(describeKey(key), 'malformed IPv6 part of the subnet key');
  }
  const match = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})$/.exec(v4);
  const subnet = match ? Ipv4Net.parse(`${match[1] ?? ''}/${match[2] ?? ''}`) : undefined;
  if (subnet === undefined) {
    throw new RemoteDataError(describeKey(key), 'subnet key is not "a.b.c.d-len" with host bits zero');
  }
  return subnet;
}

/**
 * The lease value exactly as flannel writes it (field order, PublicIPv6 null, empty fields omitted).
 * With `previous` (the value our key held, when we rewrite it), whatever it carried that weft does not
 * interpret is kept: unknown top-level fields, and unknown BackendData fields of the same backend type
 * (a newer flannel, or a tool, may have put them there).
 */
export function encodeLeaseValue(attrs: LeaseAttrs, previous?: string): string {
  const kept = previous === undefined ? { top: [], backendData: [] } : unknownFields(previous, attrs.backendType);
  const parts = [`"PublicIP":${JSON.stringify(formatIpv4(attrs.publicIp))}`, '"PublicIPv6":null'];
  if (attrs.backendType !== '') parts.push(`"BackendType":${JSON.stringify(attrs.backendType)}`);
  if (attrs.backendData !== undefined) {
    const { vni, vtepMac } = attrs.backendData;
    parts.push(`"BackendData":{${[`"VNI":${vni}`, `"VtepMAC":${JSON.stringify(vtepMac)}`, ...kept.backendData].join(',')}}`);
  } else if (kept.wholeBackendData !== undefined) {
    parts.push(`"BackendData":${kept.wholeBackendData}`);
  }
  return `{${[...parts, ...kept.top].join(',')}}`;
}

const KNOWN_FIELDS = new Set(['publicip', 'publicipv6', 'backendtype', 'backenddata', 'backendv6data']);
const KNOWN_VXLAN_FIELDS = new Set(['vni', 'vtepmac']);

/** The parts of an earlier value that weft does not interpret, as "name":json pairs. */
function unknownFields(previous: string, backendType: string): { top: string[]; backendData: string[]; wholeBackendData?: string } {
  let json: unknown;
  try {
    json = JSON.parse(previous);
  } catch {
    return { top: [], backendData: [] }; // nothing readable to keep
  }
  if (!isPlainObject(json)) return { top: [], backendData: [] };
  const pairs = (obj: Record<string, unknown>, known: Set<string>): string[] =>
    Object.entries(obj).filter(([name]) => !known.has(name.toLowerCase())).map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`);
  const fields = lowerCaseKeys(json);
  const previousType = fields.get('backendtype');
  const sameBackend = typeof previousType === 'string' && previousType.toLowerCase() === backendType;
  const data = fields.get('backenddata');
  const kept = { top: pairs(json, KNOWN_FIELDS), backendData: [] as string[] };
  if (!sameBackend || data === undefined || data === null) return kept;
  if (backendType === 'vxlan') return isPlainObject(data) ? { ...kept, backendData: pairs(data, KNOWN_VXLAN_FIELDS) } : kept;
  return { ...kept, wholeBackendData: JSON.stringify(data) }; // another backend's data: not ours to cut
}

/**
 * Parses a lease value. Field names are matched case-insensitively, as Go's encoding/json does for
 * flannel. `source` names the record in error messages (usually its key).
 */
export function parseLeaseValue(source: string, text: string): LeaseAttrs {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new RemoteDataError(source, `lease value is not JSON: ${preview(text)}`);
  }
  if (!isPlainObject(json)) throw new RemoteDataError(source, `lease value is not a JSON object: ${preview(text)}`);
  const fields = lowerCaseKeys(json);

  const publicIpText = fields.get('publicip');
  const publicIp = typeof publicIpText === 'string' ? parseIpv4(publicIpText) : undefined;
  if (publicIp === undefined) {
    throw new RemoteDataError(source, `PublicIP ${show(publicIpText)} is not an IPv4 address`);
  }

  const backendTypeValue = fields.get('backendtype');
  if (backendTypeValue !== undefined && typeof backendTypeValue !== 'string') {
    throw new RemoteDataError(source, 'BackendType is not a string');
  }
  // flannel reads a value without BackendType (a reservation written by hand is often just
  // {"PublicIP":"..."}): the subnet is taken, and no backend programs it as a peer.
  const backendType = (backendTypeValue ?? '').toLowerCase();

  const attrs: LeaseAttrs = { publicIp, backendType };
  const backendData = fields.get('backenddata');
  if (backendType === 'vxlan') {
    attrs.backendData = parseVxlanBackendData(source, backendData);
  }
  // Other backends' data (host-gw has none) is not ours to interpret.
  return attrs;
}

function parseVxlanBackendData(source: string, data: unknown): VxlanBackendData {
  if (!isPlainObject(data)) throw new RemoteDataError(source, 'vxlan lease has no BackendData object');
  const fields = lowerCaseKeys(data);
  const vni = fields.get('vni');
  if (typeof vni !== 'number' || !Number.isInteger(vni) || vni < 0 || vni > 0xffffff) {
    throw new RemoteDataError(source, `VNI ${show(vni)} is not an integer in 0..16777215`);
  }
  const mac = fields.get('vtepmac');
  if (typeof mac !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) {
    throw new RemoteDataError(source, `VtepMAC ${show(mac)} is not a MAC address`);
  }
  const vtepMac = mac.toLowerCase();
  if (vtepMac === '00:00:00:00:00:00' || (parseInt(vtepMac.slice(0, 2), 16) & 1) === 1) {
    throw new RemoteDataError(source, `VtepMAC ${vtepMac} is not a unicast address`);
  }
  return { vni, vtepMac };
}

/** A stored record as read from etcd. `leaseId` is "0" when the key has no etcd lease (a reservation). */
export interface StoredRecord {
  key: string;
  value: string;
  leaseId: string;
}

/**
 * Turns a stored record into a Lease. With `network`, a subnet outside it is refused too.
 * `expiresAt` comes from the etcd lease, which the value does not carry; a reservation has none.
 */
export function parseLeaseRecord(prefix: string, record: StoredRecord, network?: Ipv4Net, expiresAt?: Date): Lease {
  const subnet = parseSubnetKey(prefix, record.key);
  const source = describeKey(record.key);
  if (network !== undefined && !network.containsNet(subnet)) {
    throw new RemoteDataError(source, `subnet ${subnet.toString()} is outside the network ${network.toString()}`);
  }
  const attrs = parseLeaseValue(source, record.value);
  const reservation = record.leaseId === '0' || record.leaseId === '';
  return { ...attrs, subnet, expiresAt: reservation ? undefined : expiresAt };
}

function describeKey(key: string): string {
  return `etcd key ${preview(key)}`;
}

/** Remote text, quoted and cut short, for a log line. */
function preview(text: string): string {
  return JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}...` : text);
}

/** A remote JSON value for a log line ("missing" when absent). */
function show(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  if (text === undefined) return 'missing';
  return text.length > 80 ? `${text.slice(0, 80)}...` : text;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function lowerCaseKeys(obj: Record<string, unknown>): Map<string, unknown> {
  const map = new Map<string, unknown>();
  for (const [key, value] of Object.entries(obj)) map.set(key.toLowerCase(), value);
  return map;
}
