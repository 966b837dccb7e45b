// Streaming peer leases from etcd: list once (or take the claim's listing), then watch from the
// listing's revision; resume from the last revision seen after a broken stream, list again after a
// compaction or a cancellation.
// Responses are queued as they arrive and handled together, so a burst of peers becomes a few
// batches, and our own key's deletion can be handled (re-acquired) before the events after it.
import type { Logger } from 'winston';
import type { Backoff, Sleep } from './backoff.js';
import { parseLeaseRecord, subnetsDir } from './etcd-lease-codec.js';
import type { EtcdPeerTracker } from './etcd-peer-tracker.js';
import type { EtcdListing, EtcdRecord, EtcdStore, EtcdWatchResponse } from './etcd-store.js';
import { leaseSubnet, publishedBy, type LeaseBatch, type LeaseWatcher } from './lease.js';
import type { OwnLease } from './etcd-lease-claim.js';

export interface LeaseWatchOptions {
  store: EtcdStore;
  prefix: string;
  log: Logger;
  sleep: Sleep;
  newBackoff: () => Backoff;
  onStoreError: (err: Error) => void;
  /** Our lease as last written (undefined before the first acquisition). */
  own: () => OwnLease | undefined;
  /** Takes our lease again; resolves when done (or given up). */
  reacquire: (reason: string) => Promise<unknown>;
  /** A listing already read (the claim's), used instead of the first listing; undefined after. */
  takeFirstListing?: () => EtcdListing | undefined;
}

interface StreamEnd {
  revision: string;
  relist: boolean;
  reason: string;
}

/** Delivers peer lease batches to `watcher` until `signal` aborts; survives etcd outages. */
export async function watchEtcdLeases(
  opts: LeaseWatchOptions,
  tracker: EtcdPeerTracker,
  watcher: LeaseWatcher,
  signal: AbortSignal,
): Promise<void> {
  const { log, sleep } = opts;
  const stopped = (): boolean => signal.aborted; // a call, so that narrowing does not assume `false`
  const backoff = opts.newBackoff();
  let revision: string | undefined; // everything up to it was seen
  while (!stopped()) {
    try {
      revision ??= await listInto(opts, tracker, watcher);
      const end = await watchFrom(opts, revision, tracker, watcher, backoff, signal);
      revision = end.revision;
      if (end.relist) {
        revision = undefined;
        continue;
      }
      if (stopped()) break;
      const delayMs = backoff.next();
      opts.onStoreError(new Error(`lease watch interrupted (${end.reason})`));
      log.warn(`lease watch interrupted (${end.reason}); resuming from revision ${Number(revision) + 1} in ${delayMs} ms`);
      await sleep(delayMs, signal);
    } catch (err) {
      if (stopped()) break;
      const delayMs = backoff.next();
      opts.onStoreError(err as Error);
      log.warn(`listing leases failed, retrying in ${delayMs} ms: ${(err as Error).message}`);
      await sleep(delayMs, signal).catch(() => undefined);
    }
  }
}

/**
 * Lists every lease and hands the watcher a snapshot; returns the listing's revision. A function of
 * its own so that the listing (every record's key and value) is garbage once it returns: a local of
 * the suspended watch loop would stay alive as long as the watch.
 */
async function listInto(opts: LeaseWatchOptions, tracker: EtcdPeerTracker, watcher: LeaseWatcher): Promise<string> {
  const listing = opts.takeFirstListing?.() ?? await opts.store.list(subnetsDir(opts.prefix));
  deliver(opts.log, watcher, [tracker.snapshot(listing.records)]);
  opts.log.debug('listed leases', { revision: listing.revision, peers: tracker.size });
  return listing.revision;
}

/** One watch stream from `revision` + 1 until it breaks. */
async function watchFrom(
  opts: LeaseWatchOptions,
  revision: string,
  tracker: EtcdPeerTracker,
  watcher: LeaseWatcher,
  backoff: Backoff,
  signal: AbortSignal,
): Promise<StreamEnd> {
  const { log } = opts;
  const queue: EtcdWatchResponse[] = [];
  let closedBy: Error | undefined;
  let wake: (() => void) | undefined;
  const poke = (): void => {
    wake?.();
    wake = undefined;
  };
  const watch = opts.store.watch(subnetsDir(opts.prefix), String(Number(revision) + 1), {
    onResponse: (res) => {
      queue.push(res);
      poke();
    },
    onClosed: (err) => {
      closedBy = err;
      poke();
    },
  });
  signal.addEventListener('abort', poke);
  let last = revision;
  try {
    for (;;) {
      if (queue.length === 0 && closedBy === undefined && !signal.aborted) {
        await new Promise<void>((resolve) => (wake = resolve));
      }
      if (signal.aborted) return { revision: last, relist: false, reason: 'stopped' };
      const responses = queue.splice(0);
      const events = [];
      for (const res of responses) {
        if (res.created) backoff.reset();
        if (res.compactRevision !== '0' && res.compactRevision !== '') {
          log.info(`lease watch: revision ${Number(last) + 1} was compacted (now ${res.compactRevision}); listing again`);
          deliver(log, watcher, tracker.apply(events));
          return { revision: last, relist: true, reason: 'compacted' };
        }
        if (res.canceled) {
          deliver(log, watcher, tracker.apply(events));
          log.warn('lease watch cancelled by etcd; listing again');
          return { revision: last, relist: true, reason: 'cancelled' };
        }
        for (const ev of res.events) {
          events.push(ev);
          if (Number(ev.record.modRevision) > Number(last)) last = ev.record.modRevision;
        }
        // A progress notice (no events, not a creation) vouches for everything up to its revision.
        if (res.events.length === 0 && !res.created && Number(res.revision) > Number(last)) last = res.revision;
      }
      if (events.length > 0) {
        const ownLost = ownKeyLost(opts.prefix, opts.own(), events);
        deliver(log, watcher, tracker.apply(events));
        if (ownLost) await opts.reacquire(ownLost);
      }
      if (closedBy !== undefined && queue.length === 0) {
        return { revision: last, relist: false, reason: closedBy.message };
      }
    }
  } finally {
    signal.removeEventListener('abort', poke);
    watch.cancel();
  }
}

/** Why our lease is gone, when these events delete our key or give it to another node. */
function ownKeyLost(
  prefix: string,
  own: OwnLease | undefined,
  events: readonly { type: 'put' | 'delete'; record: EtcdRecord }[],
): string | undefined {
  if (own === undefined) return undefined;
  let lost: string | undefined;
  for (const { type, record } of events) {
    if (record.key !== own.key) continue;
    const subnet = leaseSubnet(own.lease).toString();
    if (type === 'delete') {
      lost = `own lease deleted, re-acquiring (subnet ${subnet})`;
      continue;
    }
    let publisher: string;
    try {
      const lease = parseLeaseRecord(prefix, record);
      if (publishedBy(lease, own.attrs)) {
        lost = undefined;
        continue;
      }
      publisher = (lease.publicIp ?? lease.publicIpv6 ?? 'no public IP').toString();
    } catch {
      publisher = 'unreadable data';
    }
    lost = `own lease overwritten with ${publisher}, re-acquiring (subnet ${subnet})`;
  }
  return lost;
}

/** A watcher's exception must not stop the watch. */
function deliver(log: Logger, watcher: LeaseWatcher, batches: readonly LeaseBatch[]): void {
  for (const batch of batches) {
    if (batch.kind !== 'snapshot' && batch.leases.length === 0) continue;
    try {
      watcher.onBatch(batch);
    } catch (err) {
      log.error(`lease watcher failed on a ${batch.kind} batch: ${(err as Error).message}`);
    }
  }
}
