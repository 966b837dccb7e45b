// The daemon's life: read the network config, pick the underlay interface, prepare the backend,
// take a lease, write subnet.env, then keep the kernel converged on the peers until stopped.
// Stopping leaves the datapath and the lease in place so pods keep working across a restart.
import type { Logger } from 'winston';
import type { Backend, ExternalInterface } from '../backends/backend.js';
import type { KernelEvent } from '../backends/rtnetlink.js';
import { ConfigError, OutOfSubnetsError } from '../subnet/errors.js';
import { leaseHalf, leaseSubnet, sameSubnets, type Lease, type LeaseManager } from '../subnet/lease.js';
import type { DaemonOptions } from './daemon-options.js';
import { chooseExternalInterface, type InterfaceInventory } from './external-interface.js';
import { enabledFamilies, parseNetworkConfig, type BackendOptions, type NetworkConfig } from './network-config.js';
import type { Firewall, FirewallOptions } from './firewall/firewall.js';
import { FirewallKeeper } from './firewall/firewall-keeper.js';
import { ReconcileLoop } from './reconcile-loop.js';
import { readPreviousSubnets, writeSubnetEnv, type FamilySubnet } from './subnet-env.js';
import type { IpAddress, IpFamily } from '../subnet/ip-address.js';

/** The parts the daemon drives; cmd/ wires the real ones, tests may pass fakes. */
export interface DaemonParts {
  leaseManager: LeaseManager;
  interfaceInventory(): Promise<InterfaceInventory>;
  createBackend(options: BackendOptions, external: ExternalInterface, hints: StartupHints): Backend;
  /** What the store knows from an earlier run (kube mode: the node's annotations). */
  startupHints?(signal: AbortSignal): Promise<StartupHints>;
  /** Reports kernel deletions and link changes until the returned function is called. */
  watchKernel?(onEvent: (event: KernelEvent) => void): () => void;
  /** Masquerade/forward rules of each family (iptables, or nftables when net-conf says EnableNFTables). */
  createFirewall?(perFamily: readonly FirewallOptions[], nftables: boolean): Firewall;
  /** Called once the kernel first holds every known peer (kube mode: NetworkUnavailable=False). */
  onFirstConverged?(signal: AbortSignal): Promise<void>;
}

export interface StartupHints {
  /** Overrides --public-ip (kube: `<P>/node-public-ip`). */
  publicIp?: IpAddress | undefined;
  /** Overrides --public-ipv6 (kube: `<P>/node-public-ipv6`). */
  publicIpv6?: IpAddress | undefined;
  /** The MACs for newly created VXLAN devices (flannel.<VNI>, flannel-v6.<VNI>), so peers' entries stay valid. */
  previousVtepMac?: string | undefined;
  previousVtepMacV6?: string | undefined;
}

/** Observers the health and metrics server hooks into. */
export interface DaemonEvents {
  onReady?(state: RunningState): void;
}

export interface RunningState {
  config: NetworkConfig;
  external: ExternalInterface;
  backend: Backend;
  lease: Lease;
  loop: ReconcileLoop;
  firewall: FirewallKeeper | undefined;
}

/** A gap from our own bulk write is checked once writes have paused this long... */
const GAP_PASS_DELAY_MS = 1000;
/** ...or this long after the first unchecked gap, whichever comes first. */
const GAP_PASS_MAX_DELAY_MS = 5000;
const OVERFLOW_WARN_MS = 60_000;

export const EXIT_OK = 0;
export const EXIT_FATAL = 1;

export async function runDaemon(
  options: DaemonOptions,
  parts: DaemonParts,
  logger: Logger,
  signal: AbortSignal,
  events: DaemonEvents = {},
): Promise<number> {
  try {
    await serve(options, parts, logger, signal, events);
    return EXIT_OK;
  } catch (err) {
    if (signal.aborted) return EXIT_OK;
    if (err instanceof ConfigError || err instanceof OutOfSubnetsError) {
      logger.error(err.message, { code: err.code });
    } else {
      logger.error(`fatal: ${(err as Error).message}`, { stack: (err as Error).stack });
    }
    return EXIT_FATAL;
  } finally {
    await parts.leaseManager.close().catch((err: unknown) => logger.warn('closing the lease store failed', { error: String(err) }));
  }
}

async function serve(options: DaemonOptions, parts: DaemonParts, logger: Logger, signal: AbortSignal, events: DaemonEvents): Promise<void> {
  const config = parseNetworkConfig(await parts.leaseManager.readNetworkConfig(signal));
  for (const warning of config.warnings) logger.warn(warning);
  const families = enabledFamilies(config);
  logger.info('network config', {
    network: config.ipv4?.network.toString(), subnetLen: config.ipv4?.subnetLen,
    ipv6Network: config.ipv6?.network.toString(), ipv6SubnetLen: config.ipv6?.subnetLen, backend: config.backend.type,
  });

  const hints = (await parts.startupHints?.(signal)) ?? {};
  const choice = {
    ...options.interfaceChoice,
    ...(hints.publicIp && { publicIp: hints.publicIp.toString() }),
    ...(hints.publicIpv6 && { publicIpv6: hints.publicIpv6.toString() }),
  };
  const external = await chooseExternalInterface(await parts.interfaceInventory(), choice, families);
  logger.info('using interface', {
    iface: external.name, mtu: external.mtu, ifaceIp: external.ipv4?.ifaceIp.toString(), publicIp: external.ipv4?.publicIp.toString(),
    ifaceIpv6: external.ipv6?.ifaceIp.toString(), publicIpv6: external.ipv6?.publicIp.toString(),
  });

  const backend = parts.createBackend(config.backend, external, hints);
  const attrs = await backend.prepare(signal);
  const previous = await readPreviousSubnets(options.subnetFile);
  let lease = await parts.leaseManager.acquireLease(
    { pool: config.ipv4, ipv6Pool: config.ipv6, attrs, previousSubnet: previous.ipv4, previousIpv6Subnet: previous.ipv6 }, signal,
  );
  logger.info('lease acquired', {
    subnet: lease.subnet?.toString(), ipv6Subnet: lease.ipv6Subnet?.toString(), publicIp: lease.publicIp?.toString(),
    publicIpv6: lease.publicIpv6?.toString(), vtepMac: lease.backendData?.vtepMac, vtepMacV6: lease.backendV6Data?.vtepMac,
  });

  const loop = new ReconcileLoop(backend, logger.child({ component: 'reconcile' }), {
    resyncMs: options.resyncMs, coalesceMs: 10, retryMinMs: 100, retryMaxMs: 10_000,
  });
  // Rules go in before subnet.env exists, so no pod can send traffic out unmasqueraded.
  const firewallFor = (own: Lease): Firewall | undefined =>
    options.ipMasq || options.iptablesForwardRules
      ? parts.createFirewall?.(ownFamilySubnets(config, own).map(({ network, subnet }) => ({
        network, podSubnet: subnet, randomFully: options.ipMasqRandomFully, masquerade: options.ipMasq, forwardRules: options.iptablesForwardRules,
      })), config.enableNFTables)
      : undefined;
  const firstFirewall = firewallFor(lease);
  const firewall = firstFirewall && new FirewallKeeper(firstFirewall, options.iptablesResyncSeconds * 1000, logger.child({ component: 'firewall' }));
  await firewall?.install();

  const takeOwnLease = async (next: Lease): Promise<void> => {
    const nextFirewall = sameSubnets(next, lease) ? undefined : firewallFor(next);
    if (firewall && nextFirewall) await firewall.replace(nextFirewall);
    await backend.configureOwnLease(next);
    loop.setOwnSubnet(leaseSubnet(next));
    const subnets = ownFamilySubnets(config, next);
    const ofFamily = (family: IpFamily): FamilySubnet | undefined => subnets.find((s) => s.family === family);
    await writeSubnetEnv(options.subnetFile, { ipv4: ofFamily('ipv4'), ipv6: ofFamily('ipv6'), mtu: backend.podMtu, ipMasq: options.ipMasq });
  };
  await takeOwnLease(lease);
  logger.info('subnet.env written', { path: options.subnetFile, subnet: lease.subnet?.toString(), ipv6Subnet: lease.ipv6Subnet?.toString(), mtu: backend.podMtu });

  // What health, metrics and status read; `lease` follows re-acquisitions.
  const state: RunningState = { config, external, backend, lease, loop, firewall };
  const watching = parts.leaseManager.watchLeases(
    {
      onBatch: (batch) => { loop.onBatch(batch); },
      onOwnLeaseChanged: (next) => {
        takeOwnLease(next)
          .then(() => {
            lease = next;
            state.lease = next;
          })
          .catch((err: unknown) => logger.error('applying the re-acquired lease failed', { error: String(err) }));
      },
    },
    signal,
  );
  if (parts.onFirstConverged) {
    const announce = parts.onFirstConverged.bind(parts);
    let announced = false;
    loop.onPass(() => {
      if (announced) return;
      announced = true;
      announce(signal).catch((err: unknown) => logger.warn('announcing the network as available failed', { error: String(err) }));
    });
  }
  // A gap calls for a full pass. An overflow (the kernel dropped notifications) gets it at once.
  // The monitor pausing during our own bulk writes makes many gaps, one per write: one pass covers
  // them once the writes stop for a second (capped at 5 s), so that 5000 leases arriving in batches
  // cost one kernel dump at the end instead of one a second in between.
  let gapTimer: NodeJS.Timeout | undefined;
  let firstGapAt: number | undefined;
  let overflowWarnedAt = -Infinity;
  const stopKernelWatch = parts.watchKernel?.((event) => {
    if (event.kind === 'gap' && event.cause === 'overflow') {
      // A storm overflows the socket again and again: say so at most every OVERFLOW_WARN_MS.
      const level = performance.now() - overflowWarnedAt > OVERFLOW_WARN_MS ? 'warn' : 'debug';
      if (level === 'warn') overflowWarnedAt = performance.now();
      logger.log(level, 'kernel notifications were lost (the monitor socket overflowed); checking every entry');
      loop.trigger('kernel-overflow');
    } else if (event.kind === 'gap') {
      firstGapAt ??= performance.now();
      clearTimeout(gapTimer);
      gapTimer = setTimeout(() => {
        gapTimer = undefined;
        firstGapAt = undefined;
        loop.trigger('kernel-gap');
      }, Math.max(0, Math.min(GAP_PASS_DELAY_MS, firstGapAt + GAP_PASS_MAX_DELAY_MS - performance.now())));
    } else if (backend.ownsKernelEvent(event)) {
      loop.trigger(`kernel-${event.kind}${event.deleted ? '-deleted' : '-changed'}`);
    }
  });
  events.onReady?.(state);
  try {
    await Promise.all([loop.run(signal), watching, firewall?.run(signal)]);
  } finally {
    stopKernelWatch?.();
    clearTimeout(gapTimer);
  }
  logger.info('stopping; the datapath and the lease stay in place');
}

/** The own lease's subnet of each family the network runs, with that family's network. */
function ownFamilySubnets(config: NetworkConfig, own: Lease): (FamilySubnet & { family: IpFamily })[] {
  return enabledFamilies(config).map((family) => {
    const half = leaseHalf(own, family);
    const network = config[family]?.network;
    if (!half || !network) throw new Error(`the own lease has no ${family} subnet, which the network config enables`);
    return { family, network, subnet: half.subnet };
  });
}
