// Runs iptables-restore, iptables-save and nft (never `ip`). Injected so unit tests need no root.
import { execFile } from 'node:child_process';

export type CommandRunner = (cmd: string, args: string[], input?: string) => Promise<string>;

export const runCommand: CommandRunner = (cmd, args, input) =>
  new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) {
        const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
        reject(new Error(missing ? `${cmd} is not installed` : `${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
      } else {
        resolve(stdout);
      }
    });
    child.stdin?.end(input);
  });
