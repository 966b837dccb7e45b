// What weftd and weftctl share on their command lines: the lease-store flags (flannel's names),
// FLANNELD_* environment equivalents, and reading yargs' values (a repeated flag: the last wins).
import type { Options } from 'yargs';
import type { EtcdStoreOptions } from '../overlay/daemon-options.js';
import { ConfigError } from '../subnet/errors.js';

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
}

/** Typed access to parsed yargs values; a flag given twice comes as an array and the last one wins. */
export function flagValues(a: Record<string, unknown>): FlagValues {
  const str = (name: string): string => asText([a[name]].flat().at(-1));
  return {
    str,
    bool: (name) => [a[name]].flat().at(-1) === true,
    optional: (name) => (str(name) === '' ? undefined : str(name)),
    list: (name) => [a[name] ?? []].flat().flatMap((v) => asText(v).split(',')).filter((v) => v !== ''),
  };
}

/** The etcd flags as store options, checked. */
export function etcdStoreOptions(flags: FlagValues): EtcdStoreOptions {
  const endpoints = flags.list('etcd-endpoints');
  for (const endpoint of endpoints) {
    if (!/^https?:\/\/[^/\s]+\/?$/.test(endpoint)) {
      throw new ConfigError('--etcd-endpoints', `"${endpoint}" is not a URL like http://127.0.0.1:2379`);
    }
  }
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

export function asText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

/** yargs messages can span lines; errors here are one line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, '; ').trim();
}
