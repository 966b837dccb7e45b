#!/usr/bin/env node
// weftd as shipped (dist/bundle/weftd.mjs, the image's command): the quick answers, or else the
// daemon's single CommonJS bundle (weftd-main.cjs beside this file) compiled from V8's code cache
// that the build made for it (cmd/code-cache.ts). tsc's tree starts from cmd/weftd.ts instead.
import { fileURLToPath } from 'node:url';
import { readCodeCache, runBundle } from './code-cache.js';
import { exitWithQuickAnswer } from './quick-answer.js';
import type { weftdMain } from './weftd-main.js';

const argv = process.argv.slice(2);
exitWithQuickAnswer('weftd', argv);
const bundle = fileURLToPath(new URL('./weftd-main.cjs', import.meta.url));
const main = runBundle(bundle, readCodeCache(bundle)).exports as { weftdMain: typeof weftdMain };
process.exit(await main.weftdMain(argv, process.env));
