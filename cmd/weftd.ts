#!/usr/bin/env node
// weftd: argv/env -> typed options -> logger -> runDaemon -> exit code.
import { buildDaemonParts } from '../overlay/components.js';
import { runDaemon } from '../overlay/daemon.js';
import { createLogger } from './logger.js';
import { packageVersion } from './version.js';
import { parseWeftdArgs } from './weftd-flags.js';

const parsed = await parseWeftdArgs(process.argv.slice(2), process.env, packageVersion());
if (parsed.kind === 'exit') {
  (parsed.code === 0 ? process.stdout : process.stderr).write(`${parsed.output}\n`);
  process.exit(parsed.code);
}

const logger = createLogger(parsed.log.logLevel, parsed.log.logFormat);
const controller = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    logger.info(`received ${sig}`);
    controller.abort();
  });
}

const parts = await buildDaemonParts(parsed.options, logger);
const code = await runDaemon(parsed.options, parts, logger, controller.signal);
await parts.close();
logger.on('finish', () => process.exit(code));
logger.end();
