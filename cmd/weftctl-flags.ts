// weftctl's command line (and FLANNELD_* environment equivalents for the store flags, as weftd reads
// them; the command line wins), parsed into one typed command. Usage errors exit 2.
import yargs, { type Options } from 'yargs';
import { ConfigError } from '../subnet/errors.js';
import { STORE_FLAGS, asText, checkKubeFlags, etcdStoreOptions, flagValues, flannelEnvironment, numberFlag, oneLine, type FlagValues } from './store-flags.js';
import type { StoreTarget } from './weftctl-leases.js';

export type WeftctlCommand =
  | { kind: 'leases-list'; store: StoreTarget; json: boolean }
  | { kind: 'leases-watch'; store: StoreTarget; json: boolean; changesOnly: boolean; timeoutSeconds: number | undefined }
  | { kind: 'config-get'; store: StoreTarget }
  | { kind: 'config-set'; store: StoreTarget; file: string; force: boolean }
  | { kind: 'status'; url: string; json: boolean }
  | { kind: 'policy'; pod: string; connection: { kubeconfigFile: string | undefined; apiUrl: string | undefined }; json: boolean };

export type ParsedWeftctl = { kind: 'run'; command: WeftctlCommand } | { kind: 'exit'; code: number; output: string };

export const EXIT_USAGE = 2;

const FLAGS = {
  ...STORE_FLAGS,
  'healthz-ip': { type: 'string', default: '127.0.0.1', describe: 'status: address of weftd\'s health server' },
  'healthz-port': numberFlag(0, 'status: port of weftd\'s health server'),
} satisfies Record<string, Options>;

// yargs turns a lone "-" into an empty string; it travels as this token instead.
const STDIN_TOKEN = '<stdin>';

export async function parseWeftctlArgs(rawArgv: string[], env: NodeJS.ProcessEnv, version: string): Promise<ParsedWeftctl> {
  let output = '';
  let failure: string | undefined;
  const argv = rawArgv.map((arg) => (arg === '-' ? STDIN_TOKEN : arg));
  const parser = yargs(argv)
    .scriptName('weftctl')
    .usage(
      'weftctl <command> [flags]\n\nInspect and manage a weft (flannel-compatible) network.\n' +
        'Store flags can also be set as FLANNELD_<FLAG> (upper case, - becomes _), as for weftd.\n' +
        'Exit codes: 0 ok, 1 error (or refused, or not ready), 2 usage.',
    )
    .parserConfiguration({ 'camel-case-expansion': false, 'strip-aliased': true })
    .config(flannelEnvironment(FLAGS, env))
    .options(FLAGS)
    .command('leases <action>', 'list or watch subnet leases', (y) =>
      y
        .positional('action', { choices: ['list', 'watch'] as const, describe: 'list once, or print changes until Ctrl-C' })
        .option('json', { type: 'boolean', default: false, describe: 'list: one JSON array; watch: one JSON object per line' })
        .option('timeout', numberFlag(undefined, 'watch: stop after this many seconds'))
        .option('changes-only', { type: 'boolean', default: false, describe: 'watch: do not print the leases that exist at start' }),
    )
    .command('config <action> [file]', 'read or write the network config (etcd mode)', (y) =>
      y
        .positional('action', { choices: ['get', 'set'] as const })
        .positional('file', { type: 'string', describe: 'set: net-conf.json file, or - for stdin' })
        .option('force', { type: 'boolean', default: false, describe: 'set: write even if existing leases would not fit' }),
    )
    .command('status', 'show what the local weftd reports (its /status endpoint)', (y) =>
      y
        .option('url', { type: 'string', describe: 'base URL of the health server (instead of --healthz-ip/--healthz-port)' })
        .option('json', { type: 'boolean', default: false, describe: 'print the JSON document' }),
    )
    .command('policy <pod>', 'which NetworkPolicies select a pod (namespace/name) and what they allow (Kubernetes API)', (y) =>
      y
        .positional('pod', { type: 'string', describe: 'namespace/name' })
        .option('json', { type: 'boolean', default: false, describe: 'print the JSON document' }),
    )
    .demandCommand(1, 'give a command: leases, config, status or policy')
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
  if (failure !== undefined) return { kind: 'exit', code: EXIT_USAGE, output: `weftctl: ${oneLine(failure)} (see --help)` };
  if (output !== '') return { kind: 'exit', code: 0, output };
  try {
    return { kind: 'run', command: buildCommand(parsed) };
  } catch (err) {
    if (err instanceof ConfigError) return { kind: 'exit', code: EXIT_USAGE, output: `weftctl: ${err.message}` };
    throw err;
  }
}

function buildCommand(a: Record<string, unknown>): WeftctlCommand {
  const flags = flagValues(a);
  const { str, bool, optional } = flags;
  const command = asText([a['_']].flat()[0]);
  const action = str('action');

  if (command === 'status') {
    const port = flags.number('healthz-port', { min: 0, max: 65535, integer: true, use: 'the port weftd serves on, 1 to 65535' });
    const url = optional('url');
    if (url === undefined && port === 0) {
      throw new ConfigError('--healthz-port', 'status needs --url or the port weftd serves on (--healthz-port, FLANNELD_HEALTHZ_PORT)');
    }
    const host = str('healthz-ip') === '0.0.0.0' ? '127.0.0.1' : str('healthz-ip');
    return { kind: 'status', url: url ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`, json: bool('json') };
  }

  if (command === 'policy') {
    return { kind: 'policy', pod: str('pod'), connection: { kubeconfigFile: optional('kubeconfig-file'), apiUrl: optional('kube-api-url') }, json: bool('json') };
  }
  const store = storeTarget(flags);
  if (command === 'leases') {
    if (action === 'list') return { kind: 'leases-list', store, json: bool('json') };
    const timeout = optional('timeout') === undefined ? undefined : flags.number('timeout', { min: 0.001, max: 86_400, integer: false, use: 'seconds above 0, at most 86400' });
    return { kind: 'leases-watch', store, json: bool('json'), changesOnly: bool('changes-only'), timeoutSeconds: timeout };
  }
  if (store.kind === 'kube') {
    throw new ConfigError('config', 'works on etcd only; in Kubernetes mode edit net-conf.json in the kube-flannel-cfg ConfigMap');
  }
  if (action === 'get') return { kind: 'config-get', store };
  const file = optional('file');
  if (file === undefined) throw new ConfigError('config set', 'needs a file name, or - to read stdin');
  return { kind: 'config-set', store, file: file === STDIN_TOKEN ? '-' : file, force: bool('force') };
}

function storeTarget(flags: FlagValues): StoreTarget {
  if (flags.bool('kube-subnet-mgr')) {
    checkKubeFlags(flags);
    return {
      kind: 'kube', kubeconfigFile: flags.optional('kubeconfig-file'), apiUrl: flags.optional('kube-api-url'), annotationPrefix: flags.str('kube-annotation-prefix'),
    };
  }
  return etcdStoreOptions(flags);
}
