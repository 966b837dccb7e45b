// End to end: the kernel monitor's socket overflows while the daemon cannot read it (stopped with
// SIGSTOP, as a long GC pause or CPU starvation would) and a storm of route changes, with some of
// the daemon's own entries deleted in it, goes by. Before the netlink package was patched this
// aborted the process ("terminate called after throwing an instance of 'Napi::Error'"). Now the
// overflow is a gap: the daemon lives, and a full pass puts every entry back within 2 s.
import { jest } from '@jest/globals';
import { fakePeer } from '../bench/fake-leases.js';
import { setUpRestartDrill, type RestartDrill } from '../bench/restart-drill.js';
import { waitFor } from '../lab/netns.js';

jest.setTimeout(180_000);

const PEERS = 200;
const STORM_ROUTES = 15_000;
const REPAIR_DEADLINE_MS = 2000;
/** Peers whose neighbour, FDB entry, route and nexthop object are deleted during the storm. */
const VICTIMS = [3, 4, 5, 6, 7].map(fakePeer);

/** Host routes in 10.200.0.0/16 (no peer lives there), added then deleted: two notifications each. */
function stormLines(): { before: string[]; after: string[] } {
  const routes = Array.from({ length: STORM_ROUTES }, (_, i) => `10.200.${i >> 8}.${i & 255}/32`);
  return {
    before: routes.map((r) => `route add ${r} via 192.0.2.1 dev eth0`),
    after: routes.map((r) => `route del ${r} via 192.0.2.1 dev eth0`),
  };
}

describe('monitor socket overflow', () => {
  let drill: RestartDrill;
  beforeAll(async () => {
    drill = await setUpRestartDrill(PEERS, 'v');
  });
  afterAll(async () => {
    await drill.lab.dispose();
  });

  it('keeps the daemon alive and repairs entries deleted during the storm within 2 s', async () => {
    const { lab, node } = drill;
    const daemon = node.daemon;
    if (!daemon) throw new Error('no daemon');
    const storm = stormLines();
    const nexthopIds = await nexthopIdsByGateway(drill);
    daemon.kill('SIGSTOP');
    try {
      await lab.scope.ipBatch(node.ns, [
        ...storm.before,
        // No dev on the route: the kernel matches no device on a route through a nexthop object.
        ...VICTIMS.flatMap((p) => [`route del ${p.subnet}`, `nexthop del id ${nexthopIds.get(p.vtep) ?? '?'}`, `neigh del ${p.vtep} dev flannel.1`]),
        ...storm.after,
      ]);
      const fdbDeletes = VICTIMS.map((p) => `fdb del ${p.mac} dev flannel.1 dst ${p.publicIp} self`).join('\n');
      await lab.scope.exec(node.ns, 'bridge', ['-batch', '-'], `${fdbDeletes}\n`);
      expect(await victimsPresent(drill)).toBe(0);
    } finally {
      daemon.kill('SIGCONT');
    }
    const started = performance.now();
    await waitFor('every victim entry to be back', async () => {
      if (daemon.exitCode !== null || daemon.signalCode !== null) throw new Error(`weftd exited (code ${daemon.exitCode}, signal ${daemon.signalCode})`);
      return (await victimsPresent(drill)) === VICTIMS.length * 3 ? true : undefined;
    }, 10_000, 20);
    const repairMs = performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect({ exitCode: daemon.exitCode, signal: daemon.signalCode }).toEqual({ exitCode: null, signal: null });
    // The storm really overflowed the socket (else this test would prove nothing).
    expect(await lab.countLogLines(node, 'monitor socket overflowed')).toBeGreaterThanOrEqual(1);
    expect(repairMs).toBeLessThan(REPAIR_DEADLINE_MS);
  });
});

/** The ids of the nexthop objects on flannel.1, by gateway. */
async function nexthopIdsByGateway(drill: RestartDrill): Promise<Map<string, string>> {
  const text = (await drill.lab.scope.exec(drill.node.ns, 'ip', ['nexthop', 'list', 'dev', 'flannel.1'])).stdout;
  return new Map([...text.matchAll(/^id (\d+) via (\S+) /gm)].map((m) => [m[2] ?? '', m[1] ?? '']));
}

/** How many of the victims' 3 entries each (neighbour, FDB entry, route through its nexthop object) the node holds. */
async function victimsPresent(drill: RestartDrill): Promise<number> {
  const script = 'ip route show dev flannel.1; ip neigh show dev flannel.1 nud permanent; bridge fdb show dev flannel.1';
  const text = (await drill.lab.scope.exec(drill.node.ns, 'sh', ['-c', script])).stdout;
  const lines = new Set(text.split('\n').map((l) => l.trim()));
  const nexthops = await nexthopIdsByGateway(drill);
  let present = 0;
  for (const p of VICTIMS) {
    if (lines.has(`${p.subnet} nhid ${nexthops.get(p.vtep) ?? '?'} via ${p.vtep} onlink`)) present += 1;
    if (lines.has(`${p.vtep} lladdr ${p.mac} PERMANENT`)) present += 1;
    if (lines.has(`${p.mac} dst ${p.publicIp} self permanent`)) present += 1;
  }
  return present;
}
