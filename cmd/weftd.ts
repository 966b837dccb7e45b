#!/usr/bin/env node
// weftd: argv/env -> typed options -> (only then) load and run the daemon -> exit code.
// The daemon's modules are imported after parsing, so --version and --help load none of them.
import { exitWithQuickAnswer } from './quick-answer.js';

const argv = process.argv.slice(2);
exitWithQuickAnswer('weftd', argv);
const { weftdMain } = await import('./weftd-main.js');
process.exit(await weftdMain(argv, process.env));
