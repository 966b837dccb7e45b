// The peer leases seen under <prefix>/subnets/, and how etcd listings and watch events change them.
// Pure bookkeeping (no I/O): records are parsed here, malformed ones are warned about once per change
// and skipped, our own lease is left out, and events that arrived together become as few batches as
// their order allows (added, removed, added ... never reordered).
import type { Logger } from 'winston';
import { parseLeaseRecord, type LeaseNetworks } from './etcd-lease-codec.js';
import type { EtcdRecord, EtcdWatchEvent } from './etcd-store.js';
import { RemoteDataError } from './errors.js';
import { sameDatapath, type Lease, type LeaseBatch } from './lease.js';

export interface PeerTrackerOptions {
  prefix: string;
  log: Logger;
  /** A lease's half outside its family's network is refused (none known until a lease was acquired). */
  networks: () => LeaseNetworks;
  /** Our own lease: never reported as a peer. */
  isOwn: (key: string, lease: Lease) => boolean;
}

export class EtcdPeerTracker {
  private readonly peers = new Map<string, Lease>();
  private readonly warned = new Map<string, string>();

  constructor(private readonly opts: PeerTrackerOptions) {}

  get size(): number {
    return this.peers.size;
  }

  /** Replaces everything known with a full listing. */
  snapshot(records: readonly EtcdRecord[]): LeaseBatch {
    this.peers.clear();
    const seen = new Set<string>();
    for (const record of records) {
      seen.add(record.key);
      const lease = this.leaseOf(record);
      if (lease) this.peers.set(record.key, lease);
    }
    for (const key of [...this.warned.keys()]) if (!seen.has(key)) this.warned.delete(key);
    return { kind: 'snapshot', leases: [...this.peers.values()] };
  }

  /** Applies events in order; consecutive changes of the same kind share one batch. */
  apply(events: readonly EtcdWatchEvent[]): LeaseBatch[] {
    const batches: LeaseBatch[] = [];
    const emit = (kind: 'added' | 'removed', lease: Lease): void => {
      const last = batches[batches.length - 1];
      if (last?.kind === kind) last.leases.push(lease);
      else batches.push({ kind, leases: [lease] });
    };
    for (const { type, record } of events) {
      const previous = this.peers.get(record.key);
      if (type === 'delete') {
        this.warned.delete(record.key);
        if (previous) {
          this.peers.delete(record.key);
          emit('removed', previous);
        }
        continue;
      }
      const lease = this.leaseOf(record);
      if (lease === undefined) {
        // Malformed now, or ours: whatever we knew under this key is no longer a usable peer.
        if (previous) {
          this.peers.delete(record.key);
          emit('removed', previous);
        }
        continue;
      }
      this.peers.set(record.key, lease);
      if (!previous || !sameDatapath(previous, lease)) emit('added', lease);
    }
    return batches;
  }

  /** The record's lease, or undefined for our own and for malformed ones (warned once per change). */
  private leaseOf(record: EtcdRecord): Lease | undefined {
    let lease: Lease;
    try {
      lease = parseLeaseRecord(this.opts.prefix, record, this.opts.networks());
    } catch (err) {
      if (!(err instanceof RemoteDataError)) throw err;
      if (this.warned.get(record.key) !== err.message) {
        this.warned.set(record.key, err.message);
        this.opts.log.warn(`skipping peer lease: ${err.message}`);
      }
      return undefined;
    }
    this.warned.delete(record.key);
    return this.opts.isOwn(record.key, lease) ? undefined : lease;
  }
}
