// The one place where implementations are chosen: lease stores by --kube-subnet-mgr, backends by
// net-conf.json's Backend.Type. Explicit maps, no registration by import.
import type { Logger } from 'winston';
import { SkippedPeers, type Backend, type ExternalInterface, type FamilyDatapath, type UnderlayAddresses } from '../backends/backend.js';
import { HostGwDatapath } from '../backends/host-gw-backend.js';
import { PerFamilyBackend } from '../backends/per-family-backend.js';
import { RtNetlink, watchKernelChanges } from '../backends/rtnetlink.js';
import { VxlanDatapath } from '../backends/vxlan-backend.js';
import { FAMILIES, type IpFamily } from '../subnet/ip-address.js';
import type { DaemonParts, StartupHints } from './daemon.js';
import { runCommand } from './firewall/command-runner.js';
import { firewallForFamilies } from './firewall/firewall.js';
import type { DaemonOptions, EtcdStoreOptions, KubeStoreOptions } from './daemon-options.js';
import type { InterfaceInfo, InterfaceInventory } from './external-interface.js';
import type { BackendOptions } from './network-config.js';

export interface ClosableDaemonParts extends DaemonParts {
  close(): Promise<void>;
}

type StoreParts = Pick<DaemonParts, 'leaseManager' | 'startupHints' | 'onFirstConverged'>;

// Each store's modules load only when chosen: the Kubernetes client alone costs ~0.9 s and ~70 MB.
const stores = {
  etcd: async (store: EtcdStoreOptions, options: DaemonOptions, logger: Logger, hooks: StoreHooks): Promise<StoreParts> => {
    const { EtcdLeaseManager } = await import('../subnet/etcd-lease-manager.js');
    return {
      leaseManager: new EtcdLeaseManager({
        ...store, renewMarginMinutes: options.renewMarginMinutes, logger: logger.child({ component: 'etcd' }), onStoreError: hooks.onStoreError,
      }),
    };
  },
  kube: async (store: KubeStoreOptions, logger: Logger, hooks: StoreHooks, signal: AbortSignal): Promise<StoreParts> => {
    const { KubeLeaseManager } = await import('../subnet/kube-lease-manager.js');
    const { resolveNodeName } = await import('../subnet/kube-node-name.js');
    const { ClientNodeKubeClient } = await import('../subnet/kube-node-client.js');
    const { loadKubeConfig } = await import('../subnet/kubeconfig.js');
    const client = new ClientNodeKubeClient(loadKubeConfig({ kubeconfigFile: store.kubeconfigFile, apiUrl: store.apiUrl }));
    const nodeName = await resolveNodeName(store, client, signal);
    const manager = new KubeLeaseManager({
      client, nodeName, annotationPrefix: store.annotationPrefix, netConfigPath: store.netConfigPath, logger, onStoreError: hooks.onStoreError,
    });
    return {
      leaseManager: manager,
      startupHints: async (s) => {
        const hints = await manager.readOwnNodeHints(s);
        return {
          publicIp: hints.nodePublicIp, publicIpv6: hints.nodePublicIpv6,
          previousVtepMac: hints.previousVtepMac, previousVtepMacV6: hints.previousVtepMacV6,
        };
      },
      ...(store.setNodeNetworkUnavailable ? { onFirstConverged: (s: AbortSignal) => manager.markNetworkAvailable(s) } : {}),
    };
  },
};

/** What one family's datapath is built from. */
interface DatapathInputs {
  family: IpFamily;
  netlink: RtNetlink;
  external: ExternalInterface;
  underlay: UnderlayAddresses;
  hints: StartupHints;
  skipped: SkippedPeers;
  logger: Logger;
}

const datapaths = {
  vxlan: (options: BackendOptions, { family, netlink, external, underlay, hints, skipped, logger }: DatapathInputs): FamilyDatapath =>
    new VxlanDatapath(
      family, netlink, external, underlay, options as Extract<BackendOptions, { type: 'vxlan' }>, skipped,
      logger.child({ component: family === 'ipv4' ? 'vxlan' : 'vxlan-v6' }),
      family === 'ipv4' ? hints.previousVtepMac : hints.previousVtepMacV6,
    ),
  'host-gw': (_options: BackendOptions, { family, netlink, external, underlay, skipped, logger }: DatapathInputs): FamilyDatapath =>
    new HostGwDatapath(family, netlink, external, underlay, skipped, logger.child({ component: family === 'ipv4' ? 'host-gw' : 'host-gw-v6' })),
} satisfies Record<BackendOptions['type'], unknown>;

/** One datapath per family the external interface carries (the families net-conf.json enables). */
function createBackend(netlink: RtNetlink, options: BackendOptions, external: ExternalInterface, hints: StartupHints, logger: Logger): Backend {
  const skipped = new SkippedPeers(options.type, logger);
  const perFamily = (Object.keys(FAMILIES) as IpFamily[]).flatMap((family) => {
    const underlay = external[family];
    return underlay ? [datapaths[options.type](options, { family, netlink, external, underlay, hints, skipped, logger })] : [];
  });
  return new PerFamilyBackend(options.type, perFamily);
}

/** What observers hand the lease stores (metrics count store failures). */
export interface StoreHooks {
  onStoreError?: ((err: Error) => void) | undefined;
}

export async function buildDaemonParts(options: DaemonOptions, logger: Logger, signal: AbortSignal, hooks: StoreHooks = {}): Promise<ClosableDaemonParts> {
  const store = options.store.kind === 'etcd'
    ? await stores.etcd(options.store, options, logger, hooks)
    : await stores.kube(options.store, logger.child({ component: 'kube' }), hooks, signal);
  const netlink = RtNetlink.open();
  return {
    ...store,
    interfaceInventory: () => interfaceInventory(netlink),
    createBackend: (backend, external, hints) => createBackend(netlink, backend, external, hints, logger),
    createFirewall: (perFamily, nftables) => firewallForFamilies(perFamily, nftables, runCommand),
    watchKernel: (onEvent) =>
      watchKernelChanges(onEvent, (err) => {
        logger.warn('kernel notification could not be read; the periodic resync still repairs', { error: err.message });
      }),
    close: () => {
      netlink.close();
      return Promise.resolve();
    },
  };
}

async function interfaceInventory(netlink: RtNetlink): Promise<InterfaceInventory> {
  const links = await netlink.listLinks();
  const ipv4 = await netlink.listAddresses('ipv4');
  const ipv6 = (await netlink.listAddresses('ipv6')).filter((a) => !a.ip.isLinkLocal());
  const on = (index: number, addresses: typeof ipv4): InterfaceInfo['ipv4'] => addresses.filter((a) => a.index === index).map((a) => a.ip);
  return {
    interfaces: links.map((l) => ({ name: l.name, index: l.index, mtu: l.mtu, ipv4: on(l.index, ipv4), ipv6: on(l.index, ipv6) })),
    defaultRouteIndex: { ipv4: await netlink.defaultRouteIndex('ipv4'), ipv6: await netlink.defaultRouteIndex('ipv6') },
    routeTo: (ip) => netlink.routeTo(ip),
  };
}
