// `--version` or `--help` alone, answered without loading the flag parser (yargs costs more than
// node's own start-up): the version from package.json, the help text as yargs rendered it at build
// time (build/bundle.ts writes <command>.help.txt beside the bundle). Anything else, and tsc's
// module tree (which has no rendered help), goes through the full parser.
import { readFileSync } from 'node:fs';
import { packageVersion } from './version.js';

export function quickAnswer(command: string, argv: string[]): string | undefined {
  if (argv.length !== 1) return undefined;
  if (argv[0] === '--version') return `${packageVersion()}\n`;
  if (argv[0] !== '--help') return undefined;
  try {
    return readFileSync(new URL(`./${command}.help.txt`, import.meta.url), 'utf8');
  } catch {
    return undefined;
  }
}

/** Prints the quick answer and exits when there is one (entry points only); returns otherwise. */
export function exitWithQuickAnswer(command: string, argv: string[]): void {
  const quick = quickAnswer(command, argv);
  if (quick === undefined) return;
  process.stdout.write(quick);
  process.exit(0);
}
