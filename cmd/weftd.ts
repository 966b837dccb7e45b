#!/usr/bin/env node
// weftd: argv/env -> typed options -> (only then) load and run the daemon -> exit code.
// The daemon's modules are imported after parsing, so --version and --help load none of them.
import { quickAnswer } from './quick-answer.js';
import { packageVersion } from './version.js';

const argv = process.argv.slice(2);
const quick = quickAnswer('weftd', argv);
if (quick !== undefined) {
  process.stdout.write(quick);
  process.exit(0);
}
const { parseWeftdArgs } = await import('./weftd-flags.js');
const parsed = await parseWeftdArgs(argv, process.env, packageVersion());
if (parsed.kind === 'exit') {
  (parsed.code === 0 ? process.stdout : process.stderr).write(`${parsed.output}\n`);
  process.exit(parsed.code);
}
const { runWeftd } = await import('./weftd-run.js');
process.exit(await runWeftd(parsed.options, parsed.log, packageVersion()));
