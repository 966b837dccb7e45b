// Taking a subnet key in etcd, as flannel does: reuse the key that carries our public IP (a lease
// or a reservation), else create a free one. Creation and rewrite are conditional transactions, so
// two nodes racing for one subnet cannot both win; the loser chooses again.
import type { Logger } from 'winston';
import { encodeLeaseValue, parseLeaseRecord, parseSubnetKey, subnetKey, subnetsDir } from './etcd-lease-codec.js';
import type { EtcdRecord, EtcdStore } from './etcd-store.js';
import { OutOfSubnetsError, RemoteDataError, TransientError } from './errors.js';
import type { AcquireOptions, Lease, LeaseAttrs, SubnetPool } from './lease.js';
import { fitsPool, isTaken, pickFreeSubnet } from './subnet-picker.js';
import type { IpPrefix } from './ip-prefix.js';

/** Our lease as last written. */
export interface OwnLease {
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

export interface LeaseClaimOptions {
  store: EtcdStore;
  prefix: string;
  log: Logger;
  ttlSeconds: number;
  /** How many creation races to lose in a row before giving up (the caller backs off). */
  maxRaceAttempts: number;
  now: () => number;
  random: () => number;
}

export class EtcdLeaseClaim {
  constructor(private readonly opts: LeaseClaimOptions) {}

  /** One attempt: list, choose, write. Throws TransientError after too many lost races. */
  async claim(options: AcquireOptions): Promise<OwnLease> {
    const { store, prefix, log, maxRaceAttempts } = this.opts;
    for (let race = 0; race < maxRaceAttempts; race++) {
      const listing = await store.list(subnetsDir(prefix));
      const taken: IpPrefix[] = [];
      let mine: { record: EtcdRecord; subnet: IpPrefix } | undefined;
      for (const record of listing.records) {
        let subnet: IpPrefix;
        try {
          subnet = parseSubnetKey(prefix, record.key);
        } catch (err) {
          if (!(err instanceof RemoteDataError)) throw err;
          continue; // a key that names no subnet blocks none
        }
        taken.push(subnet); // even with an unreadable value: the subnet is somebody's
        if (mine === undefined && fitsPool(options.pool, subnet) && this.carriesIp(record, options.attrs)) mine = { record, subnet };
      }

      const result = mine
        ? await this.rewrite(mine.record, mine.subnet, options)
        : await this.create(this.chooseSubnet(options, taken), options);
      if (result) return result;
      log.info('lost a race for a subnet to another node; choosing again', { attempt: race + 1 });
    }
    throw new TransientError(`lost the race for a free subnet ${maxRaceAttempts} times in a row`);
  }

  private chooseSubnet(options: AcquireOptions, taken: readonly IpPrefix[]): IpPrefix {
    const { pool, previousSubnet } = options;
    if (previousSubnet !== undefined) {
      if (fitsPool(pool, previousSubnet) && !isTaken(previousSubnet, taken)) return previousSubnet;
      this.opts.log.info(`previous subnet ${previousSubnet.toString()} is taken or outside the pool; choosing another`);
    }
    const subnet = pickFreeSubnet(pool, taken, this.opts.random);
    if (subnet === undefined) {
      throw new OutOfSubnetsError(
        `out of subnets: every /${pool.subnetLen} from ${pool.subnetMin.toString()} to ${pool.subnetMax.toString()} ` +
          `in ${pool.network.toString()} is leased or reserved (${taken.length} keys); widen Network or remove stale leases`,
      );
    }
    return subnet;
  }

  /** Creates a new lease; undefined when another node created the key first. */
  private async create(subnet: IpPrefix, options: AcquireOptions): Promise<OwnLease | undefined> {
    const { store, prefix, log, ttlSeconds } = this.opts;
    const key = subnetKey(prefix, subnet);
    const value = encodeLeaseValue(options.attrs);
    const grant = await store.grant(ttlSeconds);
    const result = await store.create(key, value, grant.id);
    if (!result.succeeded) {
      await store.revoke(grant.id).catch(() => undefined);
      return undefined;
    }
    log.info('leased subnet', { subnet: subnet.toString(), publicIp: options.attrs.publicIp.toString() });
    return this.ownLease({ key, value }, subnet, grant, result.revision, options);
  }

  /** Writes our current attributes into our existing key (a lease keeps a TTL, a reservation stays one). */
  private async rewrite(record: EtcdRecord, subnet: IpPrefix, options: AcquireOptions): Promise<OwnLease | undefined> {
    const { store, log, ttlSeconds } = this.opts;
    const value = encodeLeaseValue(options.attrs, record.value);
    const reservation = record.leaseId === '0';
    const grant = reservation ? undefined : await store.grant(ttlSeconds);
    const result = await store.replace(record.key, value, grant?.id ?? '0', record.modRevision);
    if (!result.succeeded) {
      if (grant) await store.revoke(grant.id).catch(() => undefined);
      return undefined;
    }
    log.info(reservation ? 'using the subnet reserved for our public IP' : 'reusing our earlier subnet', {
      subnet: subnet.toString(),
      publicIp: options.attrs.publicIp.toString(),
    });
    return this.ownLease({ key: record.key, value }, subnet, grant, result.revision, options);
  }

  private ownLease(
    { key, value }: { key: string; value: string },
    subnet: IpPrefix,
    grant: { id: string; ttlSeconds: number } | undefined,
    modRevision: string,
    options: AcquireOptions,
  ): OwnLease {
    const expiresAt = grant ? new Date(this.opts.now() + grant.ttlSeconds * 1000) : undefined;
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
      return parseLeaseRecord(this.opts.prefix, record).publicIp.equals(attrs.publicIp);
    } catch {
      return false;
    }
  }
}
