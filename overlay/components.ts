// The one place where implementations are chosen: lease stores by --kube-subnet-mgr, backends by
// net-conf.json's Backend.Type. Explicit maps, no registration by import.
import type { Logger } from 'winston';
import type { Backend, ExternalInterface } from '../backends/backend.js';
import { HostGwBackend } from '../backends/host-gw-backend.js';
import { RtNetlink, watchKernelChanges } from '../backends/rtnetlink.js';
import { VxlanBackend } from '../backends/vxlan-backend.js';
import type { DaemonParts, StartupHints } from './daemon.js';
import { runCommand } from './firewall/command-runner.js';
import { IptablesFirewall, NftablesFirewall } from './firewall/firewall.js';
import type { DaemonOptions, EtcdStoreOptions, KubeStoreOptions } from './daemon-options.js';
import type { InterfaceInventory } from './external-interface.js';
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
    const { ClientNodeKubeClient, loadKubeConfig } = await import('../subnet/kube-node-client.js');
    const client = new ClientNodeKubeClient(loadKubeConfig({ kubeconfigFile: store.kubeconfigFile, apiUrl: store.apiUrl }));
    const nodeName = await resolveNodeName(store, client, signal);
    const manager = new KubeLeaseManager({
      client, nodeName, annotationPrefix: store.annotationPrefix, netConfigPath: store.netConfigPath, logger, onStoreError: hooks.onStoreError,
    });
    return {
      leaseManager: manager,
      startupHints: async (s) => {
        const hints = await manager.readOwnNodeHints(s);
        return { publicIp: hints.nodePublicIp, previousVtepMac: hints.previousVtepMac };
      },
      ...(store.setNodeNetworkUnavailable ? { onFirstConverged: (s: AbortSignal) => manager.markNetworkAvailable(s) } : {}),
    };
  },
};

const backends = {
  vxlan: (netlink: RtNetlink, external: ExternalInterface, options: BackendOptions, hints: StartupHints, logger: Logger): Backend =>
    new VxlanBackend(
      netlink, external, options as Extract<BackendOptions, { type: 'vxlan' }>, logger.child({ component: 'vxlan' }), hints.previousVtepMac,
    ),
  'host-gw': (netlink: RtNetlink, external: ExternalInterface, _options: BackendOptions, _hints: StartupHints, logger: Logger): Backend =>
    new HostGwBackend(netlink, external, logger.child({ component: 'host-gw' })),
} satisfies Record<BackendOptions['type'], unknown>;

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
    createBackend: (backend, external, hints) => backends[backend.type](netlink, external, backend, hints, logger),
    createFirewall: (firewallOptions, nftables) =>
      nftables ? new NftablesFirewall(firewallOptions, runCommand) : new IptablesFirewall(firewallOptions, runCommand),
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
  const addresses = await netlink.listIpv4Addresses();
  const defaultRouteIndex = await netlink.defaultRouteIndex();
  return {
    interfaces: links.map((l) => ({
      name: l.name, index: l.index, mtu: l.mtu, ipv4: addresses.filter((a) => a.index === l.index).map((a) => a.ip),
    })),
    defaultRouteIndex,
    routeTo: (ip) => netlink.routeTo(ip),
  };
}
