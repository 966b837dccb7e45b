// Finds a delegate plugin on CNI_PATH and runs it the way a runtime would: the same environment
// with CNI_COMMAND set, the config on stdin, the result (or a CNI error) on stdout.
import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { CniCode, CniError } from './cni-error.js';

export async function findPlugin(type: string, cniPath: string): Promise<string> {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(type)) throw new CniError(CniCode.invalidConfig, `delegate type "${type}" is not a plugin name`);
  const dirs = cniPath.split(':').filter((d) => d !== '');
  for (const dir of dirs) {
    const candidate = join(dir, type);
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
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
export async function runDelegate(
  command: string,
  config: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  overrides: Record<string, string> = {},
): Promise<string> {
  const type = String(config['type']);
  const path = await findPlugin(type, env['CNI_PATH'] ?? '');
  const { stdout, code } = await new Promise<{ stdout: string; code: number }>((resolve, reject) => {
    const child = spawn(path, [], { env: { ...env, ...overrides, CNI_COMMAND: command }, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.on('error', (err) => { reject(new CniError(CniCode.ioFailure, `running ${path}: ${err.message}`)); });
    child.on('close', (exitCode) => { resolve({ stdout: out, code: exitCode ?? 1 }); });
    // A delegate that exits before reading stdin must not turn into an unhandled EPIPE.
    child.stdin.on('error', () => undefined);
    child.stdin.end(JSON.stringify(config));
  });
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
