// Leases in etcd, as flannel keeps them (see FLANNEL-COMPAT.md "etcd (v3 API)"): one key per node
// under <prefix>/subnets/, bound to a 24 h etcd lease that is replaced (new grant + put) a renew
// margin before it ends. A key without an etcd lease is a reservation: never handed to another node,
// and used as is (no TTL) by the node whose PublicIP it carries.
// Where flannel exits (a lost creation race, our key deleted) we retry or take a lease again instead.
import type { Logger } from 'winston';
import { abortableSleep, abortReason, Backoff, type Sleep } from './backoff.js';
import { EtcdLeaseClaim, type OwnLease } from './etcd-lease-claim.js';
import { configKey, DEFAULT_ETCD_PREFIX } from './etcd-lease-codec.js';
import { renewLease } from './etcd-lease-renewal.js';
import { watchEtcdLeases } from './etcd-lease-watch.js';
import { EtcdPeerTracker } from './etcd-peer-tracker.js';
import { Etcd3Store, type EtcdListing, type EtcdStore } from './etcd-store.js';
import { ConfigError, OutOfSubnetsError, TransientError } from './errors.js';
import { leaseSubnet, publishedBy, type AcquireOptions, type Lease, type LeaseManager, type LeaseWatcher } from './lease.js';

export const LEASE_TTL_SECONDS = 24 * 60 * 60;

/**
 * Retry pacing while etcd does not answer: capped at 2 s, so that a node is watching (and leasing)
 * again within ~2 s of etcd coming back (a 30 s cap made it wait up to 24 s after an outage), and
 * half-randomised, so that a dead etcd sees each node about once every 1-2 s, not in lockstep.
 */
const DEFAULT_BACKOFF = { initialMs: 500, maxMs: 2000, jitter: 0.5 };

export interface EtcdLeaseManagerOptions {
  endpoints: string[];
  /** /coreos.com/network unless --etcd-prefix says otherwise (no trailing slash). */
  prefix?: string | undefined;
  keyFile?: string | undefined;
  certFile?: string | undefined;
  caFile?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** Renew this long before the lease ends (--subnet-lease-renew-margin, default 60). */
  renewMarginMinutes?: number | undefined;
  logger: Logger;
  /** Called for every failed etcd call that will be retried (metrics count them). */
  onStoreError?: ((err: Error) => void) | undefined;
  /** Tests only: a shorter lease than flannel's 24 h. */
  ttlSeconds?: number | undefined;
  /** Delay between failed renewals (flannel: one minute). */
  renewRetryMs?: number | undefined;
  /** Retry delays while etcd is unreachable or the config is missing (jitter: see Backoff). */
  backoff?: { initialMs: number; maxMs: number; jitter?: number | undefined } | undefined;
  /** How many creation races to lose in a row before backing off. */
  maxRaceAttempts?: number | undefined;
  /** Injected in tests. */
  store?: EtcdStore | undefined;
  now?: (() => number) | undefined;
  sleep?: Sleep | undefined;
  random?: (() => number) | undefined;
}

export class EtcdLeaseManager implements LeaseManager {
  private readonly prefix: string;
  private readonly store: EtcdStore;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly sleep: Sleep;
  private readonly random: () => number;
  private readonly ttlSeconds: number;
  private readonly renewMarginMs: number;
  private readonly renewRetryMs: number;
  private readonly backoffMs: { initialMs: number; maxMs: number; jitter?: number | undefined };
  private readonly claim: EtcdLeaseClaim;
  private readonly closed = new AbortController();
  private readonly watchers = new Set<LeaseWatcher>();
  private own: OwnLease | undefined;
  private renewal: { stop: AbortController; done: Promise<void> } | undefined;
  private reacquiring: Promise<Lease | undefined> | undefined;
  /**
   * The listing the first claim chose from, until the first watch starts from it: at start-up the
   * same N leases are then fetched and decoded once, not twice (5000 leases: one gRPC listing less).
   */
  private claimListing: EtcdListing | undefined;

  private readonly onStoreError: ((err: Error) => void) | undefined;

  constructor(opts: EtcdLeaseManagerOptions) {
    this.onStoreError = opts.onStoreError;
    this.prefix = (opts.prefix ?? DEFAULT_ETCD_PREFIX).replace(/\/+$/, '');
    this.store =
      opts.store ??
      new Etcd3Store({
        endpoints: opts.endpoints,
        keyFile: opts.keyFile,
        certFile: opts.certFile,
        caFile: opts.caFile,
        username: opts.username,
        password: opts.password,
      });
    this.log = opts.logger.child({ component: 'etcd-lease-manager' });
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? abortableSleep;
    this.random = opts.random ?? Math.random;
    this.ttlSeconds = opts.ttlSeconds ?? LEASE_TTL_SECONDS;
    this.renewMarginMs = (opts.renewMarginMinutes ?? 60) * 60_000;
    this.renewRetryMs = opts.renewRetryMs ?? 60_000;
    this.backoffMs = opts.backoff ?? DEFAULT_BACKOFF;
    this.claim = new EtcdLeaseClaim({
      store: this.store, prefix: this.prefix, log: this.log, ttlSeconds: this.ttlSeconds,
      maxRaceAttempts: opts.maxRaceAttempts ?? 10, now: this.now, random: this.random,
    });
  }

  async readNetworkConfig(signal: AbortSignal): Promise<string> {
    const key = configKey(this.prefix);
    return this.retry(
      `read ${key}`,
      async () => {
        const text = await this.store.get(key);
        if (text === undefined) {
          throw new TransientError(`network config key ${key} does not exist yet; write net-conf.json there (etcdctl put ${key} ...)`);
        }
        return text;
      },
      signal,
    );
  }

  async acquireLease(options: AcquireOptions, signal: AbortSignal): Promise<Lease> {
    const { own, listing } = await this.retry('acquire a subnet lease', () => this.claim.claim(options), signal);
    this.setOwn(own);
    // Only for a watch yet to start: a running one has its own revision (and would leave it held).
    if (this.watchers.size === 0) this.claimListing = listing;
    return own.lease;
  }

  async watchLeases(watcher: LeaseWatcher, signal: AbortSignal): Promise<void> {
    const tracker = new EtcdPeerTracker({
      prefix: this.prefix,
      log: this.log,
      networks: () => ({ ipv4: this.own?.pool?.network, ipv6: this.own?.ipv6Pool?.network }),
      isOwn: (key, lease) => this.isOwn(key, lease),
    });
    this.watchers.add(watcher);
    try {
      await watchEtcdLeases(
        {
          store: this.store, prefix: this.prefix, log: this.log, sleep: this.sleep,
          newBackoff: () => this.newBackoff(),
          onStoreError: (err) => { this.storeError(err); },
          own: () => this.own,
          reacquire: (reason) => this.reacquire(reason),
          takeFirstListing: () => {
            const listing = this.claimListing;
            this.claimListing = undefined;
            return listing;
          },
        },
        tracker, watcher, AbortSignal.any([signal, this.closed.signal]),
      );
    } finally {
      this.watchers.delete(watcher);
    }
  }

  /** Stops renewal and watches and closes the client; the lease stays in etcd for the next start. */
  async close(): Promise<void> {
    this.closed.abort(new Error('lease manager closed'));
    const renewal = this.renewal;
    this.renewal = undefined;
    renewal?.stop.abort();
    await renewal?.done;
    await this.reacquiring?.catch(() => undefined);
    this.store.close();
  }

  /** Takes a lease again (preferring the same subnet) and tells every watcher. Concurrent callers share one attempt. */
  private reacquire(reason: string): Promise<Lease | undefined> {
    const own = this.own;
    if (own === undefined) return Promise.resolve(undefined);
    this.reacquiring ??= (async () => {
      this.log.warn(reason, { subnet: leaseSubnet(own.lease).toString() });
      try {
        const lease = await this.acquireLease(
          { pool: own.pool, ipv6Pool: own.ipv6Pool, attrs: own.attrs, previousSubnet: own.lease.subnet, previousIpv6Subnet: own.lease.ipv6Subnet },
          this.closed.signal,
        );
        for (const watcher of this.watchers) {
          try {
            watcher.onOwnLeaseChanged(lease);
          } catch (err) {
            this.log.error(`lease watcher failed on our new lease: ${(err as Error).message}`);
          }
        }
        return lease;
      } catch (err) {
        if (!this.closed.signal.aborted) this.log.error(`could not take a lease again: ${(err as Error).message}`);
        return undefined;
      }
    })().finally(() => {
      this.reacquiring = undefined;
    });
    return this.reacquiring;
  }

  private isOwn(key: string, lease: Lease): boolean {
    const own = this.own;
    return own !== undefined && (key === own.key || publishedBy(lease, own.attrs));
  }

  /** Records our lease and (re)starts its renewal; a reservation is never renewed. */
  private setOwn(own: OwnLease): void {
    this.own = own;
    this.renewal?.stop.abort();
    this.renewal = undefined;
    if (own.leaseId === '0' || this.closed.signal.aborted) return;
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, this.closed.signal]);
    const renewal = renewLease(own, {
      store: this.store, log: this.log, ttlSeconds: this.ttlSeconds, renewMarginMs: this.renewMarginMs,
      renewRetryMs: this.renewRetryMs, now: this.now, sleep: this.sleep,
      onStoreError: (err) => { this.storeError(err); },
      onRenewed: (renewed) => { if (this.own?.key === renewed.key) this.own = renewed; },
      onLost: (reason) => { void this.reacquire(reason); },
    }, signal);
    this.renewal = { stop, done: renewal.catch(() => undefined) };
  }

  /** Runs `call` until it succeeds, backing off on store errors; config and capacity errors are final. */
  private async retry<T>(what: string, call: () => Promise<T>, signal: AbortSignal): Promise<T> {
    const both = AbortSignal.any([signal, this.closed.signal]);
    const stopped = (): boolean => both.aborted; // a call, so that narrowing does not assume `false`
    const backoff = this.newBackoff();
    for (;;) {
      if (stopped()) throw abortReason(both);
      try {
        return await call();
      } catch (err) {
        if (stopped()) throw abortReason(both);
        if (err instanceof ConfigError || err instanceof OutOfSubnetsError) throw err;
        const delayMs = backoff.next();
        this.storeError(err as Error);
        this.log.warn(`${what} failed, retrying in ${delayMs} ms: ${(err as Error).message}`);
        await this.sleep(delayMs, both);
      }
    }
  }

  private newBackoff(): Backoff {
    return new Backoff({ ...this.backoffMs, random: this.random });
  }

  private storeError(err: Error): void {
    this.onStoreError?.(err);
  }
}
