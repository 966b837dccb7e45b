// Wires the policy controller from typed options: Kubernetes connection, informers, nft writer,
// metrics server. `enforce: false` turns enforcement off: the table is removed and nothing is written.
import type { Server } from 'node:http';
import type { Logger } from 'winston';
import { abortableSleep } from '../subnet/backoff.js';
import { loadKubeConfig, type KubeConnection } from '../subnet/kubeconfig.js';
import { InformerSources } from './kube-sources.js';
import { NftWriter, nftRunner } from './nft-writer.js';
import { PolicyController } from './policy-controller.js';
import { PolicyEnforcer } from './policy-enforcer.js';
import { PolicyMetrics } from './policy-metrics.js';
import { startPolicyServer } from './policy-server.js';

export interface PolicyDaemonOptions {
  connection: KubeConnection;
  nodeName: string;
  subnetFile: string;
  /** The nft command and any prefix, e.g. ["nft"]. */
  nftCommand: string[];
  metricsIp: string;
  /** 0: no HTTP server. */
  metricsPort: number;
  debounceMs: number;
  resyncMs: number;
  enforce: boolean;
}

export async function runPolicyDaemon(options: PolicyDaemonOptions, logger: Logger, signal: AbortSignal): Promise<void> {
  const writer = new NftWriter(nftRunner(options.nftCommand));
  if (!options.enforce) {
    await writer.deleteTable();
    logger.info('NetworkPolicy enforcement is off (--enforce=false): table inet weft-policy removed');
    // Stay up (a DaemonSet container that exits is restarted) until told to stop.
    while (!signal.aborted) await abortableSleep(3_600_000, signal).catch(() => undefined);
    return;
  }
  const enforcer = new PolicyEnforcer(writer);
  const metrics = new PolicyMetrics(() => enforcer.dropCounts());
  const sources = new InformerSources(loadKubeConfig(options.connection), logger.child({ component: 'informers' }));
  const controller = new PolicyController(
    { nodeName: options.nodeName, subnetFile: options.subnetFile, debounceMs: options.debounceMs, resyncMs: options.resyncMs },
    sources, enforcer, metrics, logger.child({ component: 'policy' }),
  );
  let server: Server | undefined;
  if (options.metricsPort > 0) {
    server = await startPolicyServer({ ip: options.metricsIp, port: options.metricsPort, ready: () => controller.model !== undefined }, metrics);
  }
  logger.info('NetworkPolicy controller started', { node: options.nodeName, tablesExisting: await writer.tableExists() });
  try {
    await controller.run(signal);
  } finally {
    server?.close();
  }
}
