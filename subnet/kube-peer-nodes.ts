// Kube mode's peers: the other managed Nodes' leases by node name, kept from a list and the watch's
// events, turned into the lease batches the daemon consumes.
import type { Logger } from 'winston';
import { RemoteDataError } from './errors.js';
import { isManagedNode, nodeName, nodeToLease, type AnnotationKeys } from './kube-annotations.js';
import type { KubeNode, NodeWatchEventType } from './kube-node-client.js';
import { leaseKey, sameDatapath, type Lease, type LeaseBatch, type LeaseWatcher } from './lease.js';

/**
 * The peers we know, by node name, and how node events change them. Each node's last warning is kept so
 * that a malformed peer is reported when it changes, not at every status heartbeat.
 */
export class PeerNodes {
  private readonly leases = new Map<string, Lease>();
  private readonly warned = new Map<string, string>();

  constructor(
    private readonly keys: AnnotationKeys,
    private readonly ownName: string,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.leases.size;
  }

  snapshot(nodes: KubeNode[]): LeaseBatch {
    this.leases.clear();
    for (const node of nodes) {
      const lease = this.leaseOf(node);
      if (lease) this.leases.set(nodeName(node), lease);
    }
    return { kind: 'snapshot', leases: [...this.leases.values()] };
  }

  apply(type: NodeWatchEventType, node: KubeNode): LeaseBatch[] {
    if (type === 'BOOKMARK') return [];
    const name = nodeName(node);
    const previous = this.leases.get(name);
    const lease = type === 'DELETED' ? undefined : this.leaseOf(node);
    if (type === 'DELETED') this.warned.delete(name);
    if (lease === undefined) {
      if (!previous) return [];
      this.leases.delete(name);
      return [{ kind: 'removed', leases: [previous] }];
    }
    if (previous && sameDatapath(previous, lease)) return [];
    this.leases.set(name, lease);
    const batches: LeaseBatch[] = [];
    // Another key (a new pod CIDR): the old entries go first, as their own lease.
    if (previous && leaseKey(previous) !== leaseKey(lease)) batches.push({ kind: 'removed', leases: [previous] });
    batches.push({ kind: 'added', leases: [lease] });
    return batches;
  }

  /** The node's lease, or undefined for our own node, unmanaged nodes and malformed ones (warned). */
  private leaseOf(node: KubeNode): Lease | undefined {
    const name = nodeName(node);
    if (name === this.ownName || !isManagedNode(this.keys, node)) return undefined;
    try {
      const lease = nodeToLease(this.keys, node);
      this.warned.delete(name);
      return lease;
    } catch (err) {
      if (!(err instanceof RemoteDataError)) throw err;
      if (this.warned.get(name) !== err.message) {
        this.warned.set(name, err.message);
        this.log.warn(`skipping peer: ${err.message}`, { node: name });
      }
      return undefined;
    }
  }
}

/** A watcher's exception must not stop the watch. */
export function deliver(watcher: LeaseWatcher, batch: LeaseBatch, log: Logger): void {
  try {
    watcher.onBatch(batch);
  } catch (err) {
    log.error(`lease watcher failed on a ${batch.kind} batch: ${(err as Error).message}`);
  }
}
