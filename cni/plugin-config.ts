// The weft plugin's network configuration (stdin), checked field by field, and the delegate
// configuration built from it and subnet.env exactly as flannel's CNI plugin builds it.
import { CniCode, CniError } from './cni-error.js';
import { checkVersion } from './cni-versions.js';
import { readSubnetEnv, type SubnetEnv } from './subnet-env-file.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';
export const DEFAULT_DATA_DIR = '/var/lib/cni/flannel';

type Json = Record<string, unknown>;

export interface PluginConfig {
  name: string;
  cniVersion: string;
  subnetFile: string;
  dataDir: string;
  /** Overrides for the delegate (bridge by default); must not carry `name` or `ipam`. */
  delegate: Json;
  /**
   * Top-level "ipam" as flannel reads it: kept for the delegate (e.g. host-local's dataDir), with
   * "ranges" taken from subnet.env and the subnet.env networks appended to its "routes".
   */
  ipam: Json;
  runtimeConfig: Json | undefined;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parsePluginConfig(stdin: string): PluginConfig {
  if (stdin.trim() === '') {
    throw new CniError(CniCode.decodingFailure, 'no network configuration on stdin', 'the runtime passes the network config as JSON on stdin');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CniCode.decodingFailure, `network configuration is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw new CniError(CniCode.decodingFailure, 'network configuration must be a JSON object');
  const text = (key: string, fallback?: string): string => {
    const value = raw[key] ?? fallback;
    if (typeof value !== 'string' || value === '') {
      throw new CniError(CniCode.invalidConfig, `"${key}" must be a non-empty string`, `got ${JSON.stringify(raw[key])}`);
    }
    return value;
  };
  // The reference skel (and so flannel's plugin) reads a config without cniVersion as 0.1.0.
  const cniVersion = raw['cniVersion'] === undefined || raw['cniVersion'] === '' ? '0.1.0' : text('cniVersion');
  checkVersion(cniVersion);
  const delegate = raw['delegate'] ?? {};
  if (!isObject(delegate)) throw new CniError(CniCode.invalidConfig, '"delegate" must be an object', 'e.g. {"hairpinMode": true}');
  for (const key of ['name', 'ipam'] as const) {
    if (key in delegate) {
      throw new CniError(
        CniCode.invalidConfig,
        `"delegate" must not set "${key}"`,
        key === 'name' ? 'the delegate takes the network\'s own "name"' : 'weft builds the host-local IPAM from subnet.env; remove "ipam" from "delegate"',
      );
    }
  }
  if ('type' in delegate && (typeof delegate['type'] !== 'string' || delegate['type'] === '')) {
    throw new CniError(CniCode.invalidConfig, '"delegate.type" must be a plugin name', 'e.g. "bridge"; leave it out for bridge');
  }
  const ipam = raw['ipam'] ?? {};
  if (!isObject(ipam)) throw new CniError(CniCode.invalidConfig, '"ipam" must be an object', 'e.g. {"dataDir": "/var/lib/cni/networks"}');
  if ('routes' in ipam && !Array.isArray(ipam['routes'])) throw new CniError(CniCode.invalidConfig, '"ipam.routes" must be a list of {"dst": CIDR}');
  // weft's older shorthand for ipam.dataDir (the lab uses it); "ipam" wins when both are set.
  if (raw['ipamDataDir'] !== undefined && !('dataDir' in ipam)) ipam['dataDir'] = text('ipamDataDir');
  const runtimeConfig = raw['runtimeConfig'];
  return {
    name: text('name'),
    cniVersion,
    subnetFile: text('subnetFile', DEFAULT_SUBNET_FILE),
    dataDir: text('dataDir', DEFAULT_DATA_DIR),
    delegate,
    ipam,
    runtimeConfig: isObject(runtimeConfig) ? runtimeConfig : undefined,
  };
}

/** The delegate's network configuration: defaults from subnet.env, then the user's overrides. */
export function buildDelegateConfig(conf: PluginConfig, env: SubnetEnv, cniVersion: string): Json {
  const delegate: Json = { type: 'bridge', ...conf.delegate, name: conf.name, cniVersion };
  if (!('mtu' in delegate)) delegate['mtu'] = env.mtu;
  if (!('ipMasq' in delegate)) delegate['ipMasq'] = !env.ipMasq; // weftd masquerades already when ipMasq is on
  if (delegate['type'] === 'bridge' && !('isGateway' in delegate)) delegate['isGateway'] = true;
  const userRoutes = Array.isArray(conf.ipam['routes']) ? (conf.ipam['routes'] as unknown[]) : [];
  delegate['ipam'] = {
    type: 'host-local',
    ...conf.ipam,
    ranges: env.subnets.map((subnet) => [{ subnet }]),
    // flannel leaves out "gw"; then bridge's CHECK cannot match the route it installed via the gateway.
    routes: [
      ...userRoutes,
      // A network of a family this node has no subnet in (no address on eth0) gets no route.
      ...env.networks.flatMap((dst) => { const gw = gatewayFor(dst, env); return gw === '' ? [] : [{ dst, gw }]; }),
    ],
  };
  if (conf.runtimeConfig) delegate['runtimeConfig'] = conf.runtimeConfig;
  return delegate;
}

/** The delegate config as ADD would build it now, from the current subnet.env. */
export function currentDelegateConfig(conf: PluginConfig, cniVersion: string): Json {
  return buildDelegateConfig(conf, readSubnetEnv(conf.subnetFile), cniVersion);
}

/** The gateway of the subnet in the same family as `network`. */
function gatewayFor(network: string, env: SubnetEnv): string {
  const v6 = network.includes(':');
  return env.gateways.find((gw) => gw.includes(':') === v6) ?? '';
}
