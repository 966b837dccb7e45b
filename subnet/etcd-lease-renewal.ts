// Keeping our etcd lease alive: a new grant + conditional put a renew margin before it ends,
// retried every renewRetryMs while etcd fails; if the key changed under us the caller re-acquires.
import type { Logger } from 'winston';
import type { Sleep } from './backoff.js';
import type { OwnLease } from './etcd-lease-claim.js';
import type { EtcdStore } from './etcd-store.js';
import { leaseSubnet } from './lease.js';

export interface RenewalOptions {
  store: EtcdStore;
  log: Logger;
  ttlSeconds: number;
  renewMarginMs: number;
  renewRetryMs: number;
  now: () => number;
  sleep: Sleep;
  /** Each failed renewal that will be retried. */
  onStoreError: (err: Error) => void;
  /** The lease was renewed: here is what we wrote. */
  onRenewed: (own: OwnLease) => void;
  /** The key changed or vanished: renewal stops, the lease must be taken again. */
  onLost: (reason: string) => void;
}

/** Renews at expiry minus the margin until `signal` aborts or the key is lost. */
export async function renewLease(start: OwnLease, opts: RenewalOptions, signal: AbortSignal): Promise<void> {
  let own = start;
  for (;;) {
    const dueMs = (own.lease.expiresAt?.getTime() ?? 0) - opts.renewMarginMs - opts.now();
    await opts.sleep(Math.max(0, dueMs), signal);
    const renewed = await renewOnce(own, opts, signal);
    if (renewed === undefined) return;
    own = renewed;
  }
}

/** One renewal, retried until it succeeds; undefined when stopped or lost. */
async function renewOnce(own: OwnLease, opts: RenewalOptions, signal: AbortSignal): Promise<OwnLease | undefined> {
  const { store, log } = opts;
  for (;;) {
    try {
      const grant = await store.grant(opts.ttlSeconds);
      const result = await store.replace(own.key, own.value, grant.id, own.modRevision);
      if (!result.succeeded) {
        await store.revoke(grant.id).catch(() => undefined);
        if (!signal.aborted) opts.onLost('own lease changed or vanished in etcd before renewal, re-acquiring');
        return undefined;
      }
      const expiresAt = new Date(opts.now() + grant.ttlSeconds * 1000);
      const renewed = { ...own, leaseId: grant.id, modRevision: result.revision, lease: { ...own.lease, expiresAt } };
      opts.onRenewed(renewed);
      log.info('renewed subnet lease', { subnet: leaseSubnet(renewed.lease).toString(), expiresAt: expiresAt.toISOString() });
      return renewed;
    } catch (err) {
      if (signal.aborted) return undefined;
      opts.onStoreError(err as Error);
      log.warn(`renewing the subnet lease failed, retrying in ${opts.renewRetryMs} ms: ${(err as Error).message}`, {
        subnet: leaseSubnet(own.lease).toString(),
      });
      await opts.sleep(opts.renewRetryMs, signal);
    }
  }
}
