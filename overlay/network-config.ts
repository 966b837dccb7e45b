// net-conf.json: parsed and validated exactly as flannel does (keys match case-insensitively), with
// errors that name the field and the fix. The one divergence: a missing Backend means vxlan, not udp.
// Both address families go through one set of rules (FAMILY_RULES holds what differs: field names
// and flannel's limits).
import { FAMILIES, IpAddress, type IpFamily } from '../subnet/ip-address.js';
import { IpPrefix } from '../subnet/ip-prefix.js';
import { ConfigError } from '../subnet/errors.js';
import type { SubnetPool } from '../subnet/lease.js';
import { CaseInsensitiveObject } from './case-insensitive-object.js';

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

export interface NetworkConfig {
  /** Present when EnableIPv4 (the default). */
  ipv4: SubnetPool | undefined;
  /** Present when EnableIPv6. */
  ipv6: SubnetPool | undefined;
  enableNFTables: boolean;
  backend: BackendOptions;
  /** Things an operator should know but that do not stop start-up (e.g. the vxlan default). */
  warnings: string[];
}

/** What flannel's CheckNetworkConfig does differently per family. */
interface FamilyRules {
  fields: { network: string; subnetLen: string; subnetMin: string; subnetMax: string };
  /** The longest SubnetLen: a node needs a tunnel and a bridge address. The smallest network is 2 bits shorter. */
  longestSubnetLen: number;
  /** SubnetLen when unset, if the network holds at least four such subnets (else prefix + 2). */
  defaultSubnetLen: number;
  exampleSubnet: string;
}

const FAMILY_RULES: Readonly<Record<IpFamily, FamilyRules>> = {
  ipv4: {
    fields: { network: 'Network', subnetLen: 'SubnetLen', subnetMin: 'SubnetMin', subnetMax: 'SubnetMax' },
    longestSubnetLen: 30,
    defaultSubnetLen: 24,
    exampleSubnet: '10.244.1.0',
  },
  ipv6: {
    fields: { network: 'IPv6Network', subnetLen: 'IPv6SubnetLen', subnetMin: 'IPv6SubnetMin', subnetMax: 'IPv6SubnetMax' },
    longestSubnetLen: 126,
    defaultSubnetLen: 64,
    exampleSubnet: 'fd00:10:244:1::',
  },
};

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
  const enableIPv6 = conf.boolean('EnableIPv6') ?? false;
  if (!enableIPv4 && !enableIPv6) {
    throw new ConfigError('EnableIPv4', 'is false and EnableIPv6 is not true, so no address family is left; set EnableIPv4 to true, or EnableIPv6 to true with an IPv6Network');
  }
  const poolIf = (enabled: boolean, family: IpFamily, flag: string): SubnetPool | undefined => {
    if (enabled) return parsePool(conf, family, warnings);
    const ignored = Object.values(FAMILY_RULES[family].fields).filter((field) => conf.has(field));
    if (ignored.length > 0) warnings.push(`${ignored.join(', ')} ignored: ${flag} is not true (flannel ignores them too)`);
    return undefined;
  };
  return {
    ipv4: poolIf(enableIPv4, 'ipv4', 'EnableIPv4'),
    ipv6: poolIf(enableIPv6, 'ipv6', 'EnableIPv6'),
    enableNFTables: conf.boolean('EnableNFTables') ?? false,
    backend: parseBackend(conf.object('Backend'), warnings),
    warnings,
  };
}

/** The families the network runs, IPv4 first (the primary family picks the underlay interface). */
export function enabledFamilies(config: Pick<NetworkConfig, 'ipv4' | 'ipv6'>): IpFamily[] {
  return (['ipv4', 'ipv6'] as const).filter((family) => config[family] !== undefined);
}

function parsePool(conf: CaseInsensitiveObject, family: IpFamily, warnings: string[]): SubnetPool {
  const { fields } = FAMILY_RULES[family];
  const { label, exampleNetwork } = FAMILIES[family];
  const networkText = conf.string(fields.network);
  if (networkText === undefined) {
    throw new ConfigError(fields.network, `is missing; set it to the pod network, e.g. "${exampleNetwork}"`);
  }
  const cidr = IpPrefix.parseCidr(networkText, family);
  if (cidr === undefined) {
    throw new ConfigError(fields.network, `"${networkText}" is not an ${label} CIDR; write it like "${exampleNetwork}"`);
  }
  const network = cidr.prefix;
  if (!cidr.address.equals(network.address)) {
    // flannel masks it without a word (net.ParseCIDR); a node must lease from the same network as flannel's.
    warnings.push(`${fields.network} "${networkText}" has host bits set; using ${network.toString()} as flannel does (write it so to silence this)`);
  }

  const subnetLen = parseSubnetLen(conf, family, network);
  const subnetSize = 1n << BigInt(network.address.bits - subnetLen);
  const subnetMin = parseBound(conf, fields.subnetMin, family, network, subnetLen) ?? network.host(subnetSize);
  const subnetMax = parseBound(conf, fields.subnetMax, family, network, subnetLen) ?? network.host(network.size - subnetSize);
  if (subnetMin === undefined || subnetMax === undefined) {
    throw new RangeError('unreachable: a network holds at least four subnets here');
  }
  if (subnetMin.compare(subnetMax) > 0) {
    throw new ConfigError(fields.subnetMin, `${subnetMin.toString()} is above ${fields.subnetMax} ${subnetMax.toString()}; swap them`);
  }
  return { network, subnetLen, subnetMin, subnetMax };
}

function parseSubnetLen(conf: CaseInsensitiveObject, family: IpFamily, network: IpPrefix): number {
  const { fields, longestSubnetLen, defaultSubnetLen } = FAMILY_RULES[family];
  const subnetLen = conf.integer(fields.subnetLen);
  if (subnetLen !== undefined && subnetLen !== 0) {
    if (subnetLen > longestSubnetLen) {
      throw new ConfigError(
        fields.subnetLen,
        `${subnetLen} is too long: each node needs at least a /${longestSubnetLen}; use ${longestSubnetLen} or less`,
      );
    }
    if (subnetLen < network.prefixLength + 2) {
      throw new ConfigError(
        fields.subnetLen,
        `/${subnetLen} fits fewer than four times into ${network.toString()}; use at least ${network.prefixLength + 2}`,
      );
    }
    return subnetLen;
  }
  if (network.prefixLength > longestSubnetLen - 2) {
    throw new ConfigError(fields.network, `${network.toString()} is too small; the smallest useful network is a /${longestSubnetLen - 2}`);
  }
  return network.prefixLength <= defaultSubnetLen - 2 ? defaultSubnetLen : network.prefixLength + 2;
}

function parseBound(conf: CaseInsensitiveObject, field: string, family: IpFamily, network: IpPrefix, subnetLen: number): IpAddress | undefined {
  const text = conf.string(field);
  if (text === undefined || text === '') return undefined;
  const { fields, exampleSubnet } = FAMILY_RULES[family];
  const ip = IpAddress.parse(text, family);
  if (ip === undefined) throw new ConfigError(field, `"${text}" is not an ${FAMILIES[family].label} address; write it like "${exampleSubnet}"`);
  if (!network.contains(ip)) {
    throw new ConfigError(field, `${text} is not inside ${fields.network} ${network.toString()}; pick an address inside it`);
  }
  const aligned = IpPrefix.of(ip, subnetLen).address;
  if (!aligned.equals(ip)) {
    throw new ConfigError(field, `${text} is not on a /${subnetLen} boundary; did you mean ${aligned.toString()}?`);
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
