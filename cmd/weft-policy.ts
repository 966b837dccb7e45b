#!/usr/bin/env node
// weft-policy: argv/env -> typed options -> logger -> runPolicyDaemon -> exit code.
import { runPolicyDaemon } from '../policy/policy-daemon.js';
import { createLogger } from './logger.js';
import { packageVersion } from './version.js';
import { parsePolicyArgs } from './weft-policy-flags.js';

const parsed = await parsePolicyArgs(process.argv.slice(2), process.env, packageVersion());
if (parsed.kind === 'exit') {
  (parsed.code === 0 ? process.stdout : process.stderr).write(`${parsed.output}\n`);
  process.exit(parsed.code);
}

const logger = createLogger(parsed.logLevel, parsed.logFormat);
const controller = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.once(sig, () => {
    logger.info(`received ${sig}; the rules stay in force`);
    controller.abort();
  });
}

let code = 0;
try {
  await runPolicyDaemon(parsed.options, logger, controller.signal);
} catch (err) {
  logger.error(`fatal: ${(err as Error).message}`);
  code = 1;
}
logger.on('finish', () => process.exit(code));
logger.end();
