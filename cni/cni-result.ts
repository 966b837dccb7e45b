// Converts an ADD result between the spec's three result formats, so weft can answer in the version
// the runtime asked for whatever version the delegate answered in:
//   0.1.0/0.2.0  {ip4: {ip, gateway, routes}, ip6: {...}, dns}
//   0.3.x/0.4.0  {interfaces, ips: [{version, address, gateway, interface}], routes, dns}
//   1.x          as 0.4.0 without ips[].version (1.1.0 adds optional fields only)
import { CniCode, CniError } from './cni-error.js';
import { versionBefore } from './cni-versions.js';

type Json = Record<string, unknown>;

interface IpConfig extends Json {
  address: string;
  gateway?: string;
}

interface Route extends Json {
  dst: string;
}

/** The 1.x shape every conversion goes through. */
interface CurrentResult {
  interfaces?: unknown[];
  ips: IpConfig[];
  routes?: Route[];
  dns?: unknown;
  /** Anything else the delegate put in (kept as is). */
  rest: Json;
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const isV6 = (cidrOrAddress: string): boolean => cidrOrAddress.includes(':');

function invalid(why: string): CniError {
  return new CniError(CniCode.decodingFailure, `the delegate's result ${why}`);
}

function toCurrent(result: Json, from: string): CurrentResult {
  const { interfaces, ips, routes, dns, ip4, ip6, ...others } = result;
  const rest = Object.fromEntries(Object.entries(others).filter(([key]) => key !== 'cniVersion'));
  if (versionBefore(from, '0.3.0')) {
    const out: CurrentResult = { ips: [], routes: [], dns, rest };
    for (const legacy of [ip4, ip6]) {
      if (legacy === undefined) continue;
      if (!isObject(legacy) || typeof legacy['ip'] !== 'string') throw invalid('has an ip4/ip6 without "ip"');
      const { ip, gateway, routes: legacyRoutes } = legacy;
      out.ips.push({ address: ip, ...(typeof gateway === 'string' ? { gateway } : {}) });
      if (Array.isArray(legacyRoutes)) out.routes?.push(...(legacyRoutes as Route[]));
    }
    return out;
  }
  if (ips !== undefined && !Array.isArray(ips)) throw invalid('has "ips" that is not a list');
  const parsed: IpConfig[] = (ips ?? []).map((ip: unknown) => {
    if (!isObject(ip) || typeof ip['address'] !== 'string') throw invalid('has an "ips" entry without "address"');
    return Object.fromEntries(Object.entries(ip).filter(([key]) => key !== 'version')) as IpConfig;
  });
  return {
    ...(Array.isArray(interfaces) ? { interfaces } : {}),
    ips: parsed,
    ...(Array.isArray(routes) ? { routes: routes as Route[] } : {}),
    dns,
    rest,
  };
}

function fromCurrent(current: CurrentResult, to: string): Json {
  const dns = current.dns === undefined ? {} : { dns: current.dns };
  if (versionBefore(to, '0.3.0')) {
    const legacy = (v6: boolean): Json | undefined => {
      const ip = current.ips.find((c) => isV6(c.address) === v6);
      if (!ip) return undefined;
      const routes = (current.routes ?? []).filter((r) => isV6(r.dst) === v6);
      return { ip: ip.address, ...(ip.gateway ? { gateway: ip.gateway } : {}), ...(routes.length > 0 ? { routes } : {}) };
    };
    const [ip4, ip6] = [legacy(false), legacy(true)];
    return { cniVersion: to, ...(ip4 ? { ip4 } : {}), ...(ip6 ? { ip6 } : {}), ...dns };
  }
  const withVersion = versionBefore(to, '1.0.0');
  return {
    cniVersion: to,
    ...(current.interfaces ? { interfaces: current.interfaces } : {}),
    ips: current.ips.map((ip) => (withVersion ? { version: isV6(ip.address) ? '6' : '4', ...ip } : ip)),
    ...(current.routes ? { routes: current.routes } : {}),
    ...dns,
    ...current.rest,
  };
}

/** `result` (as the delegate printed it, parsed) in the format of `to`. */
export function convertResult(result: unknown, to: string): Json {
  if (!isObject(result)) throw invalid('is not a JSON object');
  const from = typeof result['cniVersion'] === 'string' ? result['cniVersion'] : to;
  return fromCurrent(toCurrent(result, from), to);
}

/** Parses a delegate's stdout and converts it; a non-JSON answer is a decoding failure. */
export function parseAndConvertResult(stdout: string, to: string): Json {
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw invalid(`is not JSON: ${JSON.stringify(stdout.slice(0, 200))}`);
  }
  return convertResult(parsed, to);
}
