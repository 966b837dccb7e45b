// The etcd lease manager against an in-memory store and a fake clock: renewal timing and retries,
// reservations, lost races, running out of subnets, and the peer tracker's batching.
import winston from 'winston';
import { encodeLeaseValue } from './etcd-lease-codec.js';
import { EtcdLeaseManager } from './etcd-lease-manager.js';
import { EtcdPeerTracker } from './etcd-peer-tracker.js';
import type { EtcdListing, EtcdRecord, EtcdStore, EtcdWatch, EtcdWatchHandlers, EtcdWatchEvent, TxnResult } from './etcd-store.js';
import { OutOfSubnetsError } from './errors.js';
import { leaseKey, type Lease, type LeaseAttrs, type LeaseBatch, type SubnetPool } from './lease.js';
import { ip, net } from '../test/addresses.js';

const P = '/coreos.com/network';
const pool = (min = '10.244.1.0', max = '10.244.255.0'): SubnetPool => ({ network: net('10.244.0.0/16'), subnetLen: 24, subnetMin: ip(min), subnetMax: ip(max) });
const vxlan = (publicIp: string, mac = '02:00:00:00:00:01'): LeaseAttrs => ({ publicIp: ip(publicIp), backendType: 'vxlan', backendData: { vni: 1, vtepMac: mac } });
const HOUR = 3_600_000;

function memoryLogger(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const collect = winston.format((info) => {
    lines.push(`${info.level}: ${String(info.message)}`);
    return info;
  });
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  const logger = winston.createLogger({ level: 'debug', format: collect(), transports: [new winston.transports.Console({ silent: true })] });
  return { logger, lines };
}

/** An in-memory etcd: revisions, leases, conditional writes; failures injected per operation. */
class FakeStore implements EtcdStore {
  readonly kvs = new Map<string, EtcdRecord>();
  revision = 1;
  nextLease = 100;
  readonly granted: string[] = [];
  readonly revoked: string[] = [];
  failNext: Partial<Record<'get' | 'list' | 'grant' | 'create' | 'replace', number>> = {};
  /** Called before a create's compare: lets a test slip in a competing write. */
  beforeCreate: ((key: string) => void) | undefined;
  readonly watchers = new Set<EtcdWatchHandlers>();
  /** Every change, for watches that start from an older revision (etcd replays them). */
  private readonly history: { revision: number; events: EtcdWatchEvent[] }[] = [];
  listCalls = 0;
  closed = false;

  put(key: string, value: string, leaseId = '0'): void {
    this.revision++;
    const record = { key, value, leaseId, modRevision: String(this.revision) };
    this.kvs.set(key, record);
    this.emit([{ type: 'put', record }]);
  }
  del(key: string): void {
    this.revision++;
    this.kvs.delete(key);
    this.emit([{ type: 'delete', record: { key, value: '', leaseId: '0', modRevision: String(this.revision) } }]);
  }
  private emit(events: EtcdWatchEvent[]): void {
    this.history.push({ revision: this.revision, events });
    for (const w of this.watchers) w.onResponse({ events, revision: String(this.revision), created: false, canceled: false, compactRevision: '0' });
  }
  private maybeFail(op: keyof FakeStore['failNext']): void {
    const n = this.failNext[op] ?? 0;
    if (n > 0) {
      this.failNext[op] = n - 1;
      throw new Error(`injected ${op} failure`);
    }
  }
  get(key: string): Promise<string | undefined> {
    this.maybeFail('get');
    return Promise.resolve(this.kvs.get(key)?.value);
  }
  list(prefix: string): Promise<EtcdListing> {
    this.listCalls++;
    this.maybeFail('list');
    const records = [...this.kvs.values()].filter((r) => r.key.startsWith(prefix)).map((r) => ({ ...r }));
    return Promise.resolve({ records, revision: String(this.revision) });
  }
  grant(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    this.maybeFail('grant');
    const id = String(this.nextLease++);
    this.granted.push(id);
    return Promise.resolve({ id, ttlSeconds });
  }
  timeToLive(): Promise<number> {
    return Promise.resolve(-1);
  }
  revoke(id: string): Promise<void> {
    this.revoked.push(id);
    return Promise.resolve();
  }
  create(key: string, value: string, leaseId: string): Promise<TxnResult> {
    this.maybeFail('create');
    this.beforeCreate?.(key);
    if (this.kvs.has(key)) return Promise.resolve({ succeeded: false, revision: String(this.revision) });
    this.put(key, value, leaseId);
    return Promise.resolve({ succeeded: true, revision: String(this.revision) });
  }
  replace(key: string, value: string, leaseId: string, modRevision: string): Promise<TxnResult> {
    this.maybeFail('replace');
    if (this.kvs.get(key)?.modRevision !== modRevision) return Promise.resolve({ succeeded: false, revision: String(this.revision) });
    this.put(key, value, leaseId);
    return Promise.resolve({ succeeded: true, revision: String(this.revision) });
  }
  watch(_prefix: string, start: string, handlers: EtcdWatchHandlers): EtcdWatch {
    this.watchers.add(handlers);
    const missed = this.history.filter((h) => h.revision >= Number(start)).flatMap((h) => h.events);
    if (missed.length > 0) {
      queueMicrotask(() => { handlers.onResponse({ events: missed, revision: String(this.revision), created: false, canceled: false, compactRevision: '0' }); });
    }
    return { cancel: () => this.watchers.delete(handlers) };
  }
  /** etcd cancelling every watch (e.g. an overloaded member): the watcher must list again. */
  cancelWatches(): void {
    for (const w of this.watchers) w.onResponse({ events: [], revision: String(this.revision), created: false, canceled: true, compactRevision: '0' });
  }
  close(): void {
    this.closed = true;
  }
}

/** A clock that moves only when a test lets a pending sleep finish. */
class FakeClock {
  nowMs = 1_000_000;
  readonly sleeps: { ms: number; resolve: () => void; reject: (e: Error) => void }[] = [];
  readonly requested: number[] = [];
  now = (): number => this.nowMs;
  sleep = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve, reject) => {
      if (signal.aborted) {
        reject(new Error('aborted'));
        return;
      }
      this.requested.push(ms);
      const entry = { ms, resolve, reject };
      this.sleeps.push(entry);
      signal.addEventListener('abort', () => {
        this.sleeps.splice(this.sleeps.indexOf(entry), 1);
        reject(new Error('aborted'));
      }, { once: true });
    });
  /** Ends the oldest pending sleep (of those shorter than `belowMs`), moving time forward by its length. */
  async tick(belowMs = Infinity): Promise<number> {
    await flush();
    const index = this.sleeps.findIndex((s) => s.ms < belowMs);
    const entry = index < 0 ? undefined : this.sleeps.splice(index, 1)[0];
    if (!entry) throw new Error('nothing is sleeping');
    this.nowMs += entry.ms;
    entry.resolve();
    await flush();
    return entry.ms;
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function setup(extra: { renewMarginMinutes?: number; backoff?: { initialMs: number; maxMs: number } } = {}): {
  store: FakeStore; clock: FakeClock; manager: EtcdLeaseManager; lines: string[]; storeErrors: string[];
} {
  const storeErrors: string[] = [];
  const store = new FakeStore();
  const clock = new FakeClock();
  const { logger, lines } = memoryLogger();
  const manager = new EtcdLeaseManager({
    endpoints: ['http://127.0.0.1:2379'],
    logger,
    store,
    now: clock.now,
    sleep: clock.sleep,
    random: () => 0,
    onStoreError: (err) => storeErrors.push(err.message),
    ...extra,
  });
  return { store, clock, manager, lines, storeErrors };
}

const signal = (): AbortSignal => new AbortController().signal;

describe('EtcdLeaseManager (fake store and clock)', () => {
  it('renews at expiry minus the margin with a new grant, and retries every minute while that fails', async () => {
    const { store, clock, manager, lines } = setup({ renewMarginMinutes: 60 });
    const lease = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1') }, signal());
    expect(lease.subnet?.toString()).toBe('10.244.1.0/24'); // random() = 0: the first free one
    expect(lease.expiresAt?.getTime()).toBe(clock.nowMs + 24 * HOUR);
    const key = `${P}/subnets/10.244.1.0-24`;
    expect(store.kvs.get(key)?.leaseId).toBe('100');

    await flush();
    expect(clock.requested).toEqual([23 * HOUR]); // renewal is due 23 h from now
    store.failNext.grant = 2;
    await clock.tick(); // 23 h later: the renewal fails twice...
    await clock.tick(); // ...one minute apart
    expect(clock.requested).toEqual([23 * HOUR, 60_000, 60_000]);
    expect(lines.filter((l) => l.includes('renewing the subnet lease failed')).length).toBe(2);
    await clock.tick(); // third try succeeds
    expect(store.kvs.get(key)?.leaseId).toBe('101');
    expect(store.kvs.get(key)?.value).toBe(encodeLeaseValue(vxlan('192.0.2.1')));
    // The next renewal is again 23 h after the successful one.
    expect(clock.requested.at(-1)).toBe(23 * HOUR);
    await manager.close();
    expect(store.closed).toBe(true);
    expect(store.kvs.has(key)).toBe(true); // close() keeps the lease
  });

  it('takes a hand-written reservation without BackendType, and keeps its unknown fields across renewals', async () => {
    const { store, manager } = setup();
    store.put(`${P}/subnets/10.244.9.0-24`, '{"PublicIP":"192.0.2.9","PublicIPv6":null,"Owner":"ops"}');
    const lease = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.9', '02:00:00:00:00:aa') }, signal());
    expect(lease.subnet?.toString()).toBe('10.244.9.0/24');
    expect(store.kvs.get(`${P}/subnets/10.244.9.0-24`)?.value).toBe(
      '{"PublicIP":"192.0.2.9","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:aa"},"Owner":"ops"}',
    );
    await manager.close();
  });

  it('keeps unknown BackendData fields of its earlier lease when it takes it again and renews it', async () => {
    const { store, clock, manager } = setup({ renewMarginMinutes: 60 });
    const key = `${P}/subnets/10.244.9.0-24`;
    store.put(key, '{"PublicIP":"192.0.2.9","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:09","GBP":true}}', '7');
    await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.9', '02:00:00:00:00:09') }, signal());
    const expected = '{"PublicIP":"192.0.2.9","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:00:09","GBP":true}}';
    expect(store.kvs.get(key)?.value).toBe(expected);
    await clock.tick(); // renewal falls due
    expect(store.granted.length).toBe(2);
    expect(store.kvs.get(key)?.value).toBe(expected);
    await manager.close();
  });

  it('never renews (or gives a TTL to) a reservation that carries our PublicIP', async () => {
    const { store, clock, manager } = setup();
    store.put(`${P}/subnets/10.244.9.0-24`, encodeLeaseValue(vxlan('192.0.2.9', '02:00:00:00:00:09')));
    const lease = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.9', '02:00:00:00:00:aa') }, signal());
    expect(lease.subnet?.toString()).toBe('10.244.9.0/24');
    expect(lease.expiresAt).toBeUndefined();
    expect(store.kvs.get(`${P}/subnets/10.244.9.0-24`)).toMatchObject({ leaseId: '0', value: encodeLeaseValue(vxlan('192.0.2.9', '02:00:00:00:00:aa')) });
    await flush();
    expect(clock.requested).toEqual([]);
    expect(store.granted).toEqual([]);
    await manager.close();
  });

  it('does not reuse our old lease when it no longer fits the pool', async () => {
    const { store, manager } = setup();
    store.put(`${P}/subnets/10.99.0.0-24`, encodeLeaseValue(vxlan('192.0.2.1')), '55');
    const lease = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1') }, signal());
    expect(lease.subnet?.toString()).toBe('10.244.1.0/24');
    await manager.close();
  });

  it('reuses a key of ours only when it has an IPv6 half exactly when we want one, fitting its pool (flannel)', async () => {
    const ipv6Pool = { network: net('fd00:12::/32'), subnetLen: 56, subnetMin: ip('fd00:12:13::'), subnetMax: ip('fd00:12:13:ff00::') };
    const dualAttrs: LeaseAttrs = { ...vxlan('192.0.2.1'), publicIpv6: ip('2001:db8::1'), backendV6Data: { vni: 1, vtepMac: '02:00:00:00:06:01' } };
    const { store, manager } = setup();
    await expect(manager.acquireLease({ pool: pool(), ipv6Pool, attrs: vxlan('192.0.2.1') }, signal())).rejects.toThrow(/no IPv6 address/);
    store.put(`${P}/subnets/10.244.1.0-24`, encodeLeaseValue(vxlan('192.0.2.1')), '55'); // ours, IPv4 only
    const dual = await manager.acquireLease({ pool: pool(), ipv6Pool, attrs: dualAttrs }, signal());
    expect([dual.subnet?.toString(), dual.ipv6Subnet?.toString()]).toEqual(['10.244.2.0/24', 'fd00:12:13::/56']);
    expect(store.kvs.has(`${P}/subnets/10.244.2.0-24&fd00:12:13::-56`)).toBe(true);
    await manager.close();

    const again = setup();
    again.store.put(`${P}/subnets/10.244.2.0-24&fd00:12:13::-56`, encodeLeaseValue(dualAttrs), '56');
    const reused = await again.manager.acquireLease({ pool: pool(), ipv6Pool, attrs: dualAttrs }, signal());
    expect([reused.subnet?.toString(), reused.ipv6Subnet?.toString()]).toEqual(['10.244.2.0/24', 'fd00:12:13::/56']);
    const ipv4Only = await again.manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1') }, signal());
    expect([ipv4Only.subnet?.toString(), ipv4Only.ipv6Subnet]).toEqual(['10.244.1.0/24', undefined]);
    await again.manager.close();
  });

  it('never reports a key that carries our public IP as a peer (an old lease of ours)', async () => {
    const { store, manager } = setup();
    // Inside the network but not of SubnetLen: not reused, and still not a peer.
    store.put(`${P}/subnets/10.244.200.0-25`, encodeLeaseValue(vxlan('192.0.2.1')), '55');
    store.put(`${P}/subnets/10.244.8.0-24`, encodeLeaseValue(vxlan('192.0.2.8')), '3');
    await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1') }, signal());
    const batches: LeaseBatch[] = [];
    const ac = new AbortController();
    const watching = manager.watchLeases({ onBatch: (b) => batches.push(b), onOwnLeaseChanged: () => undefined }, ac.signal);
    await flush();
    expect(batches.map((b) => [b.kind, b.leases.map((l) => l.subnet?.toString())])).toEqual([['snapshot', ['10.244.8.0/24']]]);
    ac.abort();
    await manager.close();
    await watching;
  });

  it('chooses again when another node wins the race for a subnet, and revokes the unused grant', async () => {
    const { store, manager, lines } = setup();
    let raced = 0;
    store.beforeCreate = (key) => {
      if (raced++ < 2) store.put(key, encodeLeaseValue(vxlan(`192.0.2.${200 + raced}`)), '9');
    };
    const lease = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1') }, signal());
    expect(lease.subnet?.toString()).toBe('10.244.3.0/24');
    expect(lines.filter((l) => l.includes('lost a race')).length).toBe(2);
    expect(store.revoked).toEqual(['100', '101']);
    await manager.close();
  });

  it('backs off after losing too many races in a row, until the signal aborts', async () => {
    const { store, clock, manager, lines } = setup();
    store.beforeCreate = (key) => { store.put(key, encodeLeaseValue(vxlan('192.0.2.250')), '9'); };
    const ac = new AbortController();
    const acquiring = manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1') }, ac.signal);
    for (let i = 0; i < 100 && clock.sleeps.length === 0; i++) await flush();
    expect(lines.some((l) => l.includes('lost the race for a free subnet 10 times'))).toBe(true);
    expect(clock.sleeps.length).toBe(1);
    ac.abort(new Error('stop'));
    await expect(acquiring).rejects.toThrow();
    await manager.close();
  });

  it('throws OutOfSubnetsError ("out of subnets") without writing anything', async () => {
    const { store, manager } = setup();
    store.put(`${P}/subnets/10.244.1.0-24`, encodeLeaseValue(vxlan('192.0.2.5')), '7');
    store.put(`${P}/subnets/10.244.2.0-24`, 'not json', '7'); // unreadable, but the subnet is still someone's
    const revision = store.revision;
    await expect(manager.acquireLease({ pool: pool('10.244.1.0', '10.244.2.0'), attrs: vxlan('192.0.2.1') }, signal())).rejects.toThrow(OutOfSubnetsError);
    await expect(manager.acquireLease({ pool: pool('10.244.1.0', '10.244.2.0'), attrs: vxlan('192.0.2.1') }, signal())).rejects.toThrow(/out of subnets/);
    expect(store.revision).toBe(revision);
    expect(store.granted).toEqual([]);
    await manager.close();
  });

  it('re-acquires when renewal finds our key changed, and tells the watchers', async () => {
    const { store, clock, manager, lines } = setup();
    const own = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1') }, signal());
    const changes: Lease[] = [];
    const ac = new AbortController();
    const watching = manager.watchLeases({ onBatch: () => undefined, onOwnLeaseChanged: (l) => changes.push(l) }, ac.signal);
    await flush();
    // Someone else takes our subnet (a put that does not come from us; no watch event reaches us here).
    const key = `${P}/subnets/10.244.1.0-24`;
    store.kvs.set(key, { key, value: encodeLeaseValue(vxlan('192.0.2.77')), leaseId: '9', modRevision: String(++store.revision) });
    await clock.tick(); // the renewal falls due
    await flush();
    expect(lines.some((l) => l.includes('own lease changed or vanished in etcd before renewal, re-acquiring'))).toBe(true);
    expect(changes.length).toBe(1);
    expect(changes[0]?.subnet?.toString()).not.toBe(own.subnet?.toString());
    ac.abort();
    await watching;
    await manager.close();
  });

  it('starts the watch from the claim\'s listing: one listing, and a lease written in between still arrives', async () => {
    const { store, manager } = setup();
    store.put(`${P}/subnets/10.244.7.0-24`, encodeLeaseValue(vxlan('192.0.2.7')), '3');
    await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1') }, signal());
    store.put(`${P}/subnets/10.244.8.0-24`, encodeLeaseValue(vxlan('192.0.2.8')), '3'); // after the claim listed
    const batches: LeaseBatch[] = [];
    const watching = manager.watchLeases({ onBatch: (b) => batches.push(b), onOwnLeaseChanged: () => undefined }, signal());
    await flush();
    expect(store.listCalls).toBe(1); // the claim's
    expect(batches.map((b) => [b.kind, b.leases.map((l) => l.subnet?.toString())])).toEqual([
      ['snapshot', ['10.244.7.0/24']],
      ['added', ['10.244.8.0/24']], // replayed from the claim's revision; our own write is not a peer
    ]);
    await manager.close();
    await watching;
  });

  it('retries a failed listing with backoff, then snapshots; close() ends the watch', async () => {
    const { store, clock, manager, lines, storeErrors } = setup({ backoff: { initialMs: 1000, maxMs: 30_000 } });
    await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1') }, signal());
    const batches: LeaseBatch[] = [];
    const watching = manager.watchLeases({ onBatch: (b) => batches.push(b), onOwnLeaseChanged: () => undefined }, signal());
    await flush();
    expect(batches.map((b) => b.kind)).toEqual(['snapshot']); // from the claim's listing
    store.put(`${P}/subnets/10.244.8.0-24`, encodeLeaseValue(vxlan('192.0.2.8')), '3');
    store.failNext.list = 2;
    store.cancelWatches(); // the next listing is the watch's own
    await flush();
    // The renewal sleep (23 h) is first in line; the listing retries come after it.
    expect(clock.sleeps.map((s) => s.ms)).toEqual([23 * HOUR, 1000]);
    clock.sleeps.splice(0, 1)[0]?.resolve(); // let renewal go out of the way
    await flush();
    expect(store.granted.length).toBe(2); // renewed once
    await clock.tick(HOUR); // first listing retry: fails again
    await clock.tick(HOUR); // second: succeeds
    expect(lines.filter((l) => l.includes('listing leases failed')).length).toBe(2);
    expect(storeErrors).toHaveLength(2); // what weft_lease_store_errors_total counts
    expect(batches.map((b) => b.kind)).toEqual(['snapshot', 'added', 'snapshot']);
    expect(batches[2]?.leases.map((l) => l.subnet?.toString())).toEqual(['10.244.8.0/24']);
    store.put(`${P}/subnets/10.244.9.0-24`, encodeLeaseValue(vxlan('192.0.2.9')), '3');
    await flush();
    expect(batches.map((b) => b.kind)).toEqual(['snapshot', 'added', 'snapshot', 'added']);
    await manager.close();
    await watching; // resolves: close() stops every watch
    expect(store.watchers.size).toBe(0);
  });

  it('retries a missing config with backoff, logging each time', async () => {
    const { store, clock, manager, lines } = setup({ backoff: { initialMs: 1000, maxMs: 30_000 } });
    const reading = manager.readNetworkConfig(signal());
    await clock.tick();
    store.failNext.get = 1;
    await clock.tick();
    store.put(`${P}/config`, '{"Network":"10.244.0.0/16"}');
    await clock.tick();
    await expect(reading).resolves.toBe('{"Network":"10.244.0.0/16"}');
    expect(lines.filter((l) => l.startsWith('warn:')).length).toBe(3);
    expect(lines.some((l) => l.includes('injected get failure'))).toBe(true);
    expect(clock.requested).toEqual([1000, 2000, 4000]);
    await manager.close();
  });

  it('paces retries by default from 0.5 s up to 2 s, never longer', async () => {
    const { store, clock, manager } = setup();
    store.failNext.get = 6;
    const reading = manager.readNetworkConfig(signal());
    store.put(`${P}/config`, '{"Network":"10.244.0.0/16"}');
    for (let i = 0; i < 6; i++) await clock.tick();
    await expect(reading).resolves.toBe('{"Network":"10.244.0.0/16"}');
    expect(clock.requested).toEqual([500, 1000, 2000, 2000, 2000, 2000]); // random() = 0: no jitter taken off
    await manager.close();
  });
});

describe('EtcdPeerTracker', () => {
  const { logger, lines } = memoryLogger();
  const rec = (subnet: string, publicIp: string, mac = '02:00:00:00:00:01'): EtcdRecord => ({
    key: `${P}/subnets/${subnet}`,
    value: encodeLeaseValue(vxlan(publicIp, mac)),
    leaseId: '5',
    modRevision: '1',
  });
  const subnets = (b: LeaseBatch | undefined): string[] => b?.leases.map(leaseKey) ?? [];

  it('snapshots without our own lease, and coalesces events in order', () => {
    const tracker = new EtcdPeerTracker({ prefix: P, log: logger, networks: () => ({ ipv4: net('10.244.0.0/16') }), isOwn: (key) => key.endsWith('10.244.1.0-24') });
    const snap = tracker.snapshot([rec('10.244.1.0-24', '192.0.2.1'), rec('10.244.2.0-24', '192.0.2.2')]);
    expect(snap.kind).toBe('snapshot');
    expect(subnets(snap)).toEqual(['10.244.2.0/24']);

    const batches = tracker.apply([
      { type: 'put', record: rec('10.244.3.0-24', '192.0.2.3') },
      { type: 'put', record: rec('10.244.4.0-24', '192.0.2.4') },
      { type: 'put', record: rec('10.244.2.0-24', '192.0.2.2') }, // a renewal: no news
      { type: 'delete', record: { ...rec('10.244.2.0-24', '0.0.0.0'), value: '' } },
      { type: 'delete', record: { ...rec('10.244.9.0-24', '0.0.0.0'), value: '' } }, // unknown: nothing
      { type: 'put', record: rec('10.244.5.0-24', '192.0.2.5') },
      { type: 'put', record: rec('10.244.3.0-24', '192.0.2.3', '02:00:00:00:00:33') }, // changed MAC
    ]);
    expect(batches.map((b) => [b.kind, subnets(b)])).toEqual([
      ['added', ['10.244.3.0/24', '10.244.4.0/24']],
      ['removed', ['10.244.2.0/24']],
      ['added', ['10.244.5.0/24', '10.244.3.0/24']],
    ]);
    expect(tracker.size).toBe(3);
  });

  it('drops a peer whose record turns malformed, and warns once per change', () => {
    lines.length = 0;
    const tracker = new EtcdPeerTracker({ prefix: P, log: logger, networks: () => ({}), isOwn: () => false });
    tracker.snapshot([rec('10.244.2.0-24', '192.0.2.2')]);
    const broken = { ...rec('10.244.2.0-24', '192.0.2.2'), value: '{"PublicIP":"x"}' };
    expect(tracker.apply([{ type: 'put', record: broken }]).map((b) => [b.kind, subnets(b)])).toEqual([['removed', ['10.244.2.0/24']]]);
    expect(tracker.apply([{ type: 'put', record: broken }])).toEqual([]);
    expect(lines.filter((l) => l.startsWith('warn: skipping peer lease')).length).toBe(1);
  });
});

// IPv6-only networks (EnableIPv4 false): flannel's key 0.0.0.0-0&<IPv6 subnet> and PublicIP
// "0.0.0.0", the subnet from the IPv6 pool alone, our key known by our public IPv6 address.
describe('IPv6-only leases (fake store and clock)', () => {
  const ipv6Pool: SubnetPool = { network: net('fd00:10:244::/56'), subnetLen: 64, subnetMin: ip('fd00:10:244:1::'), subnetMax: ip('fd00:10:244:ff::') };
  const v6 = (publicIpv6: string, mac: string): LeaseAttrs => ({ publicIpv6: ip(publicIpv6), backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac: mac } });
  const keyOf = (subnet: string): string => `${P}/subnets/0.0.0.0-0&${subnet}`;
  const VALUE_1 = '{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::1","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"02:00:00:00:06:01"}}';

  it("writes flannel's IPv6-only key and value with a TTL, from the IPv6 pool alone", async () => {
    const { store, manager, lines } = setup();
    const lease = await manager.acquireLease({ ipv6Pool, attrs: v6('2001:db8::1', '02:00:00:00:06:01') }, signal());
    expect([lease.subnet, lease.publicIp, lease.ipv6Subnet?.toString(), lease.publicIpv6?.toString()]).toEqual([
      undefined, undefined, 'fd00:10:244:1::/64', '2001:db8::1',
    ]);
    expect([...store.kvs.keys()]).toEqual([keyOf('fd00:10:244:1::-64')]);
    expect(store.kvs.get(keyOf('fd00:10:244:1::-64'))).toMatchObject({ value: VALUE_1, leaseId: '100' });
    expect(lines).toContain('info: leased subnet');
    await manager.close();
  });

  it('gives a second IPv6-only node its own subnet, and each node its own key back after a restart', async () => {
    // flannel matches its key by PublicIP, "0.0.0.0" on every IPv6-only lease: its second node would take the first one's key.
    const { store, manager } = setup();
    store.put(keyOf('fd00:10:244:1::-64'), VALUE_1, '50');
    const second = await manager.acquireLease({ ipv6Pool, attrs: v6('2001:db8::2', '02:00:00:00:06:02') }, signal());
    expect(second.ipv6Subnet?.toString()).toBe('fd00:10:244:2::/64');
    expect(store.kvs.get(keyOf('fd00:10:244:1::-64'))).toMatchObject({ value: VALUE_1, leaseId: '50' });
    await manager.close();

    const restarted = setup();
    for (const record of store.kvs.values()) restarted.store.put(record.key, record.value, record.leaseId);
    const first = await restarted.manager.acquireLease({ ipv6Pool, attrs: v6('2001:db8::1', '02:00:00:00:06:01') }, signal());
    expect(first.ipv6Subnet?.toString()).toBe('fd00:10:244:1::/64');
    expect(restarted.lines).toContain('info: reusing our earlier subnet');
    expect(restarted.store.kvs.size).toBe(2);
    await restarted.manager.close();
  });

  it('takes the previous IPv6 subnet of subnet.env when it is free and fits the pool, another one otherwise', async () => {
    const { store, manager } = setup();
    const previous = await manager.acquireLease({ ipv6Pool, attrs: v6('2001:db8::1', '02:00:00:00:06:01'), previousIpv6Subnet: net('fd00:10:244:7::/64') }, signal());
    expect(previous.ipv6Subnet?.toString()).toBe('fd00:10:244:7::/64');
    await manager.close();

    const other = setup();
    other.store.put(keyOf('fd00:10:244:7::-64'), VALUE_1, '50');
    const taken = await other.manager.acquireLease({ ipv6Pool, attrs: v6('2001:db8::2', '02:00:00:00:06:02'), previousIpv6Subnet: net('fd00:10:244:7::/64') }, signal());
    expect(taken.ipv6Subnet?.toString()).toBe('fd00:10:244:1::/64');
    const outside = await other.manager.acquireLease({ ipv6Pool, attrs: v6('2001:db8::3', '02:00:00:00:06:03'), previousIpv6Subnet: net('fd00:99::/64') }, signal());
    expect(outside.ipv6Subnet?.toString()).toBe('fd00:10:244:2::/64');
    expect(other.lines.filter((l) => l.includes('is taken or outside the pool'))).toHaveLength(2);
    expect(store.kvs.size).toBe(1);
    await other.manager.close();
  });

  it('reports IPv6-only peers (not our own key, nor a key outside IPv6Network) and their deletion; refuses options it cannot write', async () => {
    const { store, manager, lines } = setup();
    store.put(keyOf('fd00:10:244:5::-64'), VALUE_1.replace('2001:db8::1', '2001:db8::5'), '5');
    store.put(keyOf('fd00:99:0:5::-64'), VALUE_1.replace('2001:db8::1', '2001:db8::6'), '6');
    const own = await manager.acquireLease({ ipv6Pool, attrs: v6('2001:db8::1', '02:00:00:00:06:01') }, signal());
    const batches: LeaseBatch[] = [];
    const ac = new AbortController();
    const watching = manager.watchLeases({ onBatch: (b) => batches.push(b), onOwnLeaseChanged: () => undefined }, ac.signal);
    await flush();
    expect(batches.map((b) => [b.kind, b.leases.map(leaseKey)])).toEqual([['snapshot', ['fd00:10:244:5::/64']]]);
    expect(lines.some((l) => l.includes('subnet fd00:99:0:5::/64 is outside the network fd00:10:244::/56'))).toBe(true);
    store.put(keyOf('fd00:10:244:9::-64'), VALUE_1.replace('2001:db8::1', '2001:db8::9'), '9');
    store.del(keyOf('fd00:10:244:5::-64'));
    await flush();
    expect(batches.slice(1).map((b) => [b.kind, b.leases.map(leaseKey)])).toEqual([['added', ['fd00:10:244:9::/64']], ['removed', ['fd00:10:244:5::/64']]]);
    expect(batches.flatMap((b) => b.leases).some((l) => l.ipv6Subnet?.equals(own.ipv6Subnet ?? net('::/0')))).toBe(false);
    ac.abort();
    await watching;

    await expect(manager.acquireLease({ attrs: v6('2001:db8::1', '02:00:00:00:06:01') }, signal())).rejects.toThrow(/EnableIPv4: no address family/);
    await expect(manager.acquireLease({ pool: pool(), attrs: v6('2001:db8::1', '02:00:00:00:06:01') }, signal())).rejects.toThrow(/no IPv4 address to publish/);
    await manager.close();
  });
});
