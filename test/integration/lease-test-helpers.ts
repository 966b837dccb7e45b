// Shared by the lease manager integration tests (etcd and kube): a log collector, a recording watcher, etcd managers.
import winston from 'winston';
import { EtcdLeaseManager, type EtcdLeaseManagerOptions } from '../../subnet/etcd-lease-manager.js';
import { leaseKey, type Lease, type LeaseAttrs, type LeaseBatch, type SubnetPool } from '../../subnet/lease.js';
import type { EtcdServer } from '../lab/etcd-server.js';
import { KubeApiServer } from '../lab/kube-apiserver.js';
import { NetnsScope } from '../lab/netns.js';
import { ClientNodeKubeClient } from '../../subnet/kube-node-client.js';
import { loadKubeConfig } from '../../subnet/kubeconfig.js';
import { KubeLeaseManager } from '../../subnet/kube-lease-manager.js';
import { ip, net } from '../addresses.js';

export function pool(network = '10.244.0.0/16', min = '10.244.1.0', max = '10.244.255.0', subnetLen = 24): SubnetPool {
  return { network: net(network), subnetLen, subnetMin: ip(min), subnetMax: ip(max) };
}

/**
 * The pool for a manager whose test also writes peer leases by hand: tests write those below
 * 10.244.100.0 or above 10.244.199.0, so the manager's own randomly chosen subnet never takes one
 * of them (it did once in CI: the test's peer became "our own lease overwritten").
 */
export const ownPool = (): SubnetPool => pool('10.244.0.0/16', '10.244.100.0', '10.244.199.0');

export function vxlan(publicIp: string, vtepMac: string, vni = 1): LeaseAttrs {
  return { publicIp: ip(publicIp), backendType: 'vxlan', backendData: { vni, vtepMac } };
}

/** A logger whose lines ("level: message") are kept for assertions. */
export function memoryLogger(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const collect = winston.format((info) => {
    lines.push(`${info.level}: ${String(info.message)}`);
    return info;
  });
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  const logger = winston.createLogger({ level: 'debug', format: collect(), transports: [new winston.transports.Console({ silent: true })] });
  return { logger, lines };
}

/** Peers as the daemon folds them (by subnet), plus every batch and own-lease change seen. */
export class PeerRecorder {
  readonly peers = new Map<string, Lease>();
  readonly batches: LeaseBatch[] = [];
  readonly ownChanges: Lease[] = [];
  onBatch(batch: LeaseBatch): void {
    this.batches.push(batch);
    if (batch.kind === 'snapshot') this.peers.clear();
    for (const lease of batch.leases) {
      if (batch.kind === 'removed') this.peers.delete(leaseKey(lease));
      else this.peers.set(leaseKey(lease), lease);
    }
  }
  onOwnLeaseChanged(lease: Lease): void {
    this.ownChanges.push(lease);
  }
  subnets(): string[] {
    return [...this.peers.keys()].sort();
  }
  count(kind: LeaseBatch['kind']): number {
    return this.batches.filter((b) => b.kind === kind).length;
  }
}

export function makeManager(
  endpoint: string,
  prefix: string,
  extra: Partial<EtcdLeaseManagerOptions> = {},
): { manager: EtcdLeaseManager; lines: string[] } {
  const { logger, lines } = memoryLogger();
  const manager = new EtcdLeaseManager({
    endpoints: [endpoint],
    prefix,
    logger,
    backoff: { initialMs: 100, maxMs: 1000 },
    ...extra,
  });
  return { manager, lines };
}

/** A key's value as etcdctl prints it. */
export async function etcdValue(etcd: EtcdServer, key: string): Promise<string> {
  return (await etcd.etcdctl(['get', key, '--print-value-only'])).replace(/\n$/, '');
}

/** The etcd lease ID (decimal) attached to a key; "0" when none. */
export async function etcdLeaseId(etcd: EtcdServer, key: string): Promise<string> {
  const out = await etcd.etcdctl(['get', key, '-w', 'json']);
  return /"lease":(\d+)/.exec(out)?.[1] ?? '0';
}

/** flannel's value for a vxlan lease, written by hand in tests. */
export function flannelValue(publicIp: string, mac: string): string {
  return `{"PublicIP":"${publicIp}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${mac}"}}`;
}

/** flannel's value for a vxlan lease of a node without IPv4 ("PublicIP" is the zero ip.IP4), written by hand in tests. */
export function flannelV6Value(publicIpv6: string, mac: string): string {
  return `{"PublicIP":"0.0.0.0","PublicIPv6":"${publicIpv6}","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"${mac}"}}`;
}

export interface KubeManagerHandle {
  manager: KubeLeaseManager;
  lines: string[];
  client: ClientNodeKubeClient;
}

/** A kube lease manager for `nodeName` talking to the lab's API server (as `token`'s user when given). */
export async function makeKubeManager(server: KubeApiServer, nodeName: string, token?: string): Promise<KubeManagerHandle> {
  const kubeconfigFile = await server.writeKubeconfig(token);
  const client = new ClientNodeKubeClient(loadKubeConfig({ kubeconfigFile }), { requestTimeoutMs: 5000, watchTimeoutSeconds: 5 });
  const { logger, lines } = memoryLogger();
  const manager = new KubeLeaseManager({
    client,
    nodeName,
    netConfigPath: '/nonexistent',
    logger,
    backoff: { initialMs: 200, maxMs: 2000 },
  });
  return { manager, lines, client };
}

/**
 * A kube-apiserver for the enclosing describe block: started before its tests, stopped with its
 * namespace scope after them; `signal` aborts then too.
 */
export function useKubeApiServer(extraArgs: string[] = []): {
  server: () => KubeApiServer;
  signal: AbortSignal;
  makeManager: (nodeName: string) => Promise<KubeManagerHandle>;
} {
  const scope = new NetnsScope();
  const controller = new AbortController();
  let started: KubeApiServer | undefined;
  beforeAll(async () => {
    started = await KubeApiServer.start({ scope, extraArgs });
  }, 90_000);
  afterAll(async () => {
    controller.abort();
    await started?.dispose();
    await scope.dispose();
  }, 30_000);
  const server = (): KubeApiServer => {
    if (started === undefined) throw new Error('the kube-apiserver did not start');
    return started;
  };
  return { server, signal: controller.signal, makeManager: (nodeName) => makeKubeManager(server(), nodeName) };
}
