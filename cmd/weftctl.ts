#!/usr/bin/env node
// weftctl: argv/env -> one typed command -> run it -> exit code (0 ok, 1 error, 2 usage).
// Each command's modules load only when it runs; --version and --help alone load no parser either.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../subnet/errors.js';
import { exitWithQuickAnswer } from './quick-answer.js';
import { packageVersion } from './version.js';
import type { WeftctlCommand } from './weftctl-flags.js';
import type { EtcdStore } from '../subnet/etcd-store.js';
import type { EtcdTarget, Output } from './weftctl-leases.js';

const io: Output = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

exitWithQuickAnswer('weftctl', process.argv.slice(2));
const { parseWeftctlArgs, EXIT_USAGE } = await import('./weftctl-flags.js');
const parsed = await parseWeftctlArgs(process.argv.slice(2), process.env, packageVersion());
if (parsed.kind === 'exit') {
  (parsed.code === 0 ? process.stdout : process.stderr).write(`${parsed.output}\n`);
  process.exit(parsed.code);
}

const STOP_GRACE_MS = 2000;
const LIST_TIMEOUT_MS = 30_000;
const controller = new AbortController();
/** The exit code if the command has to be ended by force: 0 for Ctrl-C and --timeout of a watch. */
let forcedExitCode = 0;
// Ctrl-C and timeouts end the command even if a store call in flight ignores the abort.
controller.signal.addEventListener('abort', () => { setTimeout(() => { process.exit(forcedExitCode); }, STOP_GRACE_MS).unref(); }, { once: true });

/**
 * A plain timer on the one controller: on Node 20, a signal made with AbortSignal.any() from an
 * AbortSignal.timeout() can be garbage-collected before it fires, and then it never aborts.
 */
function abortAfter(ms: number, exitCode: number): void {
  setTimeout(() => {
    forcedExitCode = exitCode;
    controller.abort(new Error(`timed out after ${ms} ms`));
  }, ms);
}
process.once('SIGINT', () => { controller.abort(); });
process.once('SIGTERM', () => { controller.abort(); });

let code: number;
try {
  code = await run(parsed.command);
} catch (err) {
  io.err(`weftctl: ${err instanceof ConfigError ? err.message : (err as Error).message}\n`);
  code = err instanceof ConfigError ? EXIT_USAGE : 1;
}
process.exitCode = code;
// Open gRPC/HTTP handles must not keep a finished command alive.
process.stdout.write('', () => process.exit(code));

async function run(command: WeftctlCommand): Promise<number> {
  switch (command.kind) {
    case 'leases-list': {
      const { listLeases, printLeaseList } = await import('./weftctl-leases.js');
      abortAfter(LIST_TIMEOUT_MS, 1);
      const rows = await listLeases(command.store, io, controller.signal);
      printLeaseList(rows, command.store.kind, command.json, io);
      return 0;
    }
    case 'leases-watch': {
      if (command.timeoutSeconds !== undefined) abortAfter(command.timeoutSeconds * 1000, 0);
      const signal = controller.signal;
      const { watchLeases } = await import('./weftctl-leases.js');
      const { createLogger } = await import('./logger.js');
      const logger = createLogger('warn', 'text');
      await watchLeases(command.store, { json: command.json, changesOnly: command.changesOnly }, io, logger, signal);
      return 0;
    }
    case 'config-get': {
      const { getConfig } = await import('./weftctl-config.js');
      return withEtcd(command.store as EtcdTarget, (store, prefix) => getConfig(store, prefix, io));
    }
    case 'config-set': {
      const text = command.file === '-' ? await readStdin() : await readFile(command.file, 'utf8');
      const force = command.force;
      const { setConfig } = await import('./weftctl-config.js');
      return withEtcd(command.store as EtcdTarget, (store, prefix) => setConfig(store, prefix, text, force, io));
    }
    case 'status': {
      const { showStatus } = await import('./weftctl-status.js');
      return showStatus(command.url, command.json, io);
    }
    case 'policy': {
      abortAfter(LIST_TIMEOUT_MS, 1);
      const { showPolicy } = await import('./weftctl-policy.js');
      return showPolicy(command.connection, command.pod, command.json, io);
    }
  }
}

async function withEtcd(target: EtcdTarget, action: (store: EtcdStore, prefix: string) => Promise<number>): Promise<number> {
  const { openEtcdStore } = await import('./weftctl-leases.js');
  const store = openEtcdStore(target);
  try {
    return await action(store, target.prefix);
  } finally {
    store.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
