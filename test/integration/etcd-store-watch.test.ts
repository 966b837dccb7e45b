// Our own watch cancellations must not count against etcd. etcd3 marks a host failed when a stream
// errors while still writable, and a cancel surfaces as a CANCELLED error: that closed every client
// of the host and, after three in a row, opened its circuit breaker, so the next calls failed at
// once. The lease watch cancels a stream on every compaction, re-list and stop.
import { Etcd3Store } from '../../subnet/etcd-store.js';
import { EtcdServer } from '../lab/etcd-server.js';
import { waitFor } from '../lab/netns.js';

const T = 60_000;
let etcd: EtcdServer;
let store: Etcd3Store;

beforeAll(async () => {
  etcd = await EtcdServer.start();
  store = new Etcd3Store({ endpoints: [etcd.endpoint] });
}, T);

afterAll(async () => {
  store.close();
  await etcd.dispose();
}, T);

/** Opens a watch on `prefix`, waits until etcd confirms it, and returns what it saw. */
async function openWatch(prefix: string): Promise<{ keys: string[]; closed: Error[]; cancel: () => void }> {
  const seen = { keys: [] as string[], closed: [] as Error[], created: false };
  const watch = store.watch(prefix, '1', {
    onResponse: (res) => {
      if (res.created) seen.created = true;
      for (const ev of res.events) seen.keys.push(ev.record.key);
    },
    onClosed: (err) => seen.closed.push(err),
  });
  await waitFor('the watch to be created', () => (seen.created ? true : undefined), 10_000, 10);
  return { keys: seen.keys, closed: seen.closed, cancel: () => { watch.cancel(); } };
}

it('cancels watches one by one and three at once, then lists and watches at once without an error', async () => {
  const prefix = `/weft-store-watch-${process.pid}/`;
  for (let i = 0; i < 3; i++) (await openWatch(prefix)).cancel();
  const together = await Promise.all([1, 2, 3].map(() => openWatch(prefix)));
  for (const watch of together) watch.cancel();
  await new Promise((resolve) => setTimeout(resolve, 100)); // let the cancellations' errors arrive
  // No wait: a breaker opened by the cancels would fail these calls immediately.
  await expect(store.list(prefix)).resolves.toMatchObject({ records: [] });
  const watch = await openWatch(prefix);
  try {
    await etcd.etcdctl(['put', `${prefix}a`, 'x']);
    await waitFor('the put on the new watch', () => (watch.keys.includes(`${prefix}a`) ? true : undefined), 5000, 10);
    expect(watch.closed).toEqual([]);
  } finally {
    watch.cancel();
  }
}, T);
