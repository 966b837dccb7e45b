// Flannel's flags (and FLANNELD_* environment equivalents; a flag on the command line wins), parsed
// into typed DaemonOptions. Kept apart from the entry point so it can be tested without a process.
import { isIP } from 'node:net';
import yargs, { type Options } from 'yargs';
import type { DaemonOptions } from '../overlay/daemon-options.js';
import { ConfigError } from '../subnet/errors.js';
import { STORE_FLAGS, asText, checkKubeFlags, etcdStoreOptions, flagValues, flannelEnvironment, numberFlag, oneLine, type FlagValues, type NumberRange } from './store-flags.js';
import { IpAddress } from '../subnet/ip-address.js';

export interface LogOptions {
  logLevel: string;
  logFormat: 'text' | 'json';
}

export type ParsedCommandLine =
  | { kind: 'run'; options: DaemonOptions; log: LogOptions }
  | { kind: 'exit'; code: number; output: string };

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];

const FLAGS = {
  ...STORE_FLAGS,
  'net-config-path': { type: 'string', default: '/etc/kube-flannel/net-conf.json', describe: 'net-conf.json path (kube mode)' },
  'set-node-network-unavailable': { type: 'boolean', default: true, describe: 'set NetworkUnavailable=False when ready (kube mode)' },
  'iface': { type: 'string', array: true, default: [] as string[], describe: 'interface name or IP to use (repeatable)' },
  'iface-regex': { type: 'string', array: true, default: [] as string[], describe: 'regex matched against interface names and IPs (repeatable)' },
  'iface-can-reach': { type: 'string', default: '', describe: 'use the interface that routes to this IP' },
  'public-ip': { type: 'string', default: '', describe: 'IP published to peers (default: the interface IP)' },
  'public-ipv6': { type: 'string', default: '', describe: 'IPv6 address published to peers with EnableIPv6 (default: the interface\'s IPv6 address)' },
  'ip-masq': { type: 'boolean', default: false, describe: 'masquerade traffic leaving the pod network' },
  'ip-masq-fully-random-disable': { type: 'boolean', default: false, describe: 'masquerade without --random-fully' },
  'subnet-file': { type: 'string', default: '/run/flannel/subnet.env', describe: 'where to write subnet.env' },
  'subnet-lease-renew-margin': numberFlag(60, 'renew the lease this many minutes before it expires (1-1439)'),
  'healthz-ip': { type: 'string', default: '0.0.0.0', describe: 'health and metrics server address' },
  'healthz-port': numberFlag(0, 'health and metrics server port (0 = off)'),
  'iptables-resync': numberFlag(5, 'seconds between firewall rule checks'),
  'iptables-forward-rules': { type: 'boolean', default: true, describe: 'add FORWARD accept rules for the pod network' },
  'resync-interval': numberFlag(10, 'seconds between full kernel-state resyncs'),
  'probe-rate': numberFlag(5, 'datapath probes (ICMP to peers) per second, in total; 0 = off'),
  'log-level': { type: 'string', default: 'info', describe: `one of ${LOG_LEVELS.join(', ')}` },
  'log-format': { type: 'string', default: 'text', describe: 'text or json' },
} satisfies Record<string, Options>;

export async function parseWeftdArgs(argv: string[], env: NodeJS.ProcessEnv, version: string): Promise<ParsedCommandLine> {
  let output = '';
  let failure: string | undefined;
  let fromEnv: Record<string, unknown>;
  try {
    fromEnv = flannelEnvironment(FLAGS, env);
  } catch (err) {
    if (err instanceof ConfigError) return { kind: 'exit', code: 1, output: `weftd: ${err.message}` };
    throw err;
  }
  let parser = yargs(argv)
    .scriptName('weftd')
    .usage('weftd [flags]\n\nThe weft node daemon: leases this node a pod subnet and programs the overlay.\nEvery flag can also be set as FLANNELD_<FLAG> (upper case, - becomes _); the command line wins.')
    .parserConfiguration({ 'camel-case-expansion': false, 'strip-aliased': true })
    .config(fromEnv);
  for (const [name, spec] of Object.entries(FLAGS)) parser = parser.option(name, spec);
  parser = parser
    .version(version)
    .help()
    .strict()
    .showHelpOnFail(false)
    .exitProcess(false)
    .fail((message: string | null, error: Error | undefined) => {
      failure = message ?? error?.message ?? 'invalid arguments';
    })
    .wrap(110);

  const parsed = await parser.parseAsync(argv, {}, (_err, _argv, out) => {
    output = out;
  });
  if (failure !== undefined) return { kind: 'exit', code: 1, output: `weftd: ${oneLine(failure)} (see --help)` };
  if (output !== '') return { kind: 'exit', code: 0, output };

  try {
    return buildOptions(parsed, env);
  } catch (err) {
    if (err instanceof ConfigError) return { kind: 'exit', code: 1, output: `weftd: ${err.message}` };
    throw err;
  }
}

// Timers take at most 2^31-1 ms (~24.8 days); a longer period would fire at once.
const DAY_SECONDS = 86_400;
const RANGES = {
  'subnet-lease-renew-margin': { min: 1, max: 1439, integer: true, use: 'whole minutes from 1 to 1439 (default 60)' },
  'healthz-port': { min: 0, max: 65535, integer: true, use: 'a port from 1 to 65535, or 0 for no health server' },
  'probe-rate': { min: 0, max: 1000, integer: false, use: '0 (off) to 1000 per second' },
  'iptables-resync': { min: 0.001, max: DAY_SECONDS, integer: false, use: `seconds above 0, at most ${DAY_SECONDS}` },
  'resync-interval': { min: 0.001, max: DAY_SECONDS, integer: false, use: `seconds above 0, at most ${DAY_SECONDS}` },
} satisfies Record<string, NumberRange>;

/** Addresses and patterns that would otherwise fail only after the store is reached. */
function checkAddressFlags(flags: FlagValues, ifaceRegex: readonly string[]): void {
  const healthzIp = flags.str('healthz-ip');
  if (isIP(healthzIp) === 0) throw new ConfigError('--healthz-ip', `"${healthzIp}" is not an IP address; use e.g. 0.0.0.0 or 127.0.0.1`);
  const addressFlags = [['public-ip', 'ipv4', 'an IPv4', '192.0.2.10'], ['public-ipv6', 'ipv6', 'an IPv6', '2001:db8::10'], ['iface-can-reach', undefined, 'an IP', '192.0.2.10']] as const;
  for (const [name, family, what, example] of addressFlags) {
    const text = flags.optional(name);
    if (text !== undefined && IpAddress.parse(text, family) === undefined) throw new ConfigError(`--${name}`, `"${text}" is not ${what} address; write it like ${example}`);
  }
  for (const source of ifaceRegex) {
    try {
      RegExp(source);
    } catch (err) {
      throw new ConfigError('--iface-regex', `"${source}" is not a valid regular expression (${(err as Error).message})`);
    }
  }
}

function buildOptions(a: Record<string, unknown>, env: NodeJS.ProcessEnv): ParsedCommandLine {
  // A flag given twice comes as an array: the last one wins, as with flannel's Go flags.
  const flags = flagValues(a);
  const { str, bool, optional, list } = flags;
  const num = (name: keyof typeof RANGES): number => flags.number(name, RANGES[name]);
  const renewMargin = num('subnet-lease-renew-margin');
  const healthzPort = num('healthz-port');
  const probeRate = num('probe-rate');
  const ifaceRegex = [a['iface-regex'] ?? []].flat().map(asText); // not split at commas: a regex may hold one
  checkAddressFlags(flags, ifaceRegex);
  const logLevel = str('log-level');
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('--log-level', `"${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  const logFormat = str('log-format');
  if (logFormat !== 'text' && logFormat !== 'json') throw new ConfigError('--log-format', `"${logFormat}" is not text or json`);

  if (bool('kube-subnet-mgr')) checkKubeFlags(flags);
  const store: DaemonOptions['store'] = bool('kube-subnet-mgr')
    ? {
        kind: 'kube',
        apiUrl: optional('kube-api-url'),
        kubeconfigFile: optional('kubeconfig-file'),
        annotationPrefix: str('kube-annotation-prefix'),
        netConfigPath: str('net-config-path'),
        nodeName: env['NODE_NAME'] || undefined,
        podName: env['POD_NAME'] || undefined,
        podNamespace: env['POD_NAMESPACE'] || undefined,
        setNodeNetworkUnavailable: bool('set-node-network-unavailable'),
      }
    : etcdStoreOptions(flags);

  return {
    kind: 'run',
    log: { logLevel, logFormat },
    options: {
      store,
      interfaceChoice: {
        iface: list('iface'),
        ifaceRegex,
        ifaceCanReach: optional('iface-can-reach'),
        publicIp: optional('public-ip'),
        publicIpv6: optional('public-ipv6'),
      },
      ipMasq: bool('ip-masq'),
      ipMasqRandomFully: !bool('ip-masq-fully-random-disable'),
      subnetFile: str('subnet-file'),
      renewMarginMinutes: renewMargin,
      healthzIp: str('healthz-ip'),
      healthzPort,
      iptablesResyncSeconds: num('iptables-resync'),
      iptablesForwardRules: bool('iptables-forward-rules'),
      resyncMs: num('resync-interval') * 1000,
      probeRatePerSecond: probeRate,
    },
  };
}
