// flannel's etcd formats, and the only module that knows them (flannel: pkg/subnet/subnet.go
// MakeSubnetKey/ParseSubnetKey, pkg/lease/lease.go LeaseAttrs, pkg/backend/vxlan/vxlan.go newSubnetAttrs):
//   key   <prefix>/subnets/10.1.15.0-24                  IPv4
//         <prefix>/subnets/10.1.15.0-24&fd00:12:13::-56  dual stack
//         <prefix>/subnets/0.0.0.0-0&fd00:12:13::-56     IPv6 only (flannel's key for an empty IPv4 half)
//   value of an IPv6-only lease: "PublicIP":"0.0.0.0" (flannel's zero ip.IP4), read back as no IPv4 address
//   value {"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}
//         with IPv6: "PublicIPv6":"2001:db8::3" and "BackendV6Data":{"VNI":1,"VtepMAC":"..."} after BackendData
// Everything read back is someone else's data: it is parsed into typed values here, and anything
// unusable becomes a RemoteDataError (never another exception), so that a watcher can skip it.
import { IpAddress } from './ip-address.js';
import { IpPrefix } from './ip-prefix.js';
import { RemoteDataError } from './errors.js';
import type { Lease, LeaseAttrs, VxlanBackendData } from './lease.js';

export const DEFAULT_ETCD_PREFIX = '/coreos.com/network';

export function configKey(prefix: string): string {
  return `${prefix}/config`;
}

/** The directory of all leases, with its trailing slash (what we list and watch). */
export function subnetsDir(prefix: string): string {
  return `${prefix}/subnets/`;
}

/** The subnets a lease key names: IPv4, IPv6, or both. */
export interface LeaseKeySubnets {
  ipv4: IpPrefix | undefined;
  ipv6: IpPrefix | undefined;
}

/** flannel's key text for an IPv4 half that is not there. */
const NO_IPV4_HALF = '0.0.0.0-0';

export function leaseKey(prefix: string, subnets: LeaseKeySubnets): string {
  const half = (subnet: IpPrefix): string => `${subnet.address.toString()}-${subnet.prefixLength}`;
  const { ipv4, ipv6 } = subnets;
  if (ipv6 === undefined) {
    if (ipv4 === undefined) throw new TypeError('a lease key needs a subnet of at least one family');
    return `${subnetsDir(prefix)}${half(ipv4)}`;
  }
  return `${subnetsDir(prefix)}${ipv4 === undefined ? NO_IPV4_HALF : half(ipv4)}&${half(ipv6)}`;
}

/**
 * The subnets a lease key names, with host bits zero. A key whose IPv6 half is malformed is refused
 * as a whole, as is anything outside `<prefix>/subnets/`. The halves follow flannel's key pattern
 * (`(\d+\.\d+.\d+.\d+)-(\d+)(?:&([a-f\d:]+)-(\d+))?$`: lower-case IPv6 only).
 */
export function parseLeaseKey(prefix: string, key: string): LeaseKeySubnets {
  const dir = subnetsDir(prefix);
  const source = (): string => describeKey(key); // built only for an error: every key is parsed at start
  if (!key.startsWith(dir)) throw new RemoteDataError(source(), `not under ${dir}`);
  const [v4, v6, ...rest] = key.slice(dir.length).split('&');
  if (rest.length > 0 || v4 === undefined) throw new RemoteDataError(source(), 'malformed subnet key');
  const ipv6 = v6 === undefined ? undefined : parseKeyHalf(v6, /^([0-9a-f:]+)-(\d{1,3})$/, 'ipv6');
  if (v6 !== undefined && ipv6 === undefined) {
    throw new RemoteDataError(source(), 'malformed IPv6 part of the subnet key (not "x:y::-len" with host bits zero)');
  }
  if (v4 === NO_IPV4_HALF) {
    if (ipv6 === undefined) throw new RemoteDataError(source(), 'subnet key names no subnet');
    return { ipv4: undefined, ipv6 };
  }
  const ipv4 = parseKeyHalf(v4, /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,2})$/, 'ipv4');
  if (ipv4 === undefined) throw new RemoteDataError(source(), 'subnet key is not "a.b.c.d-len" with host bits zero');
  return { ipv4, ipv6 };
}

function parseKeyHalf(text: string, pattern: RegExp, family: 'ipv4' | 'ipv6'): IpPrefix | undefined {
  const match = pattern.exec(text);
  return match ? IpPrefix.parse(`${match[1] ?? ''}/${match[2] ?? ''}`, { family }) : undefined;
}

/** Lease value fields holding backend data, in the order flannel writes them. */
const DATA_FIELDS = [
  { name: 'BackendData', attr: 'backendData' },
  { name: 'BackendV6Data', attr: 'backendV6Data' },
] as const;

/**
 * The lease value exactly as flannel writes it (field order, PublicIPv6 null when absent, empty
 * fields omitted). With `previous` (the value our key held, when we rewrite it), whatever it carried
 * that weft does not interpret is kept: unknown top-level fields, and unknown fields in the backend
 * data of the same backend type (a newer flannel, or a tool, may have put them there).
 */
export function encodeLeaseValue(attrs: LeaseAttrs, previous?: string): string {
  const kept = unknownFields(previous, attrs.backendType);
  const parts = [
    `"PublicIP":${JSON.stringify((attrs.publicIp ?? NO_PUBLIC_IP).toString())}`,
    `"PublicIPv6":${attrs.publicIpv6 === undefined ? 'null' : JSON.stringify(attrs.publicIpv6.toString())}`,
  ];
  if (attrs.backendType !== '') parts.push(`"BackendType":${JSON.stringify(attrs.backendType)}`);
  for (const { name, attr } of DATA_FIELDS) {
    const data = encodeBackendData(attrs[attr], kept[attr]);
    if (data !== undefined) parts.push(`"${name}":${data}`);
  }
  return `{${[...parts, ...kept.top].join(',')}}`;
}

/** What an earlier value carried that weft does not interpret, as `"name":json` text to write back. */
interface KeptFields {
  top: string[];
  backendData: KeptData;
  backendV6Data: KeptData;
}

/** Of one backend data field: its unknown fields (same backend type), or the whole of another backend's. */
interface KeptData {
  fields: string[];
  whole?: string | undefined;
}

/** What flannel writes as PublicIP for a node without IPv4 (the zero ip.IP4), and reads as "none". */
const NO_PUBLIC_IP = '0.0.0.0';

const KNOWN_FIELDS = new Set(['publicip', 'publicipv6', 'backendtype', 'backenddata', 'backendv6data']);
const KNOWN_VXLAN_FIELDS = new Set(['vni', 'vtepmac']);

function unknownFields(previous: string | undefined, backendType: string): KeptFields {
  const nothing: KeptFields = { top: [], backendData: { fields: [] }, backendV6Data: { fields: [] } };
  let json: unknown;
  try {
    json = previous === undefined ? undefined : JSON.parse(previous);
  } catch {
    return nothing; // nothing readable to keep
  }
  if (!isPlainObject(json)) return nothing;
  const previousType = fieldOf(json, 'backendtype');
  const sameBackend = typeof previousType === 'string' && previousType.toLowerCase() === backendType;
  const keptData = (data: unknown): KeptData => {
    if (!sameBackend || data === undefined || data === null) return { fields: [] };
    if (backendType !== 'vxlan') return { fields: [], whole: JSON.stringify(data) }; // another backend's data: not ours to cut
    return { fields: isPlainObject(data) ? unknownPairs(data, KNOWN_VXLAN_FIELDS) : [] };
  };
  return {
    top: unknownPairs(json, KNOWN_FIELDS),
    backendData: keptData(fieldOf(json, 'backenddata')),
    backendV6Data: keptData(fieldOf(json, 'backendv6data')),
  };
}

function unknownPairs(obj: Record<string, unknown>, known: Set<string>): string[] {
  return Object.entries(obj)
    .filter(([name]) => !known.has(name.toLowerCase()))
    .map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`);
}

function encodeBackendData(data: VxlanBackendData | undefined, kept: KeptData): string | undefined {
  if (data === undefined) return kept.whole;
  return `{${[`"VNI":${data.vni}`, `"VtepMAC":${JSON.stringify(data.vtepMac)}`, ...kept.fields].join(',')}}`;
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

  const publicIpText = fieldOf(json, 'publicip');
  const publicIp = typeof publicIpText === 'string' ? IpAddress.parse(publicIpText, 'ipv4') : undefined;
  if (publicIp === undefined) {
    throw new RemoteDataError(source, `PublicIP ${show(publicIpText)} is not an IPv4 address`);
  }
  const ipv4Address = publicIp.isUnspecified() ? undefined : publicIp; // IPv6 only: no IPv4 underlay
  const publicIpv6Value = fieldOf(json, 'publicipv6') ?? null;
  const publicIpv6 = typeof publicIpv6Value === 'string' ? IpAddress.parse(publicIpv6Value, 'ipv6') : undefined;
  if (publicIpv6Value !== null && publicIpv6 === undefined) {
    throw new RemoteDataError(source, `PublicIPv6 ${show(publicIpv6Value)} is not an IPv6 address`);
  }

  const backendTypeValue = fieldOf(json, 'backendtype');
  if (backendTypeValue !== undefined && typeof backendTypeValue !== 'string') {
    throw new RemoteDataError(source, 'BackendType is not a string');
  }
  // flannel reads a value without BackendType (a reservation written by hand is often just
  // {"PublicIP":"..."}): the subnet is taken, and no backend programs it as a peer.
  const backendType = (backendTypeValue ?? '').toLowerCase();

  const attrs: LeaseAttrs = { backendType };
  if (ipv4Address !== undefined) attrs.publicIp = ipv4Address;
  if (publicIpv6 !== undefined) attrs.publicIpv6 = publicIpv6;
  // Other backends' data (host-gw has none) is not ours to interpret.
  if (backendType === 'vxlan') Object.assign(attrs, parseVxlanData(source, json));
  return attrs;
}

/** A vxlan lease has BackendData (IPv4), BackendV6Data (IPv6), or both. */
function parseVxlanData(source: string, fields: Record<string, unknown>): Pick<LeaseAttrs, 'backendData' | 'backendV6Data'> {
  const [v4, v6] = [fieldOf(fields, 'backenddata') ?? null, fieldOf(fields, 'backendv6data') ?? null];
  if (v4 === null && v6 === null) throw new RemoteDataError(source, 'vxlan lease has no BackendData object (nor BackendV6Data)');
  return {
    ...(v4 !== null && { backendData: parseVxlanBackendData(source, 'BackendData', v4) }),
    ...(v6 !== null && { backendV6Data: parseVxlanBackendData(source, 'BackendV6Data', v6) }),
  };
}

function parseVxlanBackendData(source: string, field: string, data: unknown): VxlanBackendData {
  if (!isPlainObject(data)) throw new RemoteDataError(source, `vxlan lease has no ${field} object`);
  const label = field === 'BackendData' ? '' : `${field} `; // IPv4 messages stay as they were
  const vni = fieldOf(data, 'vni');
  if (typeof vni !== 'number' || !Number.isInteger(vni) || vni < 0 || vni > 0xffffff) {
    throw new RemoteDataError(source, `${label}VNI ${show(vni)} is not an integer in 0..16777215`);
  }
  const mac = fieldOf(data, 'vtepmac');
  if (typeof mac !== 'string' || !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) {
    throw new RemoteDataError(source, `${label}VtepMAC ${show(mac)} is not a MAC address`);
  }
  const vtepMac = mac.toLowerCase();
  if (vtepMac === '00:00:00:00:00:00' || (parseInt(vtepMac.slice(0, 2), 16) & 1) === 1) {
    throw new RemoteDataError(source, `${label}VtepMAC ${vtepMac} is not a unicast address`);
  }
  return { vni, vtepMac };
}

/** A stored record as read from etcd. `leaseId` is "0" when the key has no etcd lease (a reservation). */
export interface StoredRecord {
  key: string;
  value: string;
  leaseId: string;
}

/** The networks of the families we run: a lease's half outside its family's network is refused. */
export interface LeaseNetworks {
  ipv4?: IpPrefix | undefined;
  ipv6?: IpPrefix | undefined;
}

/**
 * Turns a stored record into a Lease (IPv4 only, dual stack or IPv6 only, as its key says). A half
 * outside its family's network in `networks` is refused too. `expiresAt` comes from the etcd lease,
 * which the value does not carry; a reservation has none. A node's lease (one with a backend type)
 * carries what each family of its key needs.
 */
export function parseLeaseRecord(prefix: string, record: StoredRecord, networks: LeaseNetworks = {}, expiresAt?: Date): Lease {
  const { ipv4, ipv6 } = parseLeaseKey(prefix, record.key);
  const source = describeKey(record.key);
  for (const [half, network] of [[ipv4, networks.ipv4], [ipv6, networks.ipv6]] as const) {
    if (half !== undefined && network !== undefined && !network.containsPrefix(half)) {
      throw new RemoteDataError(source, `subnet ${half.toString()} is outside the network ${network.toString()}`);
    }
  }
  const attrs = parseLeaseValue(source, record.value);
  if (attrs.backendType !== '') checkHalves(source, attrs, ipv4 !== undefined, ipv6 !== undefined);
  const reservation = record.leaseId === '0' || record.leaseId === '';
  return { ...attrs, subnet: ipv4, ipv6Subnet: ipv6, expiresAt: reservation ? undefined : expiresAt };
}

/** A node's lease carries, for each half of its key, the address (and vxlan data) peers program. */
function checkHalves(source: string, attrs: LeaseAttrs, hasIpv4: boolean, hasIpv6: boolean): void {
  const vxlan = attrs.backendType === 'vxlan';
  if (hasIpv4) {
    if (vxlan && attrs.backendData === undefined) throw new RemoteDataError(source, 'vxlan lease has no BackendData object for its IPv4 subnet');
    if (attrs.publicIp === undefined) throw new RemoteDataError(source, `lease has an IPv4 subnet but PublicIP ${NO_PUBLIC_IP}`);
  }
  if (hasIpv6) {
    const kind = hasIpv4 ? 'dual-stack' : 'IPv6-only';
    if (attrs.publicIpv6 === undefined) throw new RemoteDataError(source, `${kind} lease has no PublicIPv6`);
    if (vxlan && attrs.backendV6Data === undefined) throw new RemoteDataError(source, `${kind} vxlan lease has no BackendV6Data object`);
  }
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

/**
 * The value of the field `name` (lower case), matched case-insensitively as Go's encoding/json
 * matches flannel's fields; of two keys that differ only in case, the later wins, as in Go. No map
 * of lower-cased keys: every lease of every listing and watch event comes through here.
 */
function fieldOf(obj: Record<string, unknown>, name: string): unknown {
  let value: unknown;
  for (const key in obj) if (key.length === name.length && key.toLowerCase() === name) value = obj[key];
  return value;
}
