// Finds a delegate plugin on CNI_PATH and runs it the way a runtime would: the same environment
// with CNI_COMMAND set, the config on stdin, the result (or a CNI error) on stdout. Synchronous on
// purpose: the plugin is a one-shot process that waits for its delegate anyway, and spawnSync and
// accessSync spare it the pipe streams and libuv's thread pool, which cost more to start than they
// could ever save here.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { CniCode, CniError } from './cni-error.js';

export function findPlugin(type: string, cniPath: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(type)) throw new CniError(CniCode.invalidConfig, `delegate type "${type}" is not a plugin name`);
  const dirs = cniPath.split(':').filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = join(dir, type);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here: the next directory
    }
  }
  // I/O failure, not bad config: the config is fine, the node lacks the plugin binary.
  throw new CniError(
    CniCode.ioFailure,
    `delegate plugin "${type}" not found on CNI_PATH (${cniPath})`,
    `looked in ${dirs.join(', ') || '(CNI_PATH is empty)'}; install containernetworking-plugins there or fix CNI_PATH`,
  );
}

export type DelegateRunner = (
  command: string,
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  overrides?: Record<string, string>,
) => Promise<string>;

/** Runs `command` on the delegate; resolves with its stdout, or rejects with its CNI error. */
export function runDelegate(
  command: string,
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string> = {},
): Promise<string> {
  // A throw inside the executor becomes the rejection.
  return new Promise((resolve) => { resolve(runDelegateSync(command, config, { ...env, ...overrides, CNI_COMMAND: command })); });
}

function runDelegateSync(command: string, config: Record<string, unknown>, env: NodeJS.ProcessEnv): string {
  const type = String(config['type']);
  const path = findPlugin(type, env['CNI_PATH'] ?? '');
  const child = spawnSync(path, [], { env, input: JSON.stringify(config), stdio: ['pipe', 'pipe', 'inherit'], maxBuffer: 16 * 1024 * 1024 });
  // A delegate that exits before reading its stdin (EPIPE) still answers on stdout.
  if (child.error && (child.error as NodeJS.ErrnoException).code !== 'EPIPE') {
    throw new CniError(CniCode.ioFailure, `running ${path}: ${child.error.message}`);
  }
  const stdout = child.stdout.toString();
  const code = child.status ?? 1;
  if (code === 0) return stdout;
  let failure: { code?: number; msg?: string; details?: string } = {};
  try {
    failure = JSON.parse(stdout) as typeof failure;
  } catch {
    // not a CNI error document: report what it printed
  }
  throw new CniError(
    failure.code ?? CniCode.ioFailure,
    `${type} ${command} failed: ${failure.msg ?? (stdout.trim() || `exit code ${code}`)}`,
    failure.details ?? '',
  );
}

/** Whether the delegate plugin `type` speaks `version` (its VERSION answer lists it). */
export async function delegateSpeaks(run: DelegateRunner, type: string, env: NodeJS.ProcessEnv, version: string): Promise<boolean> {
  try {
    const info = JSON.parse(await run('VERSION', { type, cniVersion: version }, env)) as { supportedVersions?: unknown };
    return Array.isArray(info.supportedVersions) && info.supportedVersions.includes(version);
  } catch {
    return false; // not found, or no VERSION answer: it cannot be asked
  }
}
