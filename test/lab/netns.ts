// Network namespaces and processes that a test or the demo makes, and their guaranteed teardown.
// Everything created here carries a per-run prefix so that concurrent runs never collide and a
// leftover can be traced back to its run.
import { execFile, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { appendFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export interface ExecResult {
  stdout: string;
  stderr: string;
}

/** Runs a command in the host namespace (only `ip netns` management and read-only tools). */
export async function run(cmd: string, args: string[], input?: string): Promise<ExecResult> {
  if (input === undefined) {
    const { stdout, stderr } = await execFileAsync(cmd, args, { maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr };
  }
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) {
        const failure: Error = Object.assign(err, { stdout, stderr });
        reject(failure);
      }
      else resolve({ stdout, stderr });
    });
    child.stdin?.end(input);
  });
}

/**
 * A short prefix unique to this process, e.g. "wt3f9a-". Namespace names stay under 15 chars.
 * WEFT_NETNS_TAG picks the first letter (default w); leftovers are found by exact name, not by prefix.
 */
export function runPrefix(tag = process.env['WEFT_NETNS_TAG'] ?? 'w'): string {
  return `${tag}${(process.pid % 46656).toString(36)}${Math.floor(Math.random() * 1296).toString(36)}-`;
}

/**
 * Appends a namespace name to the run's registry (WEFT_NETNS_REGISTRY, set by test/run-all.sh) so
 * the runner can delete, by exact name, whatever a crashed test left; never a pattern match.
 */
function registerNamespace(name: string): void {
  const registry = process.env['WEFT_NETNS_REGISTRY'];
  if (registry) appendFileSync(registry, `${name}\n`);
}

/**
 * Owns every namespace, process and scratch directory it created and removes them all in
 * dispose(), which is safe to call more than once and also runs on SIGINT/SIGTERM of the owner.
 */
export class NetnsScope {
  private readonly namespaces = new Set<string>();
  private readonly processes = new Set<ChildProcess>();
  private readonly directories = new Set<string>();
  private readonly cleanups: (() => Promise<void>)[] = [];
  private readonly onSignal = (): void => {
    void this.dispose().finally(() => process.exit(130));
  };

  constructor(readonly prefix: string = runPrefix()) {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  /** Creates namespace `<prefix><name>` with loopback up and returns its full name. */
  async createNamespace(name: string): Promise<string> {
    const full = `${this.prefix}${name}`;
    registerNamespace(full);
    await run('ip', ['netns', 'add', full]);
    this.namespaces.add(full);
    await this.exec(full, 'ip', ['link', 'set', 'lo', 'up']);
    return full;
  }

  /** Runs a command to completion inside a namespace this scope created. */
  async exec(ns: string, cmd: string, args: string[], input?: string): Promise<ExecResult> {
    this.assertOwned(ns);
    return run('ip', ['netns', 'exec', ns, cmd, ...args], input);
  }

  /** Runs `ip -batch -` inside a namespace: many link/route changes in one process. */
  async ipBatch(ns: string, lines: string[]): Promise<void> {
    if (lines.length > 0) await this.exec(ns, 'ip', ['-batch', '-'], lines.join('\n') + '\n');
  }

  /** Starts a long-running process inside a namespace; it is killed by PID in dispose(). */
  spawn(ns: string, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    this.assertOwned(ns);
    // `ip netns exec` execs the command itself, so child.pid is the command's PID.
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'pipe', ...options });
    this.track(child);
    return child;
  }

  /** Tracks a process started elsewhere so that dispose() stops it too. */
  track(child: ChildProcess): void {
    this.processes.add(child);
    child.once('exit', () => this.processes.delete(child));
  }

  /** A scratch directory (logs, data) removed in dispose() unless WEFT_KEEP_LAB_LOGS is set. */
  trackDirectory(dir: string): void {
    this.directories.add(dir);
  }

  /**
   * Runs `cleanup` first in dispose() (last added, first run), before processes are stopped: for
   * what the scope cannot see itself, e.g. cgroups and the processes a node's containerd started.
   */
  addCleanup(cleanup: () => Promise<void>): void {
    this.cleanups.push(cleanup);
  }

  async deleteNamespace(ns: string): Promise<void> {
    this.assertOwned(ns);
    await run('ip', ['netns', 'delete', ns]).catch(() => undefined);
    this.namespaces.delete(ns);
  }

  /** Idempotent: a second caller (e.g. the signal handler and a finally block) awaits the same teardown. */
  dispose(): Promise<void> {
    this.disposing ??= this.disposeOnce();
    return this.disposing;
  }

  private disposing: Promise<void> | undefined;

  private async disposeOnce(): Promise<void> {
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
    for (const cleanup of this.cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
    await Promise.all([...this.processes].map((child) => stopProcess(child, 3000)));
    for (const ns of [...this.namespaces]) await this.deleteNamespace(ns);
    if (!process.env['WEFT_KEEP_LAB_LOGS']) {
      for (const dir of this.directories) await rm(dir, { recursive: true, force: true });
    }
    this.directories.clear();
  }

  private assertOwned(ns: string): void {
    if (!this.namespaces.has(ns)) throw new Error(`namespace ${ns} was not created by this scope`);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
export async function stopProcess(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => { resolve(); }));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` every `intervalMs` until it returns a value or `timeoutMs` passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
