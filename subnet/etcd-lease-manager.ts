// Leases in etcd, as flannel keeps them (see FLANNEL-COMPAT.md "etcd (v3 API)"): one key per node
// under <prefix>/subnets/, bound to a 24 h etcd lease that is replaced (new grant + put) a renew
// margin before it ends. A key without an etcd lease is a reservation: never handed to another node,
// and used as is (no TTL) by the node whose PublicIP it carries.
// Where flannel exits (a lost creation race, our key deleted) we retry or take a lease again instead.
import type { Logger } from 'winston';
import { abortableSleep, abortReason, Backoff, type Sleep } from './backoff.js';
import { configKey, DEFAULT_ETCD_PREFIX, encodeLeaseValue, parseLeaseRecord, parseSubnetKey, subnetKey, subnetsDir } from './etcd-lease-codec.js';
import { EtcdPeerTracker } from './etcd-peer-tracker.js';
import { Etcd3Store, type EtcdRecord, type EtcdStore, type EtcdWatchResponse } from './etcd-store.js';
import { ConfigError, OutOfSubnetsError, RemoteDataError, TransientError } from './errors.js';
import { formatIpv4, type Ipv4Net } from './ipv4.js';
import type { AcquireOptions, Lease, LeaseAttrs, LeaseBatch, LeaseManager, LeaseWatcher, SubnetPool } from './lease.js';
import { fitsPool, isTaken, pickFreeSubnet } from './subnet-picker.js';

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

/** Our lease as last written. */
interface OwnLease {
  key: string;
  lease: Lease;
  /** "0" for a reservation. */
  leaseId: string;
  /** The key's mod revision after our write: renewal only replaces what we wrote. */
  modRevision: string;
  /** The value we wrote (with any fields of an earlier value we keep): renewal writes it again. */
  value: string;
  pool: SubnetPool;
  attrs: LeaseAttrs;
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
  private readonly maxRaceAttempts: number;
  private readonly closed = new AbortController();
  private readonly watchers = new Set<LeaseWatcher>();
  private own: OwnLease | undefined;
  private renewal: { stop: AbortController; done: Promise<void> } | undefined;
  private reacquiring: Promise<Lease | undefined> | undefined;

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
    this.maxRaceAttempts = opts.maxRaceAttempts ?? 10;
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
    const own = await this.retry('acquire a subnet lease', () => this.tryAcquire(options), signal);
    this.setOwn(own);
    return own.lease;
  }

  async watchLeases(watcher: LeaseWatcher, signal: AbortSignal): Promise<void> {
    const both = AbortSignal.any([signal, this.closed.signal]);
    const stopped = (): boolean => both.aborted; // a call, so that narrowing does not assume `false`
    const tracker = new EtcdPeerTracker({
      prefix: this.prefix,
      log: this.log,
      network: () => this.own?.pool.network,
      isOwn: (key, lease) => this.isOwn(key, lease),
    });
    const backoff = this.newBackoff();
    let revision: string | undefined; // everything up to it was seen
    this.watchers.add(watcher);
    try {
      while (!stopped()) {
        try {
          if (revision === undefined) {
            const listing = await this.store.list(subnetsDir(this.prefix));
            this.deliver(watcher, [tracker.snapshot(listing.records)]);
            revision = listing.revision;
            this.log.debug('listed leases', { revision, peers: tracker.size });
          }
          const end = await this.watchFrom(revision, tracker, watcher, backoff, both);
          revision = end.revision;
          if (end.relist) {
            revision = undefined;
            continue;
          }
          if (stopped()) break;
          const delayMs = backoff.next();
          this.storeError(new Error(`lease watch interrupted (${end.reason})`));
          this.log.warn(`lease watch interrupted (${end.reason}); resuming from revision ${Number(revision) + 1} in ${delayMs} ms`);
          await this.sleep(delayMs, both);
        } catch (err) {
          if (stopped()) break;
          const delayMs = backoff.next();
          this.storeError(err as Error);
          this.log.warn(`listing leases failed, retrying in ${delayMs} ms: ${(err as Error).message}`);
          await this.sleep(delayMs, both).catch(() => undefined);
        }
      }
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

  /**
   * One watch stream from `revision` + 1 until it breaks. Responses are queued as they arrive and
   * handled together, so a burst of peers becomes a few batches, and our own key's deletion can be
   * handled (re-acquired) before the events after it.
   */
  private async watchFrom(
    revision: string,
    tracker: EtcdPeerTracker,
    watcher: LeaseWatcher,
    backoff: Backoff,
    signal: AbortSignal,
  ): Promise<{ revision: string; relist: boolean; reason: string }> {
    const queue: EtcdWatchResponse[] = [];
    let closedBy: Error | undefined;
    let wake: (() => void) | undefined;
    const poke = (): void => {
      wake?.();
      wake = undefined;
    };
    const watch = this.store.watch(subnetsDir(this.prefix), String(Number(revision) + 1), {
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
            this.log.info(`lease watch: revision ${Number(last) + 1} was compacted (now ${res.compactRevision}); listing again`);
            this.deliver(watcher, tracker.apply(events));
            return { revision: last, relist: true, reason: 'compacted' };
          }
          if (res.canceled) {
            this.deliver(watcher, tracker.apply(events));
            this.log.warn('lease watch cancelled by etcd; listing again');
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
          const ownLost = this.ownKeyLost(events);
          this.deliver(watcher, tracker.apply(events));
          if (ownLost) await this.reacquire(ownLost);
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
  private ownKeyLost(events: readonly { type: 'put' | 'delete'; record: EtcdRecord }[]): string | undefined {
    const own = this.own;
    if (own === undefined) return undefined;
    let lost: string | undefined;
    for (const { type, record } of events) {
      if (record.key !== own.key) continue;
      if (type === 'delete') {
        lost = `own lease deleted, re-acquiring (subnet ${own.lease.subnet.toString()})`;
        continue;
      }
      let publicIp: string;
      try {
        publicIp = formatIpv4(parseLeaseRecord(this.prefix, record).publicIp);
      } catch {
        publicIp = 'unreadable data';
      }
      lost =
        publicIp === formatIpv4(own.attrs.publicIp)
          ? undefined
          : `own lease overwritten with ${publicIp}, re-acquiring (subnet ${own.lease.subnet.toString()})`;
    }
    return lost;
  }

  /** Takes a lease again (preferring the same subnet) and tells every watcher. Concurrent callers share one attempt. */
  private reacquire(reason: string): Promise<Lease | undefined> {
    const own = this.own;
    if (own === undefined) return Promise.resolve(undefined);
    this.reacquiring ??= (async () => {
      this.log.warn(reason, { subnet: own.lease.subnet.toString() });
      try {
        const lease = await this.acquireLease(
          { pool: own.pool, attrs: own.attrs, previousSubnet: own.lease.subnet },
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

  /** One attempt: list, choose, write. Throws TransientError after too many lost races. */
  private async tryAcquire(options: AcquireOptions): Promise<OwnLease> {
    const { pool, attrs } = options;
    for (let race = 0; race < this.maxRaceAttempts; race++) {
      const listing = await this.store.list(subnetsDir(this.prefix));
      const taken: Ipv4Net[] = [];
      let mine: { record: EtcdRecord; subnet: Ipv4Net } | undefined;
      for (const record of listing.records) {
        let subnet: Ipv4Net;
        try {
          subnet = parseSubnetKey(this.prefix, record.key);
        } catch (err) {
          if (!(err instanceof RemoteDataError)) throw err;
          continue; // a key that names no subnet blocks none
        }
        taken.push(subnet); // even with an unreadable value: the subnet is somebody's
        if (mine === undefined && fitsPool(pool, subnet) && this.carriesIp(record, attrs)) mine = { record, subnet };
      }

      const result = mine
        ? await this.rewrite(mine.record, mine.subnet, options)
        : await this.create(this.chooseSubnet(options, taken), options);
      if (result) return result;
      this.log.info('lost a race for a subnet to another node; choosing again', { attempt: race + 1 });
    }
    throw new TransientError(`lost the race for a free subnet ${this.maxRaceAttempts} times in a row`);
  }

  private chooseSubnet(options: AcquireOptions, taken: readonly Ipv4Net[]): Ipv4Net {
    const { pool, previousSubnet } = options;
    if (previousSubnet !== undefined) {
      if (fitsPool(pool, previousSubnet) && !isTaken(previousSubnet, taken)) return previousSubnet;
      this.log.info(`previous subnet ${previousSubnet.toString()} is taken or outside the pool; choosing another`);
    }
    const subnet = pickFreeSubnet(pool, taken, this.random);
    if (subnet === undefined) {
      throw new OutOfSubnetsError(
        `out of subnets: every /${pool.subnetLen} from ${formatIpv4(pool.subnetMin)} to ${formatIpv4(pool.subnetMax)} ` +
          `in ${pool.network.toString()} is leased or reserved (${taken.length} keys); widen Network or remove stale leases`,
      );
    }
    return subnet;
  }

  /** Creates a new lease; undefined when another node created the key first. */
  private async create(subnet: Ipv4Net, options: AcquireOptions): Promise<OwnLease | undefined> {
    const key = subnetKey(this.prefix, subnet);
    const value = encodeLeaseValue(options.attrs);
    const grant = await this.store.grant(this.ttlSeconds);
    const result = await this.store.create(key, value, grant.id);
    if (!result.succeeded) {
      await this.store.revoke(grant.id).catch(() => undefined);
      return undefined;
    }
    this.log.info('leased subnet', { subnet: subnet.toString(), publicIp: formatIpv4(options.attrs.publicIp) });
    return this.ownLease({ key, value }, subnet, grant, result.revision, options);
  }

  /** Writes our current attributes into our existing key (a lease keeps a TTL, a reservation stays one). */
  private async rewrite(record: EtcdRecord, subnet: Ipv4Net, options: AcquireOptions): Promise<OwnLease | undefined> {
    const value = encodeLeaseValue(options.attrs, record.value);
    const reservation = record.leaseId === '0';
    const grant = reservation ? undefined : await this.store.grant(this.ttlSeconds);
    const result = await this.store.replace(record.key, value, grant?.id ?? '0', record.modRevision);
    if (!result.succeeded) {
      if (grant) await this.store.revoke(grant.id).catch(() => undefined);
      return undefined;
    }
    this.log.info(reservation ? 'using the subnet reserved for our public IP' : 'reusing our earlier subnet', {
      subnet: subnet.toString(),
      publicIp: formatIpv4(options.attrs.publicIp),
    });
    return this.ownLease({ key: record.key, value }, subnet, grant, result.revision, options);
  }

  private ownLease(
    { key, value }: { key: string; value: string },
    subnet: Ipv4Net,
    grant: { id: string; ttlSeconds: number } | undefined,
    modRevision: string,
    options: AcquireOptions,
  ): OwnLease {
    const expiresAt = grant ? new Date(this.now() + grant.ttlSeconds * 1000) : undefined;
    return {
      key,
      lease: { ...options.attrs, subnet, expiresAt },
      leaseId: grant?.id ?? '0',
      modRevision,
      value,
      pool: options.pool,
      attrs: options.attrs,
    };
  }

  private carriesIp(record: EtcdRecord, attrs: LeaseAttrs): boolean {
    try {
      return parseLeaseRecord(this.prefix, record).publicIp === attrs.publicIp;
    } catch {
      return false;
    }
  }

  private isOwn(key: string, lease: Lease): boolean {
    const own = this.own;
    return own !== undefined && (key === own.key || lease.publicIp === own.attrs.publicIp);
  }

  /** Records our lease and (re)starts its renewal; a reservation is never renewed. */
  private setOwn(own: OwnLease): void {
    this.own = own;
    this.renewal?.stop.abort();
    this.renewal = undefined;
    if (own.leaseId === '0' || this.closed.signal.aborted) return;
    const stop = new AbortController();
    const signal = AbortSignal.any([stop.signal, this.closed.signal]);
    this.renewal = { stop, done: this.renewLoop(own, signal).catch(() => undefined) };
  }

  /** Renews at expiry minus the margin; retries every renewRetryMs; re-acquires if the key changed under us. */
  private async renewLoop(start: OwnLease, signal: AbortSignal): Promise<void> {
    let own = start;
    for (;;) {
      const dueMs = (own.lease.expiresAt?.getTime() ?? 0) - this.renewMarginMs - this.now();
      await this.sleep(Math.max(0, dueMs), signal);
      for (;;) {
        try {
          const grant = await this.store.grant(this.ttlSeconds);
          const result = await this.store.replace(own.key, own.value, grant.id, own.modRevision);
          if (!result.succeeded) {
            await this.store.revoke(grant.id).catch(() => undefined);
            if (signal.aborted) return;
            void this.reacquire(`own lease changed or vanished in etcd before renewal, re-acquiring`);
            return;
          }
          own = { ...own, leaseId: grant.id, modRevision: result.revision, lease: { ...own.lease, expiresAt: new Date(this.now() + grant.ttlSeconds * 1000) } };
          if (this.own?.key === own.key) this.own = own;
          this.log.info('renewed subnet lease', { subnet: own.lease.subnet.toString(), expiresAt: own.lease.expiresAt?.toISOString() });
          break;
        } catch (err) {
          if (signal.aborted) return;
          this.storeError(err as Error);
          this.log.warn(`renewing the subnet lease failed, retrying in ${this.renewRetryMs} ms: ${(err as Error).message}`, {
            subnet: own.lease.subnet.toString(),
          });
          await this.sleep(this.renewRetryMs, signal);
        }
      }
    }
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

  /** A watcher's exception must not stop the watch. */
  private deliver(watcher: LeaseWatcher, batches: readonly LeaseBatch[]): void {
    for (const batch of batches) {
      if (batch.kind !== 'snapshot' && batch.leases.length === 0) continue;
      try {
        watcher.onBatch(batch);
      } catch (err) {
        this.log.error(`lease watcher failed on a ${batch.kind} batch: ${(err as Error).message}`);
      }
    }
  }
}
