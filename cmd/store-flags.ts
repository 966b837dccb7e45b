// What weftd and weftctl share on their command lines: the lease-store flags (flannel's names),
// FLANNELD_* environment equivalents, and reading yargs' values (a repeated flag: the last wins).
// Every value is checked here, so that a bad flag stops the process at start with one line naming
// it, instead of a retry loop against an address that can never answer.
import type { Options } from 'yargs';
import type { EtcdStoreOptions } from '../overlay/daemon-options.js';
import { ConfigError } from '../subnet/errors.js';
import { annotationKeys } from '../subnet/kube-annotations.js';

export const STORE_FLAGS = {
  'etcd-endpoints': { type: 'string', default: 'http://127.0.0.1:4001,http://127.0.0.1:2379', describe: 'comma-separated etcd endpoints' },
  'etcd-prefix': { type: 'string', default: '/coreos.com/network', describe: 'etcd prefix' },
  'etcd-keyfile': { type: 'string', default: '', describe: 'TLS key file for etcd' },
  'etcd-certfile': { type: 'string', default: '', describe: 'TLS certificate file for etcd' },
  'etcd-cafile': { type: 'string', default: '', describe: 'CA certificate file for etcd' },
  'etcd-username': { type: 'string', default: '', describe: 'etcd user name' },
  'etcd-password': { type: 'string', default: '', describe: 'etcd password' },
  'kube-subnet-mgr': { type: 'boolean', default: false, describe: 'use the Kubernetes API (node pod CIDRs and annotations) instead of etcd' },
  'kube-api-url': { type: 'string', default: '', describe: 'Kubernetes API server URL (in-cluster config otherwise)' },
  'kubeconfig-file': { type: 'string', default: '', describe: 'kubeconfig file' },
  'kube-annotation-prefix': { type: 'string', default: 'flannel.alpha.coreos.com', describe: 'node annotation prefix' },
} satisfies Record<string, Options>;

/** FLANNELD_<FLAG> variables as flag values; yargs ranks them below the command line. */
export function flannelEnvironment(flags: Record<string, Options>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(flags)) {
    const variable = `FLANNELD_${name.toUpperCase().replace(/-/g, '_')}`;
    const raw = env[variable];
    if (raw === undefined) continue;
    if (spec.type === 'boolean') {
      if (!/^(true|false|1|0)$/i.test(raw)) throw new ConfigError(variable, `"${raw}" is not true or false`);
      values[name] = /^(true|1)$/i.test(raw);
    } else if (spec.type === 'number') {
      values[name] = Number(raw);
    } else if (spec.array === true) {
      values[name] = raw.split(',').filter((v) => v !== '');
    } else {
      values[name] = raw;
    }
  }
  return values;
}

export interface FlagValues {
  str: (name: string) => string;
  bool: (name: string) => boolean;
  /** undefined for an empty string. */
  optional: (name: string) => string | undefined;
  /** Every value of a repeatable or comma-separated flag. */
  list: (name: string) => string[];
  /** A numeric flag (declared with numberFlag), checked against its range. */
  number: (name: string, range: NumberRange) => number;
}

export interface NumberRange {
  min: number;
  max: number;
  integer: boolean;
  /** What to give instead, for the error line: "whole minutes from 1 to 1439". */
  use: string;
}

/**
 * A numeric flag is read as text: yargs turns "abc" into NaN, and the error could not show what was
 * given. flagValues().number parses and checks it.
 */
export function numberFlag(defaultValue: number | undefined, describe: string): Options {
  return { type: 'string', requiresArg: true, describe: `${describe} (number)`, ...(defaultValue === undefined ? {} : { default: String(defaultValue) }) };
}

const NUMBER_TEXT = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function parseNumber(name: string, text: string, range: NumberRange): number {
  const value = NUMBER_TEXT.test(text.trim()) ? Number(text) : NaN;
  if (Number.isNaN(value)) throw new ConfigError(`--${name}`, `must be a number, got "${text}"; use ${range.use}`);
  if ((range.integer && !Number.isInteger(value)) || value < range.min || value > range.max) {
    throw new ConfigError(`--${name}`, `${text} is out of range; use ${range.use}`);
  }
  return value;
}

/** Typed access to parsed yargs values; a flag given twice comes as an array and the last one wins. */
export function flagValues(a: Record<string, unknown>): FlagValues {
  const str = (name: string): string => asText([a[name]].flat().at(-1));
  return {
    str,
    bool: (name) => [a[name]].flat().at(-1) === true,
    optional: (name) => (str(name) === '' ? undefined : str(name)),
    list: (name) => [a[name] ?? []].flat().flatMap((v) => asText(v).split(',')).filter((v) => v !== ''),
    number: (name, range) => parseNumber(name, str(name), range),
  };
}

/** The etcd flags as store options, checked. */
export function etcdStoreOptions(flags: FlagValues): EtcdStoreOptions {
  const endpoints = flags.list('etcd-endpoints');
  for (const endpoint of endpoints) checkUrl('--etcd-endpoints', endpoint, { portRequired: true, pathAllowed: false });
  if ((flags.str('etcd-keyfile') === '') !== (flags.str('etcd-certfile') === '')) {
    throw new ConfigError('--etcd-keyfile', 'TLS needs both --etcd-keyfile and --etcd-certfile; give both or neither');
  }
  return {
    kind: 'etcd',
    endpoints,
    prefix: flags.str('etcd-prefix').replace(/\/+$/, ''),
    keyFile: flags.optional('etcd-keyfile'),
    certFile: flags.optional('etcd-certfile'),
    caFile: flags.optional('etcd-cafile'),
    username: flags.optional('etcd-username'),
    password: flags.optional('etcd-password'),
  };
}

/** The kube flags that can be checked without reading files (the kubeconfig is read at start). */
export function checkKubeFlags(flags: FlagValues): void {
  annotationKeys(flags.str('kube-annotation-prefix')); // throws for a prefix flannel refuses
  const apiUrl = flags.optional('kube-api-url');
  if (apiUrl !== undefined) checkUrl('--kube-api-url', apiUrl, { portRequired: false, pathAllowed: true });
}

/**
 * An http(s) URL with a host and, when given, a port in 1-65535. Node's URL parser alone would say
 * "Invalid URL" for a bad port, and would accept an empty host that then hangs in DNS.
 */
export function checkUrl(flag: string, text: string, rules: { portRequired: boolean; pathAllowed: boolean }): void {
  const example = flag === '--etcd-endpoints' ? 'http://127.0.0.1:2379' : 'https://192.0.2.1:6443';
  const parts = /^(https?):\/\/(\[[0-9a-fA-F:.]*\]|[^/:?#\s]*)(?::([^/?#]*))?(\/[^\s]*)?$/.exec(text);
  if (parts === null) throw new ConfigError(flag, `"${text}" is not a URL like ${example}`);
  const [, , host = '', port, path = ''] = parts;
  if (host === '' || host === '[]') throw new ConfigError(flag, `"${text}" has no host; write it like ${example}`);
  if (port === undefined || port === '') {
    if (rules.portRequired) throw new ConfigError(flag, `"${text}" has no port; write it like ${example}`);
  } else if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) {
    throw new ConfigError(flag, `"${text}" has port ${port}, out of range; use a port from 1 to 65535, like ${example}`);
  }
  if (!rules.pathAllowed && path !== '' && path !== '/') throw new ConfigError(flag, `"${text}" has a path; write it like ${example}`);
  if (!URL.canParse(text)) throw new ConfigError(flag, `"${text}" is not a URL like ${example}`);
}

export function asText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

/** yargs messages can span lines; errors here are one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').trim();
}
