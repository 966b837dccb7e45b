// Folding lease batches into the desired set of peers: pure functions, keyed by subnet text.
import { leaseKey, sameDatapath, type Lease, type LeaseBatch } from '../subnet/lease.js';
import type { IpPrefix } from '../subnet/ip-prefix.js';

export type PeerMap = Map<string, Lease>;

/** Applies one batch to `peers` in place, ignoring our own subnet. Returns whether anything changed. */
export function foldBatch(peers: PeerMap, batch: LeaseBatch, ownSubnet: IpPrefix | undefined): boolean {
  const own = ownSubnet?.toString();
  const keyOf = leaseKey;
  let changed = false;
  switch (batch.kind) {
    case 'snapshot': {
      const next = new Map(batch.leases.filter((l) => keyOf(l) !== own).map((l) => [keyOf(l), l]));
      for (const key of peers.keys()) {
        if (!next.has(key)) {
          peers.delete(key);
          changed = true;
        }
      }
      for (const [key, lease] of next) changed = setIfDifferent(peers, key, lease) || changed;
      return changed;
    }
    case 'added':
      for (const lease of batch.leases) {
        if (keyOf(lease) !== own) changed = setIfDifferent(peers, keyOf(lease), lease) || changed;
      }
      return changed;
    case 'removed':
      for (const lease of batch.leases) changed = peers.delete(keyOf(lease)) || changed;
      return changed;
  }
}

/** Drops a peer that claims what is now our own subnet (after a re-acquire). */
export function dropOwnSubnet(peers: PeerMap, ownSubnet: IpPrefix): boolean {
  return peers.delete(ownSubnet.toString());
}

function setIfDifferent(peers: PeerMap, key: string, lease: Lease): boolean {
  const existing = peers.get(key);
  if (existing && sameDatapath(existing, lease)) {
    peers.set(key, lease); // keep the newest expiry without counting it as a change
    return false;
  }
  peers.set(key, lease);
  return true;
}
