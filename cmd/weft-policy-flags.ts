// weft-policy's flags, parsed into typed options (kept apart from the entry point for tests).
import yargs from 'yargs';
import type { PolicyDaemonOptions } from '../policy/policy-daemon.js';

export type ParsedPolicyArgs =
  | { kind: 'run'; options: PolicyDaemonOptions; logLevel: string; logFormat: 'text' | 'json' }
  | { kind: 'exit'; code: number; output: string };

export async function parsePolicyArgs(argv: string[], env: NodeJS.ProcessEnv, version: string): Promise<ParsedPolicyArgs> {
  let output = '';
  let failure: string | undefined;
  const parser = yargs(argv)
    .scriptName('weft-policy')
    .usage('$0 [flags]: enforce Kubernetes NetworkPolicy for the pods of this node with nftables')
    .options({
      'kubeconfig-file': { type: 'string', default: '', describe: 'kubeconfig (default: in-cluster service account)' },
      'kube-api-url': { type: 'string', default: '', describe: 'API server URL (overrides the kubeconfig)' },
      'node-name': { type: 'string', default: env['NODE_NAME'] ?? '', describe: 'this node (default: $NODE_NAME)' },
      'subnet-file': { type: 'string', default: '/run/flannel/subnet.env', describe: "weftd's subnet.env (this node's pod subnet)" },
      'nft': { type: 'string', default: 'nft', describe: 'the nft binary' },
      'metrics-ip': { type: 'string', default: '0.0.0.0', describe: '/metrics and /healthz address' },
      'metrics-port': { type: 'number', default: 10268, describe: '/metrics and /healthz port (0 = off)' },
      'debounce-ms': { type: 'number', default: 100, describe: 'write changes arriving within this window together' },
      'resync-interval': { type: 'number', default: 60, describe: 'seconds between rewrites without changes (repairs)' },
      'enforce': { type: 'boolean', default: true, describe: 'false: remove the rules and enforce nothing' },
      'log-level': { type: 'string', default: 'info', choices: ['error', 'warn', 'info', 'debug'] },
      'log-format': { type: 'string', default: 'text', choices: ['text', 'json'] },
    })
    .strict()
    .version(version)
    .help()
    .exitProcess(false)
    .fail((message) => { failure = message; });
  const args = await parser.parse(argv, {}, (_err, _argv, text) => { output = text; });
  if (failure !== undefined) return { kind: 'exit', code: 2, output: `weft-policy: ${failure}` };
  if (output !== '') return { kind: 'exit', code: 0, output };
  const fail = (message: string): ParsedPolicyArgs => ({ kind: 'exit', code: 2, output: `weft-policy: ${message}` });
  if (args['node-name'] === '' && args.enforce) return fail('--node-name (or $NODE_NAME) is required: the pods of which node to protect');
  if (args['debounce-ms'] < 0 || args['debounce-ms'] > 10_000) return fail('--debounce-ms must be in 0..10000');
  if (args['resync-interval'] < 1) return fail('--resync-interval must be at least 1 second');
  return {
    kind: 'run',
    options: {
      connection: { kubeconfigFile: args['kubeconfig-file'] || undefined, apiUrl: args['kube-api-url'] || undefined },
      nodeName: args['node-name'],
      subnetFile: args['subnet-file'],
      nftCommand: [args.nft],
      metricsIp: args['metrics-ip'],
      metricsPort: args['metrics-port'],
      debounceMs: args['debounce-ms'],
      resyncMs: args['resync-interval'] * 1000,
      enforce: args.enforce,
    },
    logLevel: args['log-level'],
    logFormat: args['log-format'] as 'text' | 'json',
  };
}
