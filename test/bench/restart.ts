// Restart at scale (not part of CI, which runs 1000 peers in test/integration/e2e-restart):
// `node dist/test/bench/restart.js [--peers 5000]` restarts weftd with SIGTERM and with kill -9
// and prints, per restart, how many live peers' entries changed (must be 0), ping loss in both
// directions and the time from spawn to the first pass. Exits 1 when any restart touched a live
// entry, lost a ping or left the removed peer behind.
import { parseArgs } from 'node:util';
import { restartOnce, setUpRestartDrill } from './restart-drill.js';

const { values } = parseArgs({ options: { peers: { type: 'string', default: '5000' } } });
const peers = Number(values.peers);
if (!Number.isInteger(peers) || peers < 1 || peers > 9000) throw new Error(`--peers: ${values.peers} is not a whole number in 1..9000`);

const say = (line: string): void => { process.stdout.write(`${line}\n`); };
const setUpStarted = performance.now();
const drill = await setUpRestartDrill(peers, 'q', ['--log-level', 'info']);
say(`${peers} peers: two nodes converged in ${((performance.now() - setUpStarted) / 1000).toFixed(1)} s`);
let failed = false;
try {
  for (const [signal, removedPeer] of [['SIGTERM', 11], ['SIGKILL', 12]] as const) {
    const started = performance.now();
    const outcome = await restartOnce(drill, signal, removedPeer, ['--log-level', 'info']);
    const lost = outcome.pings.map((p) => `${p.sent - p.received}/${p.sent}`).join(', ');
    say(`${signal}: live entries changed ${outcome.liveChanges.length}, removed peer's lines ${outcome.removedChanges.length} ` +
      `(gone: ${outcome.removedGone}), pings lost ${lost}, spawn to first pass ${outcome.startToFirstPassMs.toFixed(0)} ms, ` +
      `whole drill ${((performance.now() - started) / 1000).toFixed(1)} s`);
    for (const line of outcome.liveChanges.slice(0, 5)) say(`  ${line}`);
    failed ||= outcome.liveChanges.length > 0 || !outcome.removedGone || outcome.pings.some((p) => p.received !== p.sent);
  }
} finally {
  await drill.lab.dispose();
}
process.exitCode = failed ? 1 : 0;
