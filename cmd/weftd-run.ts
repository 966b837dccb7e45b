// weftd after its flags are parsed: logger -> observability -> runDaemon -> exit code. Loaded by
// cmd/weftd.ts only when the daemon is to run, so --version and --help load none of this.
import { buildDaemonParts } from '../overlay/components.js';
import type { DaemonOptions } from '../overlay/daemon-options.js';
import { EXIT_FATAL, EXIT_OK, runDaemon } from '../overlay/daemon.js';
import { Observability } from '../overlay/observability/observability.js';
import { ConfigError } from '../subnet/errors.js';
import { createLogger } from './logger.js';
import type { LogOptions } from './weftd-flags.js';

/** Runs the daemon until SIGTERM/SIGINT; resolves with the exit code once the logs are flushed. */
export async function runWeftd(options: DaemonOptions, log: LogOptions, version: string): Promise<number> {
  const logger = createLogger(log.logLevel, log.logFormat);
  const controller = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.once(sig, () => {
      logger.info(`received ${sig}`);
      controller.abort();
    });
  }

  const observability = new Observability(
    { healthzIp: options.healthzIp, healthzPort: options.healthzPort, resyncMs: options.resyncMs, probe: options.probeRatePerSecond > 0 && { ratePerSecond: options.probeRatePerSecond }, version },
    logger.child({ component: 'observability' }),
  );

  let code: number;
  try {
    await observability.start();
    const storeHooks = { onStoreError: () => { observability.metrics.recordLeaseStoreError(); } };
    const parts = observability.wrapParts(await buildDaemonParts(options, logger, controller.signal, storeHooks));
    code = await runDaemon(options, parts, logger, controller.signal, observability.events);
    await parts.close();
  } catch (err) {
    // Only start-up can land here (runDaemon handles its own errors): e.g. no node name in kube mode.
    logger.error(err instanceof ConfigError ? err.message : `fatal: ${(err as Error).message}`);
    code = controller.signal.aborted ? EXIT_OK : EXIT_FATAL;
  }
  await observability.close();
  await new Promise<void>((resolve) => {
    logger.on('finish', resolve);
    logger.end();
  });
  return code;
}
