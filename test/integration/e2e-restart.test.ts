// End to end: restarting weftd (SIGTERM, then kill -9) on a node with 1000 peers deletes and
// rewrites none of the entries of peers that still hold a lease (counted by an rtnetlink monitor in
// the node), pods on two nodes lose no ping across it, and a lease deleted while the daemon was
// down has its entries removed once the first lease list is in. 5000 peers: the restart benchmark.
import { jest } from '@jest/globals';
import { restartOnce, setUpRestartDrill, type RestartDrill } from '../bench/restart-drill.js';

jest.setTimeout(240_000);

const PEERS = 1000;

describe(`restart with ${PEERS} peers`, () => {
  let drill: RestartDrill;
  beforeAll(async () => {
    drill = await setUpRestartDrill(PEERS, 's');
  });
  afterAll(async () => {
    await drill.lab.dispose();
  });

  it.each([
    ['SIGTERM', 7],
    ['SIGKILL', 8],
  ] as const)('%s: no live peer entry deleted or rewritten, no ping lost, the lease deleted meanwhile cleaned up', async (signal, removedPeer) => {
    const outcome = await restartOnce(drill, signal, removedPeer);
    expect(outcome.liveChanges).toEqual([]);
    // The removed peer's route, FDB entry and neighbour were deleted (the kernel reports a deleted
    // permanent neighbour as FAILED first), and nothing was added for it.
    const deleted = outcome.removedChanges.filter((l) => l.startsWith('Deleted '));
    expect(deleted.map((l) => (l.includes('/24 via') ? 'route' : l.includes('PERMANENT') ? 'fdb' : 'neighbour')).sort()).toEqual(['fdb', 'neighbour', 'route']);
    expect(outcome.removedChanges.filter((l) => !l.startsWith('Deleted ') && !l.trim().endsWith('FAILED'))).toEqual([]);
    expect(outcome.removedGone).toBe(true);
    for (const ping of outcome.pings) {
      expect(ping.sent).toBeGreaterThan(20);
      expect(ping.received).toBe(ping.sent);
    }
  });
});
