// The only module that runs `nft`. A transaction goes in on stdin (`nft -f -`), so the kernel
// applies it whole or not at all. The command prefix is injected: `nft` on a node, `ip netns exec
// NS nft` in tests.
import { spawn } from 'node:child_process';
import { TABLE_FAMILY, TABLE_NAME } from './nft-ruleset.js';

export type NftRunner = (args: readonly string[], input?: string) => Promise<string>;

/** nft failed: the operation, its exit code and what nft printed. */
export class NftError extends Error {
  constructor(readonly operation: string, readonly exitCode: number | null, readonly stderr: string) {
    super(`nft ${operation} failed (exit ${String(exitCode)}): ${stderr.trim().split('\n').slice(0, 6).join(' | ')}`);
  }
}

const NFT_TIMEOUT_MS = 30_000;

/** Runs `command... <args>` (e.g. ["nft"] or ["ip", "netns", "exec", "ns1", "nft"]). */
export function nftRunner(command: readonly string[] = ['nft']): NftRunner {
  const [file, ...prefix] = command;
  if (file === undefined) throw new Error('nft command is empty');
  return (args, input) => new Promise((resolve, reject) => {
    const child = spawn(file, [...prefix, ...args], { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], timeout: NFT_TIMEOUT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr?.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    child.once('error', (err) => { reject(new NftError(args.join(' '), null, err.message)); });
    child.once('close', (code) => {
      if (code === 0) resolve(stdout);
      else reject(new NftError(args.join(' '), code, stderr));
    });
    // If nft exits early, its exit code says why; a write error on its stdin adds nothing.
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(input);
  });
}

export class NftWriter {
  constructor(private readonly nft: NftRunner) {}

  /** Applies one transaction atomically. */
  async apply(script: string): Promise<void> {
    await this.nft(['-f', '-'], script);
  }

  /** Packets per named counter of weft's table; empty when the table does not exist. */
  async readCounters(): Promise<Map<string, number>> {
    let text: string;
    try {
      text = await this.nft(['-j', 'list', 'counters', 'table', TABLE_FAMILY, TABLE_NAME]);
    } catch (err) {
      if (err instanceof NftError && /No such file or directory/.test(err.stderr)) return new Map();
      throw err;
    }
    const out = new Map<string, number>();
    const parsed = JSON.parse(text) as { nftables?: { counter?: { name: string; packets: number } }[] };
    for (const item of parsed.nftables ?? []) {
      if (item.counter) out.set(item.counter.name, item.counter.packets);
    }
    return out;
  }

  /** Whether weft's table exists (rules from an earlier run stay in force until replaced). */
  async tableExists(): Promise<boolean> {
    const text = await this.nft(['-j', 'list', 'tables', TABLE_FAMILY]);
    const parsed = JSON.parse(text) as { nftables?: { table?: { name: string } }[] };
    return (parsed.nftables ?? []).some((item) => item.table?.name === TABLE_NAME);
  }

  /** Removes weft's table and every rule in it (turning enforcement off). */
  async deleteTable(): Promise<void> {
    await this.apply(`table ${TABLE_FAMILY} ${TABLE_NAME} {}\ndelete table ${TABLE_FAMILY} ${TABLE_NAME}\n`);
  }
}
