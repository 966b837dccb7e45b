// Turns lease batches (snapshots after a (re)list, added, removed) into the changes `leases watch`
// prints: a snapshot becomes the adds and removes against what was shown before. Pure.
import { leaseKey, sameDatapath, type Lease, type LeaseBatch } from '../subnet/lease.js';

export interface LeaseDiffChange {
  type: 'added' | 'removed';
  lease: Lease;
}

export class LeaseDiff {
  private readonly known = new Map<string, Lease>();

  apply(batch: LeaseBatch): LeaseDiffChange[] {
    const changes: LeaseDiffChange[] = [];
    const add = (lease: Lease): void => {
      const key = leaseKey(lease);
      const previous = this.known.get(key);
      if (previous && sameDatapath(previous, lease)) return;
      this.known.set(key, lease);
      changes.push({ type: 'added', lease });
    };
    const remove = (lease: Lease): void => {
      const key = leaseKey(lease);
      const previous = this.known.get(key);
      if (!previous) return;
      this.known.delete(key);
      changes.push({ type: 'removed', lease: previous });
    };
    if (batch.kind === 'snapshot') {
      const next = new Set(batch.leases.map(leaseKey));
      for (const lease of [...this.known.values()]) if (!next.has(leaseKey(lease))) remove(lease);
      for (const lease of batch.leases) add(lease);
    } else {
      for (const lease of batch.leases) (batch.kind === 'added' ? add : remove)(lease);
    }
    return changes;
  }
}
