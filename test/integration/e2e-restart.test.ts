// End to end: restarting weftd (SIGTERM, then kill -9) on a node with 1000, then 5000 peers deletes
// and rewrites none of the entries (nexthop objects included) of peers that still hold a lease (counted by an rtnetlink monitor
// in the node), pods on two nodes lose no ping across it, and a lease deleted while the daemon was
// down has its entries removed once the first lease list is in. One lab grows from 1000 to 5000
// peers (about 2 minutes in all); test/bench/restart.ts runs the same drill at any size.
import { jest } from '@jest/globals';
import { growRestartDrill, restartOnce, setUpRestartDrill, type RestartDrill } from '../bench/restart-drill.js';

jest.setTimeout(240_000);

describe('restart with peers in place', () => {
  let drill: RestartDrill | undefined;
  afterAll(async () => {
    await drill?.lab.dispose();
  });

  it.each([
    [1000, 'SIGTERM', 7],
    [1000, 'SIGKILL', 8],
    [5000, 'SIGTERM', 1007],
    [5000, 'SIGKILL', 1008],
  ] as const)('%i peers, %s: no live peer entry deleted or rewritten, no ping lost, the lease deleted meanwhile cleaned up', async (peers, signal, removedPeer) => {
    drill ??= await setUpRestartDrill(peers, 's');
    if (drill.peers < peers) await growRestartDrill(drill, peers);
    const outcome = await restartOnce(drill, signal, removedPeer);
    expect(outcome.liveChanges).toEqual([]);
    // The removed peer's route, nexthop object, FDB entry and neighbour were deleted (the kernel
    // reports a deleted permanent neighbour as FAILED first), and nothing was added for it.
    const deleted = outcome.removedChanges.filter((l) => l.startsWith('Deleted '));
    const kind = (l: string): string => (/^Deleted id \d+ via /.test(l) ? 'nexthop' : /\/24 nhid \d+ via /.test(l) ? 'route' : l.includes('PERMANENT') ? 'fdb' : 'neighbour');
    expect(deleted.map(kind).sort()).toEqual(['fdb', 'neighbour', 'nexthop', 'route']);
    expect(outcome.removedChanges.filter((l) => !l.startsWith('Deleted ') && !l.trim().endsWith('FAILED'))).toEqual([]);
    expect(outcome.removedGone).toBe(true);
    for (const ping of outcome.pings) {
      expect(ping.sent).toBeGreaterThan(20);
      expect(ping.received).toBe(ping.sent);
    }
  });
});
