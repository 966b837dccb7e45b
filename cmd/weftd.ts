#!/usr/bin/env node
// weftd: argv/env -> typed options -> logger -> runDaemon -> exit code.
import { buildDaemonParts } from '../overlay/components.js';
import { EXIT_FATAL, EXIT_OK, runDaemon } from '../overlay/daemon.js';
import { Observability } from '../overlay/observability/observability.js';
import { ConfigError } from '../subnet/errors.js';
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

const observability = new Observability(
  { healthzIp: parsed.options.healthzIp, healthzPort: parsed.options.healthzPort, resyncMs: parsed.options.resyncMs, probe: parsed.options.probeRatePerSecond > 0 && { ratePerSecond: parsed.options.probeRatePerSecond }, version: packageVersion() },
  logger.child({ component: 'observability' }),
);

let code: number;
try {
  await observability.start();
  const storeHooks = { onStoreError: () => { observability.metrics.recordLeaseStoreError(); } };
  const parts = observability.wrapParts(await buildDaemonParts(parsed.options, logger, controller.signal, storeHooks));
  code = await runDaemon(parsed.options, parts, logger, controller.signal, observability.events);
  await parts.close();
} catch (err) {
  // Only start-up can land here (runDaemon handles its own errors): e.g. no node name in kube mode.
  logger.error(err instanceof ConfigError ? err.message : `fatal: ${(err as Error).message}`);
  code = controller.signal.aborted ? EXIT_OK : EXIT_FATAL;
}
await observability.close();
logger.on('finish', () => process.exit(code));
logger.end();
