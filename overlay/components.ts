// The one place where implementations are chosen: lease stores by --kube-subnet-mgr, backends by
// net-conf.json's Backend.Type. Explicit maps, no registration by import.
import type { Logger } from 'winston';
import type { Backend, ExternalInterface } from '../backends/backend.js';
import { HostGwBackend } from '../backends/host-gw-backend.js';
import { RtNetlink } from '../backends/rtnetlink.js';
import { VxlanBackend } from '../backends/vxlan-backend.js';
import { EtcdLeaseManager } from '../subnet/etcd-lease-manager.js';
import type { LeaseManager } from '../subnet/lease.js';
import type { DaemonParts } from './daemon.js';
import type { DaemonOptions, EtcdStoreOptions } from './daemon-options.js';
import type { InterfaceInventory } from './external-interface.js';
import type { BackendOptions } from './network-config.js';

export interface ClosableDaemonParts extends DaemonParts {
  close(): Promise<void>;
}

const leaseManagers = {
  etcd: (store: EtcdStoreOptions, options: DaemonOptions, logger: Logger): LeaseManager =>
    new EtcdLeaseManager({ ...store, renewMarginMinutes: options.renewMarginMinutes, logger: logger.child({ component: 'etcd' }) }),
};

const backends = {
  vxlan: (netlink: RtNetlink, external: ExternalInterface, options: BackendOptions, logger: Logger): Backend =>
    new VxlanBackend(netlink, external, options as Extract<BackendOptions, { type: 'vxlan' }>, logger.child({ component: 'vxlan' })),
  'host-gw': (netlink: RtNetlink, external: ExternalInterface, _options: BackendOptions, logger: Logger): Backend =>
    new HostGwBackend(netlink, external, logger.child({ component: 'host-gw' })),
} satisfies Record<BackendOptions['type'], unknown>;

export function buildDaemonParts(options: DaemonOptions, logger: Logger): Promise<ClosableDaemonParts> {
  const netlink = RtNetlink.open();
  if (options.store.kind !== 'etcd') {
    throw new Error('the Kubernetes subnet manager is not wired into weftd yet');
  }
  const leaseManager = leaseManagers.etcd(options.store, options, logger);
  return Promise.resolve({
    leaseManager,
    interfaceInventory: () => interfaceInventory(netlink),
    createBackend: (backend, external) => backends[backend.type](netlink, external, backend, logger),
    close: () => {
      netlink.close();
      return Promise.resolve();
    },
  });
}

async function interfaceInventory(netlink: RtNetlink): Promise<InterfaceInventory> {
  const [links, addresses, defaultRouteIndex] = await Promise.all([
    netlink.listLinks(), netlink.listIpv4Addresses(), netlink.defaultRouteIndex(),
  ]);
  return {
    interfaces: links.map((l) => ({
      name: l.name, index: l.index, mtu: l.mtu, ipv4: addresses.filter((a) => a.index === l.index).map((a) => a.ip),
    })),
    defaultRouteIndex,
    routeTo: (ip) => netlink.routeTo(ip),
  };
}
