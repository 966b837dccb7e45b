// Taking a subnet key in etcd, as flannel does: reuse the key that carries our public IP (a lease
// or a reservation), else create a free one. Creation and rewrite are conditional transactions, so
// two nodes racing for one subnet cannot both win; the loser chooses again.
// Dual stack (flannel's local_manager.go): one key names a subnet of each family
// (10.1.15.0-24&fd00:12:13::-56), each half picked from its own pool among the halves no key holds;
// a key is ours to reuse only when it has a half exactly for each pool we have, each fitting its pool.
// IPv6 only: the key is 0.0.0.0-0&fd00:12:13::-56 and the value's PublicIP "0.0.0.0", as flannel
// writes them; the subnet comes from the IPv6 pool alone and our key is the one carrying our public
// IPv6 address. (flannel's etcd manager picks the IPv4 half from an empty pool, so its second
// IPv6-only node finds no subnet, and it matches its key by PublicIP "0.0.0.0", so it would take
// another IPv6-only node's key: weft does neither.)
import type { Logger } from 'winston';
import { encodeLeaseValue, leaseKey, parseLeaseKey, parseLeaseRecord, parseLeaseValue, subnetsDir, type LeaseKeySubnets } from './etcd-lease-codec.js';
import type { EtcdListing, EtcdRecord, EtcdStore } from './etcd-store.js';
import { OutOfSubnetsError, RemoteDataError, TransientError } from './errors.js';
import { checkAcquireOptions, leaseSubnet, publishedBy, type AcquireOptions, type Lease, type LeaseAttrs, type SubnetPool } from './lease.js';
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
  pool: SubnetPool | undefined;
  ipv6Pool: SubnetPool | undefined;
  attrs: LeaseAttrs;
}

/** The halves of every listed key: what a new subnet of each family must not overlap. */
interface Taken {
  ipv4: IpPrefix[];
  ipv6: IpPrefix[];
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

  /**
   * One attempt: list, choose, write. Throws TransientError after too many lost races. Also returns
   * the listing it chose from: a watch can start from it instead of listing every lease again.
   */
  async claim(options: AcquireOptions): Promise<{ own: OwnLease; listing: EtcdListing }> {
    const { store, prefix, log, maxRaceAttempts } = this.opts;
    checkAcquireOptions(options);
    for (let race = 0; race < maxRaceAttempts; race++) {
      const listing = await store.list(subnetsDir(prefix));
      const taken: Taken = { ipv4: [], ipv6: [] };
      let mine: { record: EtcdRecord; subnets: LeaseKeySubnets } | undefined;
      for (const record of listing.records) {
        let subnets: LeaseKeySubnets;
        try {
          subnets = parseLeaseKey(prefix, record.key);
        } catch (err) {
          if (!(err instanceof RemoteDataError)) throw err;
          continue; // a key that names no subnet blocks none
        }
        // Even with an unreadable value: the subnets are somebody's.
        if (subnets.ipv4) taken.ipv4.push(subnets.ipv4);
        if (subnets.ipv6) taken.ipv6.push(subnets.ipv6);
        if (mine === undefined && fitsPools(options, subnets) && this.carriesIp(record, options.attrs)) mine = { record, subnets };
      }

      const result = mine
        ? await this.rewrite(mine.record, mine.subnets, options)
        : await this.create(this.chooseSubnets(options, taken), options);
      if (result) return { own: result, listing };
      log.info('lost a race for a subnet to another node; choosing again', { attempt: race + 1 });
    }
    throw new TransientError(`lost the race for a free subnet ${maxRaceAttempts} times in a row`);
  }

  private chooseSubnets(options: AcquireOptions, taken: Taken): LeaseKeySubnets {
    const ipv4 = options.pool && this.chooseSubnet(options.pool, options.previousSubnet, taken.ipv4);
    const ipv6 = options.ipv6Pool && this.chooseSubnet(options.ipv6Pool, options.previousIpv6Subnet, taken.ipv6);
    return { ipv4, ipv6 };
  }

  private chooseSubnet(pool: SubnetPool, previousSubnet: IpPrefix | undefined, taken: readonly IpPrefix[]): IpPrefix {
    if (previousSubnet !== undefined) {
      if (fitsPool(pool, previousSubnet) && !isTaken(previousSubnet, taken)) return previousSubnet;
      this.opts.log.info(`previous subnet ${previousSubnet.toString()} is taken or outside the pool; choosing another`);
    }
    const subnet = pickFreeSubnet(pool, taken, this.opts.random);
    if (subnet === undefined) {
      throw new OutOfSubnetsError(
        `out of subnets: every /${pool.subnetLen} from ${pool.subnetMin.toString()} to ${pool.subnetMax.toString()} ` +
          `in ${pool.network.toString()} is leased or reserved (${taken.length} keys); widen ${pool.network.family === 'ipv6' ? 'IPv6Network' : 'Network'} or remove stale leases`,
      );
    }
    return subnet;
  }

  /** Creates a new lease; undefined when another node created the key first. */
  private async create(subnets: LeaseKeySubnets, options: AcquireOptions): Promise<OwnLease | undefined> {
    const { store, prefix, log, ttlSeconds } = this.opts;
    const key = leaseKey(prefix, subnets);
    const value = encodeLeaseValue(options.attrs);
    const grant = await store.grant(ttlSeconds);
    const result = await store.create(key, value, grant.id);
    if (!result.succeeded) {
      await store.revoke(grant.id).catch(() => undefined);
      return undefined;
    }
    log.info('leased subnet', { ...describe(subnets), ...publicIps(options.attrs) });
    return this.ownLease({ key, value }, subnets, grant, result.revision, options);
  }

  /** Writes our current attributes into our existing key (a lease keeps a TTL, a reservation stays one). */
  private async rewrite(record: EtcdRecord, subnets: LeaseKeySubnets, options: AcquireOptions): Promise<OwnLease | undefined> {
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
      ...describe(subnets),
      ...publicIps(options.attrs),
    });
    return this.ownLease({ key: record.key, value }, subnets, grant, result.revision, options);
  }

  private ownLease(
    { key, value }: { key: string; value: string },
    subnets: LeaseKeySubnets,
    grant: { id: string; ttlSeconds: number } | undefined,
    modRevision: string,
    options: AcquireOptions,
  ): OwnLease {
    const expiresAt = grant ? new Date(this.opts.now() + grant.ttlSeconds * 1000) : undefined;
    return {
      key,
      lease: { ...options.attrs, subnet: subnets.ipv4, ipv6Subnet: subnets.ipv6, expiresAt },
      leaseId: grant?.id ?? '0',
      modRevision,
      value,
      pool: options.pool,
      ipv6Pool: options.ipv6Pool,
      attrs: options.attrs,
    };
  }

  private carriesIp(record: EtcdRecord, attrs: LeaseAttrs): boolean {
    try {
      // Every key is checked (5000 at a large cluster): the value alone first, the whole record
      // (the same parse of the value, plus the key) only for the one that carries our address.
      if (!publishedBy(parseLeaseValue(record.key, record.value), attrs)) return false;
      return publishedBy(parseLeaseRecord(this.opts.prefix, record), attrs);
    } catch {
      return false;
    }
  }
}

/**
 * Whether the key has a half exactly for each pool we have, each fitting its pool (flannel's
 * isSubnetConfigCompat/isIPv6SubnetConfigCompat, with IPv4 as optional as IPv6).
 */
function fitsPools(options: AcquireOptions, { ipv4, ipv6 }: LeaseKeySubnets): boolean {
  const fits = (pool: SubnetPool | undefined, half: IpPrefix | undefined): boolean =>
    pool === undefined ? half === undefined : half !== undefined && fitsPool(pool, half);
  return fits(options.pool, ipv4) && fits(options.ipv6Pool, ipv6);
}

/** Log fields: `subnet` names the lease (its IPv4 half, else its IPv6 half); `ipv6Subnet` is added on a dual-stack lease. */
function describe(subnets: LeaseKeySubnets): { subnet: string; ipv6Subnet?: string } {
  const subnet = leaseSubnet({ subnet: subnets.ipv4, ipv6Subnet: subnets.ipv6 }).toString();
  return subnets.ipv4 && subnets.ipv6 ? { subnet, ipv6Subnet: subnets.ipv6.toString() } : { subnet };
}

/** Log fields: the public addresses we publish. */
function publicIps(attrs: LeaseAttrs): { publicIp?: string; publicIpv6?: string } {
  return { ...(attrs.publicIp && { publicIp: attrs.publicIp.toString() }), ...(attrs.publicIpv6 && { publicIpv6: attrs.publicIpv6.toString() }) };
}
