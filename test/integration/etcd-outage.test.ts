// The etcd lease manager while a real etcd is stopped and started again (same ports, same data), and
// after a compaction: the watch resumes from the last revision it saw (no event lost, no re-list),
// re-lists only when its revision was compacted, and acquire/renew/config reads retry until etcd is back.
import type { EtcdLeaseManager } from '../../subnet/etcd-lease-manager.js';
import { EtcdServer } from '../lab/etcd-server.js';
import { waitFor } from '../lab/netns.js';
import { flannelValue, makeManager, ownPool, PeerRecorder, pool, vxlan } from './lease-test-helpers.js';

const T = 90_000;
let etcd: EtcdServer;
const managers: EtcdLeaseManager[] = [];
let prefixCount = 0;
const newPrefix = (): string => `/weft-outage-${process.pid}-${++prefixCount}/network`;

function manager(prefix: string, extra: Parameters<typeof makeManager>[2] = {}): ReturnType<typeof makeManager> {
  const made = makeManager(etcd.endpoint, prefix, extra);
  managers.push(made.manager);
  return made;
}

/** Puts with etcdctl and returns the store revision of the write. */
async function put(key: string, value: string): Promise<number> {
  const out = await etcd.etcdctl(['put', key, value, '-w', 'json']);
  return Number(/"revision":(\d+)/.exec(out)?.[1]);
}

async function del(key: string): Promise<number> {
  const out = await etcd.etcdctl(['del', key, '-w', 'json']);
  return Number(/"revision":(\d+)/.exec(out)?.[1]);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  etcd = await EtcdServer.start();
}, T);

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
  if (!etcd.running) await etcd.start();
}, T);

afterAll(async () => {
  await etcd.dispose();
}, T);

describe('EtcdLeaseManager across etcd outages', () => {
  it('resumes the watch from the last seen revision after etcd restarts, losing no event', async () => {
    const prefix = newPrefix();
    // A slow reconnect, so that the writes below land before the watch comes back.
    const { manager: m, lines } = manager(prefix, { backoff: { initialMs: 4000, maxMs: 4000 } });
    await m.acquireLease({ pool: ownPool(), attrs: vxlan('192.0.2.1', '02:00:00:00:00:01') }, AbortSignal.timeout(10_000));
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = m.watchLeases(recorder, stop.signal);
    try {
      await waitFor('the snapshot', () => (recorder.count('snapshot') === 1 ? true : undefined), 5000);
      await put(`${prefix}/subnets/10.244.60.0-24`, flannelValue('192.0.2.60', '02:00:00:00:00:60'));
      await waitFor('the first peer', () => (recorder.peers.has('10.244.60.0/24') ? true : undefined), 5000);

      await etcd.stop();
      await waitFor('the watch to notice', () => lines.find((l) => l.includes('lease watch interrupted')), 10_000);
      await etcd.start();
      const firstMissed = await put(`${prefix}/subnets/10.244.61.0-24`, flannelValue('192.0.2.61', '02:00:00:00:00:61'));
      await put(`${prefix}/subnets/10.244.62.0-24`, flannelValue('192.0.2.62', '02:00:00:00:00:62'));
      await del(`${prefix}/subnets/10.244.60.0-24`);

      await waitFor('all changes made while the watch was away', () =>
        recorder.subnets().join() === '10.244.61.0/24,10.244.62.0/24' ? true : undefined, 20_000);
      expect(recorder.count('snapshot')).toBe(1); // resumed, not re-listed
      const resumedFrom = [...lines.join('\n').matchAll(/resuming from revision (\d+)/g)].map((x) => Number(x[1]));
      expect(resumedFrom.length).toBeGreaterThan(0);
      expect(Math.min(...resumedFrom)).toBeLessThanOrEqual(firstMissed); // the watch came back from before the writes
      expect(recorder.batches.some((b) => b.kind === 'removed' && b.leases.some((l) => l.subnet?.toString() === '10.244.60.0/24'))).toBe(true);
    } finally {
      stop.abort();
      await watching;
    }
  }, T);

  it('re-lists and emits a snapshot when the revision to resume from was compacted', async () => {
    const prefix = newPrefix();
    const { manager: m, lines } = manager(prefix, { backoff: { initialMs: 4000, maxMs: 4000 } });
    await m.acquireLease({ pool: ownPool(), attrs: vxlan('192.0.2.1', '02:00:00:00:00:01') }, AbortSignal.timeout(10_000));
    const recorder = new PeerRecorder();
    const stop = new AbortController();
    const watching = m.watchLeases(recorder, stop.signal);
    try {
      await put(`${prefix}/subnets/10.244.70.0-24`, flannelValue('192.0.2.70', '02:00:00:00:00:70'));
      await waitFor('the first peer', () => (recorder.peers.has('10.244.70.0/24') ? true : undefined), 5000);
      await etcd.stop();
      await waitFor('the watch to notice', () => lines.find((l) => l.includes('lease watch interrupted')), 10_000);
      await etcd.start();
      await del(`${prefix}/subnets/10.244.70.0-24`);
      const revision = await put(`${prefix}/subnets/10.244.71.0-24`, flannelValue('192.0.2.71', '02:00:00:00:00:71'));
      await etcd.etcdctl(['compact', String(revision)]);

      await waitFor('a second snapshot', () => (recorder.count('snapshot') === 2 ? true : undefined), 20_000);
      expect(recorder.batches.at(-1)).toMatchObject({ kind: 'snapshot' });
      expect(recorder.subnets()).toEqual(['10.244.71.0/24']);
      expect(lines.some((l) => l.includes('was compacted') && l.includes('listing again'))).toBe(true);

      // And it watches on from the new listing. 15 s: this manager's reconnect delay is 4 s, and a
      // loaded machine right after an etcd restart can see one more stream break.
      await put(`${prefix}/subnets/10.244.72.0-24`, flannelValue('192.0.2.72', '02:00:00:00:00:72'));
      await waitFor('a peer after the re-list', () => (recorder.peers.has('10.244.72.0/24') ? true : undefined), 15_000).catch((err: unknown) => {
        throw new Error(`${String(err)}; the manager's last lines:\n${lines.slice(-15).join('\n')}`);
      });
    } finally {
      stop.abort();
      await watching;
    }
  }, T);

  it('keeps retrying config reads and acquisition while etcd is down, and succeeds once it is back', async () => {
    const prefix = newPrefix();
    await etcd.stop();
    const { manager: m, lines } = manager(prefix);
    const config = m.readNetworkConfig(AbortSignal.timeout(30_000));
    const acquiring = m.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.5', '02:00:00:00:00:05') }, AbortSignal.timeout(30_000));
    await waitFor('retries to be logged', () => (lines.filter((l) => l.startsWith('warn:')).length >= 4 ? true : undefined), 10_000);
    expect(lines.some((l) => l.includes('acquire a subnet lease failed, retrying'))).toBe(true);
    expect(lines.some((l) => l.includes(`read ${prefix}/config failed, retrying`))).toBe(true);
    await etcd.start();
    await etcd.etcdctl(['put', `${prefix}/config`, '{"Network":"10.244.0.0/16"}']);
    await expect(config).resolves.toBe('{"Network":"10.244.0.0/16"}');
    const lease = await acquiring;
    expect(await etcd.etcdctl(['get', `${prefix}/subnets/${lease.subnet?.toString().replace('/', '-')}`, '--print-value-only'])).toContain(
      '"PublicIP":"192.0.2.5"',
    );
  }, T);

  it('stops waiting for a missing config when the signal aborts', async () => {
    const prefix = newPrefix();
    const { manager: m } = manager(prefix);
    const stop = new AbortController();
    const reading = m.readNetworkConfig(stop.signal);
    await sleep(300);
    stop.abort(new Error('shutting down'));
    await expect(reading).rejects.toThrow('shutting down');
  }, T);

  it('renews at expiry minus the margin, retrying while etcd is down, and keeps the subnet', async () => {
    const prefix = newPrefix();
    // A 12 s lease renewed 6 s before it ends; failed renewals are retried every 500 ms.
    const { manager: m, lines } = manager(prefix, { ttlSeconds: 12, renewMarginMinutes: 6 / 60, renewRetryMs: 500 });
    const lease = await m.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.7', '02:00:00:00:00:07') }, AbortSignal.timeout(10_000));
    const key = `${prefix}/subnets/${lease.subnet?.toString().replace('/', '-')}`;
    const leaseIdOf = async (): Promise<string> => /"lease":(\d+)/.exec(await etcd.etcdctl(['get', key, '-w', 'json']))?.[1] ?? '0';
    const firstId = await leaseIdOf();
    expect(firstId).not.toBe('0');

    await etcd.stop(); // renewal falls due at ~6 s while etcd is down
    await waitFor('failed renewals', () => (lines.filter((l) => l.includes('renewing the subnet lease failed')).length >= 2 ? true : undefined), 15_000);
    await etcd.start();
    await waitFor('a renewal', () => lines.find((l) => l.includes('renewed subnet lease')), 15_000);
    const renewedId = await leaseIdOf();
    expect(renewedId).not.toBe('0');
    expect(renewedId).not.toBe(firstId); // a new grant, as flannel does
    expect(await etcd.etcdctl(['get', key, '--print-value-only'])).toContain('"PublicIP":"192.0.2.7"');
    const ttl = Number(/remaining\((\d+)s\)/.exec(await etcd.etcdctl(['lease', 'timetolive', BigInt(renewedId).toString(16)]))?.[1]);
    expect(ttl).toBeGreaterThan(6);
  }, T);
});
