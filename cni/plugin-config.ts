// The weft plugin's network configuration (stdin), checked field by field, and the delegate
// configuration built from it and subnet.env exactly as flannel's CNI plugin builds it.
import { CniCode, CniError } from './cni-error.js';
import { checkVersion } from './cni-versions.js';
import type { SubnetEnv } from './subnet-env-file.js';

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
  /** weft extension: where host-local keeps its allocations (its default: /var/lib/cni/networks). */
  ipamDataDir: string | undefined;
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
  const cniVersion = text('cniVersion');
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
  const runtimeConfig = raw['runtimeConfig'];
  return {
    name: text('name'),
    cniVersion,
    subnetFile: text('subnetFile', DEFAULT_SUBNET_FILE),
    dataDir: text('dataDir', DEFAULT_DATA_DIR),
    delegate,
    ipamDataDir: raw['ipamDataDir'] === undefined ? undefined : text('ipamDataDir'),
    runtimeConfig: isObject(runtimeConfig) ? runtimeConfig : undefined,
  };
}

/** The delegate's network configuration: defaults from subnet.env, then the user's overrides. */
export function buildDelegateConfig(conf: PluginConfig, env: SubnetEnv, cniVersion: string): Json {
  const delegate: Json = { type: 'bridge', ...conf.delegate, name: conf.name, cniVersion };
  if (!('mtu' in delegate)) delegate['mtu'] = env.mtu;
  if (!('ipMasq' in delegate)) delegate['ipMasq'] = !env.ipMasq; // weftd masquerades already when ipMasq is on
  if (delegate['type'] === 'bridge' && !('isGateway' in delegate)) delegate['isGateway'] = true;
  delegate['ipam'] = {
    type: 'host-local',
    ranges: [[{ subnet: env.subnet }]],
    // flannel leaves out "gw"; then bridge's CHECK cannot match the route it installed via the gateway.
    routes: env.networks.map((dst) => ({ dst, gw: env.gateway })),
    ...(conf.ipamDataDir ? { dataDir: conf.ipamDataDir } : {}),
  };
  if (conf.runtimeConfig) delegate['runtimeConfig'] = conf.runtimeConfig;
  return delegate;
}
