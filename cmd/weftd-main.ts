// weftd past the quick answers: flags -> (only then) the daemon's modules -> exit code. The entry
// of tsc's tree (cmd/weftd.ts) and of the code-cached bundle (cmd/weftd-launch.ts) both call it.
import { packageVersion } from './version.js';

/** Parses argv/env and runs the daemon until SIGTERM/SIGINT; resolves with the exit code. */
export async function weftdMain(argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const { parseWeftdArgs } = await import('./weftd-flags.js');
  const parsed = await parseWeftdArgs(argv, env, packageVersion());
  if (parsed.kind === 'exit') {
    (parsed.code === 0 ? process.stdout : process.stderr).write(`${parsed.output}\n`);
    return parsed.code;
  }
  const { runWeftd } = await import('./weftd-run.js');
  return runWeftd(parsed.options, parsed.log, packageVersion());
}

/**
 * Build time only (build/code-cache.ts): loads what an etcd-mode start compiles before it is
 * ready (flag parsing, the daemon's modules, etcd3 with gRPC and protobufjs) without starting
 * anything, so that V8's code cache of the bundle holds those functions already compiled.
 */
export async function compileStartupModules(): Promise<void> {
  const { parseWeftdArgs } = await import('./weftd-flags.js');
  await parseWeftdArgs(['--etcd-endpoints', 'http://127.0.0.1:2379'], {}, packageVersion());
  await import('./weftd-run.js');
  await import('../subnet/etcd-lease-manager.js');
}
