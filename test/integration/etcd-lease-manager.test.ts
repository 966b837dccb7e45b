// The etcd lease manager against a real etcd 3.4 on 127.0.0.1 (host namespace, no links touched).
// Each test uses its own key prefix, so they share one server.
import { OutOfSubnetsError } from '../../subnet/errors.js';
import type { EtcdLeaseManager } from '../../subnet/etcd-lease-manager.js';
import { EtcdServer } from '../lab/etcd-server.js';
import { waitFor } from '../lab/netns.js';
import { ip, net } from '../addresses.js';
import { etcdLeaseId, etcdValue, flannelValue, makeManager, ownPool, PeerRecorder, pool, vxlan } from './lease-test-helpers.js';
import { leaseKey, leaseSubnet } from '../../subnet/lease.js';

const T = 60_000;

let etcd: EtcdServer;
const managers: EtcdLeaseManager[] = [];
let prefixCount = 0;
const newPrefix = (): string => `/weft-test-${process.pid}-${++prefixCount}/network`;

function manager(prefix: string, extra: Parameters<typeof makeManager>[2] = {}): ReturnType<typeof makeManager> {
  const made = makeManager(etcd.endpoint, prefix, extra);
  managers.push(made.manager);
  return made;
}

const get = (key: string): Promise<string> => etcdValue(etcd, key);

async function keys(prefix: string): Promise<string[]> {
  const out = await etcd.etcdctl(['get', `${prefix}/subnets/`, '--prefix', '--keys-only']);
  return out.split('\n').filter((line) => line !== '').sort();
}

const leaseIdOf = (key: string): Promise<string> => etcdLeaseId(etcd, key);

beforeAll(async () => {
  etcd = await EtcdServer.start();
}, T);

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
});

afterAll(async () => {
  await etcd.dispose();
});

describe('EtcdLeaseManager on a real etcd', () => {
  it('waits for the network config (logging) and then returns its text', async () => {
    const prefix = newPrefix();
    const { manager: m, lines } = manager(prefix);
    const reading = m.readNetworkConfig(AbortSignal.timeout(20_000));
    await waitFor('a warning about the missing config', () => lines.some((l) => l.startsWith('warn:') && l.includes(`${prefix}/config`)) || undefined, 5000);
    const text = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';
    await etcd.etcdctl(['put', `${prefix}/config`, text]);
    await expect(reading).resolves.toBe(text);
  }, T);

  it("writes flannel's exact key and value, bound to a ~24 h etcd lease", async () => {
    const prefix = newPrefix();
    const { manager: m } = manager(prefix);
    const lease = await m.acquireLease({ pool: pool(), attrs: vxlan('192.168.64.3', 'c6:d2:32:6f:8f:44') }, AbortSignal.timeout(10_000));
    const key = `${prefix}/subnets/${lease.subnet?.toString().replace('/', '-')}`;
    expect(await keys(prefix)).toEqual([key]);
    expect(await get(key)).toBe(
      '{"PublicIP":"192.168.64.3","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}',
    );
    const id = await leaseIdOf(key);
    expect(id).not.toBe('0');
    const ttlOut = await etcd.etcdctl(['lease', 'timetolive', BigInt(id).toString(16)]);
    const remaining = Number(/remaining\((\d+)s\)/.exec(ttlOut)?.[1]);
    expect(remaining).toBeGreaterThan(86_400 - 60);
    expect(remaining).toBeLessThanOrEqual(86_400);
    expect(lease.expiresAt?.getTime()).toBeGreaterThan(Date.now() + 86_400_000 - 60_000);

    // host-gw: no BackendData.
    const { manager: h } = manager(prefix);
    const hostGw = await h.acquireLease({ pool: pool(), attrs: { publicIp: ip('192.168.64.4'), backendType: 'host-gw' } }, AbortSignal.timeout(10_000));
    expect(await get(`${prefix}/subnets/${hostGw.subnet?.toString().replace('/', '-')}`)).toBe(
      '{"PublicIP":"192.168.64.4","PublicIPv6":null,"BackendType":"host-gw"}',
    );
  }, T);

  it('reuses the lease that carries our PublicIP, with our new attributes, across a restart', async () => {
    const prefix = newPrefix();
    const first = manager(prefix).manager;
    const lease1 = await first.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.10', '02:00:00:00:00:01') }, AbortSignal.timeout(10_000));
    await first.close();
    const key = `${prefix}/subnets/${lease1.subnet?.toString().replace('/', '-')}`;
    expect(await get(key)).toContain('02:00:00:00:00:01'); // close() keeps the lease

    const { manager: second, lines } = manager(prefix);
    const lease2 = await second.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.10', '02:00:00:00:00:02') }, AbortSignal.timeout(10_000));
    expect(lease2.subnet?.toString()).toBe(lease1.subnet?.toString());
    expect(await keys(prefix)).toEqual([key]);
    expect(await get(key)).toBe(flannelValue('192.0.2.10', '02:00:00:00:00:02'));
    expect(await leaseIdOf(key)).not.toBe('0');
    expect(lines.some((l) => l.includes('reusing our earlier subnet'))).toBe(true);
  }, T);

  it('honours previousSubnet when it is free, and not when it is taken', async () => {
    const prefix = newPrefix();
    const a = manager(prefix).manager;
    const leaseA = await a.acquireLease(
      { pool: pool(), attrs: vxlan('192.0.2.11', '02:00:00:00:00:11'), previousSubnet: net('10.244.77.0/24') },
      AbortSignal.timeout(10_000),
    );
    expect(leaseA.subnet?.toString()).toBe('10.244.77.0/24');
    const b = manager(prefix).manager;
    const leaseB = await b.acquireLease(
      { pool: pool(), attrs: vxlan('192.0.2.12', '02:00:00:00:00:12'), previousSubnet: net('10.244.77.0/24') },
      AbortSignal.timeout(10_000),
    );
    expect(leaseB.subnet?.toString()).not.toBe('10.244.77.0/24');
    expect(pool().network.containsPrefix(leaseSubnet(leaseB))).toBe(true);
  }, T);

  it('honours a reservation (a key without an etcd lease): never given to others, used as is by its owner', async () => {
    const prefix = newPrefix();
    const small = pool('10.244.0.0/16', '10.244.1.0', '10.244.3.0'); // 3 subnets
    const reservedKey = `${prefix}/subnets/10.244.2.0-24`;
    await etcd.etcdctl(['put', reservedKey, flannelValue('192.0.2.50', '02:00:00:00:00:50')]);

    const got: string[] = [];
    for (const n of [1, 2]) {
      const m = manager(prefix).manager;
      got.push(leaseKey(await m.acquireLease({ pool: small, attrs: vxlan(`192.0.2.${n}`, `02:00:00:00:01:0${n}`) }, AbortSignal.timeout(10_000))));
    }
    expect(got.sort()).toEqual(['10.244.1.0/24', '10.244.3.0/24']);
    const third = manager(prefix).manager;
    await expect(third.acquireLease({ pool: small, attrs: vxlan('192.0.2.3', '02:00:00:00:01:03') }, AbortSignal.timeout(10_000))).rejects.toThrow(
      OutOfSubnetsError,
    );

    const { manager: owner } = manager(prefix, { ttlSeconds: 5, renewMarginMinutes: 4 / 60 });
    const own = await owner.acquireLease({ pool: small, attrs: vxlan('192.0.2.50', '02:00:00:00:00:51') }, AbortSignal.timeout(10_000));
    expect(own.subnet?.toString()).toBe('10.244.2.0/24');
    expect(own.expiresAt).toBeUndefined();
    expect(await get(reservedKey)).toBe(flannelValue('192.0.2.50', '02:00:00:00:00:51'));
    expect(await leaseIdOf(reservedKey)).toBe('0'); // still a reservation: no TTL given
    // Even with a renewal due every second, a reservation is never given a lease.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await leaseIdOf(reservedKey)).toBe('0');
  }, T);

  it('gives 20 managers acquiring at the same moment 20 distinct subnets', async () => {
    const prefix = newPrefix();
    const small = pool('10.244.0.0/16', '10.244.1.0', '10.244.40.0'); // 40 subnets: races are likely
    const ms = Array.from({ length: 20 }, () => manager(prefix).manager);
    const leases = await Promise.all(
      ms.map((m, i) => m.acquireLease({ pool: small, attrs: vxlan(`192.0.2.${100 + i}`, `02:00:00:00:02:${(i + 16).toString(16)}`) }, AbortSignal.timeout(30_000))),
    );
    const subnets = new Set(leases.map((l) => l.subnet?.toString()));
    expect(subnets.size).toBe(20);
    expect((await keys(prefix)).length).toBe(20);
    for (const lease of leases) {
      expect(await get(`${prefix}/subnets/${lease.subnet?.toString().replace('/', '-')}`)).toContain(`"PublicIP":"${lease.publicIp?.toString()}"`);
    }
  }, T);

  it('gives "out of subnets" to the managers that do not fit, and changes nothing already leased', async () => {
    const prefix = newPrefix();
    const small = pool('10.244.0.0/16', '10.244.1.0', '10.244.5.0'); // 5 subnets, 8 managers
    const ms = Array.from({ length: 8 }, () => manager(prefix).manager);
    const results = await Promise.allSettled(
      ms.map((m, i) => m.acquireLease({ pool: small, attrs: vxlan(`192.0.2.${150 + i}`, `02:00:00:00:03:1${i}`) }, AbortSignal.timeout(30_000))),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won.length).toBe(5);
    expect(lost.length).toBe(3);
    for (const r of lost) {
      expect(r.reason).toBeInstanceOf(OutOfSubnetsError);
      expect((r.reason as Error).message).toContain('out of subnets');
    }
    const before = await etcd.etcdctl(['get', `${prefix}/subnets/`, '--prefix', '-w', 'json']);
    const snapshot = (out: string): string[] => [...out.matchAll(/"key":"([^"]+)".*?"mod_revision":(\d+).*?"value":"([^"]+)"/g)].map((m) => m.slice(1).join(' '));
    // A late-comer that does not fit changes nothing either.
    const late = manager(prefix).manager;
    await expect(late.acquireLease({ pool: small, attrs: vxlan('192.0.2.199', '02:00:00:00:03:99') }, AbortSignal.timeout(10_000))).rejects.toThrow(/out of subnets/);
    const after = await etcd.etcdctl(['get', `${prefix}/subnets/`, '--prefix', '-w', 'json']);
    expect(snapshot(after)).toEqual(snapshot(before));
    expect(snapshot(after).length).toBe(5);
  }, T);

  it("watches peers written by hand in flannel's format, skips malformed records with a warning", async () => {
    const prefix = newPrefix();
    const existing = `${prefix}/subnets/10.244.9.0-24`;
    await etcd.etcdctl(['put', existing, flannelValue('192.0.2.9', '02:00:00:00:00:09')]);
    const { manager: m, lines } = manager(prefix);
    const own = await m.acquireLease({ pool: ownPool(), attrs: vxlan('192.0.2.1', '02:00:00:00:00:01') }, AbortSignal.timeout(10_000));
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = m.watchLeases(recorder, stop.signal);
    try {
      await waitFor('the snapshot', () => (recorder.count('snapshot') === 1 ? true : undefined), 5000);
      expect(recorder.batches[0]).toMatchObject({ kind: 'snapshot' });
      expect(recorder.subnets()).toEqual(['10.244.9.0/24']); // own lease excluded
      expect(recorder.subnets()).not.toContain(own.subnet?.toString());

      await etcd.etcdctl(['put', `${prefix}/subnets/10.244.20.0-24`, flannelValue('192.0.2.20', '02:00:00:00:00:20')]);
      await waitFor('the added peer', () => (recorder.peers.has('10.244.20.0/24') ? true : undefined), 5000);
      const added = recorder.peers.get('10.244.20.0/24');
      expect(added).toMatchObject({ publicIp: ip('192.0.2.20'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '02:00:00:00:00:20' } });

      const bad: [string, string][] = [
        [`${prefix}/subnets/not-a-subnet`, flannelValue('192.0.2.30', '02:00:00:00:00:30')],
        [`${prefix}/subnets/10.244.31.0-24`, '{"PublicIP": "192.0.2.31", broken'],
        [`${prefix}/subnets/10.244.32.0-24`, flannelValue('192.0.2.300', '02:00:00:00:00:32')],
        [`${prefix}/subnets/10.244.33.0-24`, flannelValue('192.0.2.33', 'zz:00:00:00:00:33')],
        [`${prefix}/subnets/10.99.34.0-24`, flannelValue('192.0.2.34', '02:00:00:00:00:34')], // outside the network
      ];
      for (const [key, value] of bad) await etcd.etcdctl(['put', key, value]);
      await etcd.etcdctl(['put', `${prefix}/subnets/10.244.40.0-24`, flannelValue('192.0.2.40', '02:00:00:00:00:40')]);
      await waitFor('the good peer after the bad ones', () => (recorder.peers.has('10.244.40.0/24') ? true : undefined), 5000);
      expect(recorder.subnets()).toEqual(['10.244.20.0/24', '10.244.40.0/24', '10.244.9.0/24']);
      const warnings = lines.filter((l) => l.startsWith('warn: skipping peer lease'));
      expect(warnings.length).toBe(5);
      expect(warnings.join('\n')).toMatch(/not-a-subnet/);
      expect(warnings.join('\n')).toMatch(/not JSON/);
      expect(warnings.join('\n')).toMatch(/192\.0\.2\.300.*not an IPv4/);
      expect(warnings.join('\n')).toMatch(/VtepMAC "zz:00:00:00:00:33" is not a MAC/);
      expect(warnings.join('\n')).toMatch(/outside the network/);

      await etcd.etcdctl(['del', `${prefix}/subnets/10.244.20.0-24`]);
      await waitFor('the removed peer', () => (recorder.peers.has('10.244.20.0/24') ? undefined : true), 5000);
      const removed = recorder.batches.filter((b) => b.kind === 'removed');
      expect(removed.at(-1)?.leases.map((l) => l.subnet?.toString())).toEqual(['10.244.20.0/24']);
      // Deleting a malformed record is not news.
      await etcd.etcdctl(['del', `${prefix}/subnets/10.244.31.0-24`]);
      await etcd.etcdctl(['put', `${prefix}/subnets/10.244.41.0-24`, flannelValue('192.0.2.41', '02:00:00:00:00:41')]);
      await waitFor('one more peer', () => (recorder.peers.has('10.244.41.0/24') ? true : undefined), 5000);
      expect(recorder.batches.filter((b) => b.kind === 'removed').length).toBe(removed.length);
    } finally {
      stop.abort();
      await watching;
    }
  }, T);

  it('coalesces a burst of 2000 peers (20 transactions of 100 puts) into few added batches', async () => {
    const prefix = newPrefix();
    const { manager: m } = manager(prefix);
    await m.acquireLease({ pool: pool('10.0.0.0/8', '10.0.1.0', '10.255.255.0'), attrs: vxlan('192.0.2.1', '02:00:00:00:00:01') }, AbortSignal.timeout(10_000));
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = m.watchLeases(recorder, stop.signal);
    try {
      await waitFor('the snapshot', () => (recorder.count('snapshot') === 1 ? true : undefined), 5000);
      // etcd's default --max-txn-ops is 128: 20 transactions of 100 puts, each one revision.
      const started = Date.now();
      for (let batch = 0; batch < 20; batch++) {
        const puts = Array.from({ length: 100 }, (_, i) => {
          const n = batch * 100 + i;
          const subnet = `10.${100 + Math.floor(n / 256)}.${n % 256}.0`;
          return `put ${prefix}/subnets/${subnet}-24 ${flannelValue(`198.51.100.${(n % 250) + 1}`, '02:00:00:00:00:42')}`;
        });
        await etcd.etcdctl(['txn'], `\n${puts.join('\n')}\n\n\n`);
      }
      await waitFor('2000 peers', () => (recorder.peers.size === 2000 ? true : undefined), 20_000);
      const addedBatches = recorder.batches.filter((b) => b.kind === 'added');
      expect(addedBatches.length).toBeLessThanOrEqual(20);
      expect(Date.now() - started).toBeLessThan(20_000);
    } finally {
      stop.abort();
      await watching;
    }
  }, T);

  it('re-acquires (same subnet) when our own key is deleted, and tells the watcher', async () => {
    const prefix = newPrefix();
    const { manager: m, lines } = manager(prefix);
    const own = await m.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1', '02:00:00:00:00:01') }, AbortSignal.timeout(10_000));
    const key = `${prefix}/subnets/${own.subnet?.toString().replace('/', '-')}`;
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = m.watchLeases(recorder, stop.signal);
    try {
      await waitFor('the snapshot', () => (recorder.count('snapshot') === 1 ? true : undefined), 5000);
      await etcd.etcdctl(['del', key]);
      await waitFor('onOwnLeaseChanged', () => (recorder.ownChanges.length === 1 ? true : undefined), 10_000);
      expect(recorder.ownChanges[0]?.subnet?.toString()).toBe(own.subnet?.toString());
      expect(lines.some((l) => l.startsWith('warn:') && l.includes('own lease deleted, re-acquiring'))).toBe(true);
      expect(await get(key)).toBe(flannelValue('192.0.2.1', '02:00:00:00:00:01'));
      expect(await leaseIdOf(key)).not.toBe('0');
      // Our re-created key is not reported as a peer.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(recorder.peers.size).toBe(0);
    } finally {
      stop.abort();
      await watching;
    }
  }, T);

  it('catches exceptions thrown by the watcher', async () => {
    const prefix = newPrefix();
    const { manager: m, lines } = manager(prefix);
    await m.acquireLease({ pool: ownPool(), attrs: vxlan('192.0.2.1', '02:00:00:00:00:01') }, AbortSignal.timeout(10_000));
    const seen: string[] = [];
    const stop = new AbortController();
    const watching = m.watchLeases(
      {
        onBatch: (batch) => {
          seen.push(...batch.leases.map(leaseKey));
          throw new Error('watcher bug');
        },
        onOwnLeaseChanged: () => undefined,
      },
      stop.signal,
    );
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      await etcd.etcdctl(['put', `${prefix}/subnets/10.244.50.0-24`, flannelValue('192.0.2.50', '02:00:00:00:00:50')]);
      await etcd.etcdctl(['put', `${prefix}/subnets/10.244.51.0-24`, flannelValue('192.0.2.51', '02:00:00:00:00:51')]);
      await waitFor('both peers despite the throwing watcher', () => (seen.length === 2 ? true : undefined), 5000);
      expect(lines.filter((l) => l.startsWith('error:') && l.includes('watcher bug')).length).toBeGreaterThanOrEqual(2);
    } finally {
      stop.abort();
      await watching;
    }
  }, T);
});
