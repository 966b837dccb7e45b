// net-conf.json: parsed and validated exactly as flannel does (keys match case-insensitively), with
// errors that name the field and the fix. The one divergence: a missing Backend means vxlan, not udp.
import { ConfigError } from '../subnet/errors.js';
import { Ipv4Net, parseIpv4, formatIpv4, type Ipv4 } from '../subnet/ipv4.js';
import type { SubnetPool } from '../subnet/lease.js';

export interface VxlanOptions {
  type: 'vxlan';
  vni: number;
  /** UDP port; 0 means the kernel default (8472 on Linux). */
  port: number;
  /** Underlay MTU override; the device gets this minus 50. */
  mtu?: number | undefined;
  gbp: boolean;
  learning: boolean;
  directRouting: boolean;
}

export interface HostGwOptions {
  type: 'host-gw';
}

export type BackendOptions = VxlanOptions | HostGwOptions;

export interface NetworkConfig extends SubnetPool {
  enableNFTables: boolean;
  backend: BackendOptions;
  /** Things an operator should know but that do not stop start-up (e.g. the vxlan default). */
  warnings: string[];
}

const SUPPORTED_BACKENDS = ['vxlan', 'host-gw'];

export function parseNetworkConfig(text: string): NetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError('net-conf.json', `is not valid JSON (${(err as Error).message}); fix the syntax`);
  }
  const conf = new CaseInsensitiveObject(raw, 'net-conf.json');
  const warnings: string[] = [];

  const enableIPv4 = conf.boolean('EnableIPv4') ?? true;
  if (conf.boolean('EnableIPv6') === true) {
    throw new ConfigError('EnableIPv6', 'IPv6 is not supported by weft yet; remove EnableIPv6 or set it to false');
  }
  if (!enableIPv4) {
    throw new ConfigError('EnableIPv4', 'false leaves no address family; weft needs IPv4, set it to true');
  }

  const pool = parsePool(conf, warnings);
  return {
    ...pool,
    enableNFTables: conf.boolean('EnableNFTables') ?? false,
    backend: parseBackend(conf.object('Backend'), warnings),
    warnings,
  };
}

function parsePool(conf: CaseInsensitiveObject, warnings: string[]): SubnetPool {
  const networkText = conf.string('Network');
  if (networkText === undefined) {
    throw new ConfigError('Network', 'is missing; set it to the pod network, e.g. "10.244.0.0/16"');
  }
  const network = Ipv4Net.parse(networkText, false);
  if (network === undefined) {
    throw new ConfigError('Network', `"${networkText}" is not an IPv4 CIDR; write it like "10.244.0.0/16"`);
  }
  if (Ipv4Net.parse(networkText, true) === undefined) {
    // flannel masks it without a word (net.ParseCIDR); a node must lease from the same network as flannel's.
    warnings.push(`Network "${networkText}" has host bits set; using ${network.toString()} as flannel does (write it so to silence this)`);
  }

  let subnetLen = conf.integer('SubnetLen');
  if (subnetLen !== undefined && subnetLen !== 0) {
    if (subnetLen > 30) {
      throw new ConfigError('SubnetLen', `${subnetLen} is too long: each node needs at least a /30; use 30 or less`);
    }
    if (subnetLen < network.prefixLength + 2) {
      throw new ConfigError(
        'SubnetLen',
        `/${subnetLen} fits fewer than four times into ${network.toString()}; use at least ${network.prefixLength + 2}`,
      );
    }
  } else if (network.prefixLength > 28) {
    throw new ConfigError('Network', `${network.toString()} is too small; the smallest useful network is a /28`);
  } else {
    subnetLen = network.prefixLength <= 22 ? 24 : network.prefixLength + 2;
  }

  const subnetSize = 2 ** (32 - subnetLen);
  const subnetMin = parseBound(conf, 'SubnetMin', network, subnetLen) ?? (network.ip + subnetSize) >>> 0;
  const subnetMax = parseBound(conf, 'SubnetMax', network, subnetLen) ?? (network.last - subnetSize + 1) >>> 0;
  if (subnetMin > subnetMax) {
    throw new ConfigError('SubnetMin', `${formatIpv4(subnetMin)} is above SubnetMax ${formatIpv4(subnetMax)}; swap them`);
  }
  return { network, subnetLen, subnetMin, subnetMax };
}

function parseBound(conf: CaseInsensitiveObject, field: string, network: Ipv4Net, subnetLen: number): Ipv4 | undefined {
  const text = conf.string(field);
  if (text === undefined || text === '') return undefined;
  const ip = parseIpv4(text);
  if (ip === undefined) throw new ConfigError(field, `"${text}" is not an IPv4 address; write it like "10.244.1.0"`);
  if (!network.contains(ip)) {
    throw new ConfigError(field, `${text} is not inside Network ${network.toString()}; pick an address inside it`);
  }
  const aligned = Ipv4Net.of(ip, subnetLen).ip;
  if (aligned !== ip) {
    throw new ConfigError(field, `${text} is not on a /${subnetLen} boundary; did you mean ${formatIpv4(aligned)}?`);
  }
  return ip;
}

function parseBackend(backend: CaseInsensitiveObject | undefined, warnings: string[]): BackendOptions {
  if (backend === undefined) {
    warnings.push('Backend is not set; using vxlan (flannel would fall back to udp, which weft does not have)');
    return defaultVxlan();
  }
  const type = (backend.string('Type') ?? 'vxlan').toLowerCase();
  if (type === 'host-gw') return { type: 'host-gw' };
  if (type !== 'vxlan') {
    throw new ConfigError('Backend.Type', `"${type}" is not supported; use one of ${SUPPORTED_BACKENDS.join(', ')}`);
  }
  const vni = backend.integer('VNI') ?? 1;
  if (vni < 1 || vni > 16777215) throw new ConfigError('Backend.VNI', `${vni} is out of range; use 1 to 16777215`);
  const port = backend.integer('Port') ?? 0;
  if (port < 0 || port > 65535) throw new ConfigError('Backend.Port', `${port} is out of range; use 1 to 65535, or 0 for 8472`);
  const mtu = backend.integer('MTU');
  if (mtu !== undefined && mtu !== 0 && (mtu < 118 || mtu > 65535)) {
    throw new ConfigError('Backend.MTU', `${mtu} is out of range; give the underlay MTU (e.g. 1500), 50 is subtracted`);
  }
  return {
    type: 'vxlan',
    vni,
    port,
    mtu: mtu === 0 ? undefined : mtu,
    gbp: backend.boolean('GBP') ?? false,
    learning: backend.boolean('Learning') ?? false,
    directRouting: backend.boolean('DirectRouting') ?? false,
  };
}

function defaultVxlan(): VxlanOptions {
  return { type: 'vxlan', vni: 1, port: 0, mtu: undefined, gbp: false, learning: false, directRouting: false };
}

/** A JSON object whose keys are looked up without regard to case, as Go's encoding/json does. */
class CaseInsensitiveObject {
  private readonly entries = new Map<string, unknown>();

  constructor(
    raw: unknown,
    private readonly path: string,
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(path, 'must be a JSON object like {"Network":"10.244.0.0/16"}');
    }
    for (const [key, value] of Object.entries(raw)) this.entries.set(key.toLowerCase(), value);
  }

  private field(name: string): string {
    return this.path === 'net-conf.json' ? name : `${this.path}.${name}`;
  }

  private get(name: string): unknown {
    const value = this.entries.get(name.toLowerCase());
    return value === null ? undefined : value;
  }

  string(name: string): string | undefined {
    const value = this.get(name);
    if (value === undefined || typeof value === 'string') return value;
    throw new ConfigError(this.field(name), `must be a string, got ${JSON.stringify(value)}`);
  }

  integer(name: string): number | undefined {
    const value = this.get(name);
    if (value === undefined || (typeof value === 'number' && Number.isInteger(value))) return value;
    throw new ConfigError(this.field(name), `must be a whole number, got ${JSON.stringify(value)}`);
  }

  boolean(name: string): boolean | undefined {
    const value = this.get(name);
    if (value === undefined || typeof value === 'boolean') return value;
    throw new ConfigError(this.field(name), `must be true or false, got ${JSON.stringify(value)}`);
  }

  object(name: string): CaseInsensitiveObject | undefined {
    const value = this.get(name);
    return value === undefined ? undefined : new CaseInsensitiveObject(value, this.field(name));
  }
}
