// `weftctl leases list|watch` against etcd or the Kubernetes API, read-only.
import type { Logger } from 'winston';
import type { EtcdStoreOptions } from '../overlay/daemon-options.js';
import { parseLeaseRecord, subnetsDir } from '../subnet/etcd-lease-codec.js';
import { EtcdLeaseManager } from '../subnet/etcd-lease-manager.js';
import { Etcd3Store, type EtcdStore } from '../subnet/etcd-store.js';
import { RemoteDataError } from '../subnet/errors.js';
import { isManagedNode, annotationKeys, nodeName, nodePodCidr, nodeToLease } from '../subnet/kube-annotations.js';
import { KubeLeaseManager } from '../subnet/kube-lease-manager.js';
import { loadKubeConfig } from '../subnet/kubeconfig.js';
import { ClientNodeKubeClient, type KubeNode, type KubeNodeClient, type NodeList, type NodeWatchEventType } from '../subnet/kube-node-client.js';
import { leaseKey, type LeaseManager } from '../subnet/lease.js';
import { LeaseDiff } from './weftctl-lease-diff.js';
import { formatChange, leaseJson, leaseTable, sortRows, type LeaseRow, type StoreKind } from './weftctl-table.js';

export type EtcdTarget = EtcdStoreOptions;

export interface KubeTarget {
  kind: 'kube';
  kubeconfigFile?: string | undefined;
  apiUrl?: string | undefined;
  annotationPrefix: string;
}

export type StoreTarget = EtcdTarget | KubeTarget;

export interface Output {
  out(text: string): void;
  err(text: string): void;
}

export function openEtcdStore(target: EtcdTarget): Etcd3Store {
  return new Etcd3Store({ ...target, callTimeoutMs: 5000 });
}

/** Every lease in the store, malformed ones reported on stderr and skipped. */
export async function listLeases(target: StoreTarget, io: Output, signal: AbortSignal, now = Date.now): Promise<LeaseRow[]> {
  if (target.kind === 'kube') {
    const client = new ClientNodeKubeClient(loadKubeConfig(target), { requestTimeoutMs: 10_000 });
    const list = await client.listNodes(signal);
    return kubeRows(list.nodes, target.annotationPrefix, io);
  }
  const store = openEtcdStore(target);
  try {
    return await etcdRows(store, target.prefix, io, now);
  } finally {
    store.close();
  }
}

export async function etcdRows(store: EtcdStore, prefix: string, io: Output, now: () => number): Promise<LeaseRow[]> {
  const listing = await store.list(subnetsDir(prefix));
  const rows: LeaseRow[] = [];
  const ttls = new Map<string, number>();
  for (const record of listing.records) {
    let lease;
    try {
      lease = parseLeaseRecord(prefix, record);
    } catch (err) {
      if (!(err instanceof RemoteDataError)) throw err;
      io.err(`weftctl: skipping ${err.message}\n`);
      continue;
    }
    const reservation = record.leaseId === '0' || record.leaseId === '';
    let expiresAt: Date | undefined;
    if (!reservation) {
      let ttl = ttls.get(record.leaseId);
      if (ttl === undefined) {
        ttl = await store.timeToLive(record.leaseId);
        ttls.set(record.leaseId, ttl);
      }
      expiresAt = ttl >= 0 ? new Date(now() + ttl * 1000) : undefined;
    }
    rows.push({ lease, reservation, expiresAt });
  }
  return sortRows(rows);
}

export function kubeRows(nodes: readonly KubeNode[], annotationPrefix: string, io: Output): LeaseRow[] {
  const keys = annotationKeys(annotationPrefix);
  const rows: LeaseRow[] = [];
  for (const node of nodes) {
    if (!isManagedNode(keys, node)) continue;
    try {
      rows.push({ lease: nodeToLease(keys, node), node: nodeName(node) });
    } catch (err) {
      if (!(err instanceof RemoteDataError)) throw err;
      io.err(`weftctl: skipping ${err.message}\n`);
    }
  }
  return sortRows(rows);
}

export function printLeaseList(rows: readonly LeaseRow[], kind: StoreKind, json: boolean, io: Output): void {
  io.out(json ? `${JSON.stringify(rows.map((r) => leaseJson(r, kind)), null, 2)}\n` : leaseTable(rows, kind));
}

export interface WatchOptions {
  json: boolean;
  /** Print only changes after the first listing (by default every current lease is printed as added). */
  changesOnly: boolean;
}

/**
 * Prints lease changes until the signal aborts (Ctrl-C or --timeout). Uses the daemon's own lease
 * managers, so a watch survives store outages, compactions and 410s the same way.
 */
export async function watchLeases(target: StoreTarget, options: WatchOptions, io: Output, logger: Logger, signal: AbortSignal): Promise<void> {
  const names = new NodeNames();
  let manager: LeaseManager;
  if (target.kind === 'etcd') {
    manager = new EtcdLeaseManager({ ...target, logger });
  } else {
    const client = names.recording(new ClientNodeKubeClient(loadKubeConfig(target)));
    // No node is "own" (an empty name matches none), so every managed node is reported.
    manager = new KubeLeaseManager({ client, nodeName: '', annotationPrefix: target.annotationPrefix, netConfigPath: '', logger });
  }
  const diff = new LeaseDiff();
  let first = true;
  try {
    await manager.watchLeases(
      {
        onBatch: (batch) => {
          const changes = diff.apply(batch);
          const quiet = first && options.changesOnly;
          if (batch.kind === 'snapshot') first = false;
          if (quiet) return;
          for (const change of changes) {
            const row: LeaseRow = { lease: change.lease, node: names.of(leaseKey(change.lease)) };
            io.out(formatChange({ type: change.type, row }, target.kind, options.json));
          }
        },
        onOwnLeaseChanged: () => undefined,
      },
      signal,
    );
  } finally {
    await manager.close();
  }
}

/** Remembers which node holds which pod CIDR, from every node the watch sees (kube mode). */
class NodeNames {
  private readonly bySubnet = new Map<string, string>();

  of(subnet: string): string | undefined {
    return this.bySubnet.get(subnet);
  }

  recording(inner: KubeNodeClient): KubeNodeClient {
    const remember = (node: KubeNode): void => {
      try {
        // Both families: an IPv6-only lease is keyed by its IPv6 pod CIDR.
        for (const subnet of [nodePodCidr(node), nodePodCidr(node, 'ipv6')]) if (subnet !== undefined) this.bySubnet.set(subnet.toString(), nodeName(node));
      } catch {
        // A malformed pod CIDR: the lease manager skips (and logs) that node too.
      }
    };
    return {
      getNode: (name, signal) => inner.getNode(name, signal),
      patchNodeStatus: (name, patch, signal) => inner.patchNodeStatus(name, patch, signal),
      getPod: (namespace, name, signal) => inner.getPod(namespace, name, signal),
      listNodes: async (signal): Promise<NodeList> => {
        const list = await inner.listNodes(signal);
        list.nodes.forEach(remember);
        return list;
      },
      watchNodes: (resourceVersion, onEvent: (type: NodeWatchEventType, node: KubeNode) => void, signal) =>
        inner.watchNodes(resourceVersion, (type, node) => {
          // A deleted node's name stays known, so its removal can still name it.
          if (type !== 'DELETED') remember(node);
          onEvent(type, node);
        }, signal),
    };
  }
}
