// Which source address does a receiver see? A one-shot UDP listener in one namespace reports the
// source of the first datagram a sender in another namespace sends it. Used to prove masquerade
// (outside hosts see the node) and its absence between pods (pods see pod addresses). Either family:
// the socket type follows the receiver's address.
import type { NetnsScope } from './netns.js';
import { stopProcess, waitFor } from './netns.js';

const LISTENER = `
const s = require('dgram').createSocket(process.argv[1].includes(':') ? 'udp6' : 'udp4');
s.on('message', (m, r) => { console.log('from ' + r.address); process.exit(0); });
s.bind(Number(process.argv[2]), process.argv[1], () => console.log('ready'));
`;
const SENDER = `
const s = require('dgram').createSocket(process.argv[1].includes(':') ? 'udp6' : 'udp4');
let n = 0;
const t = setInterval(() => { s.send('x', Number(process.argv[2]), process.argv[1]); if (++n === 10) { clearInterval(t); s.close(); } }, 100);
`;

/** The source address `to` sees for a datagram from `fromNs`, or undefined when none arrives within 3 s. */
export async function sourceAddressSeen(
  scope: NetnsScope,
  fromNs: string,
  to: { ns: string; ip: string },
  port = 9999,
): Promise<string | undefined> {
  const listener = scope.spawn(to.ns, process.execPath, ['-e', LISTENER, to.ip, String(port)]);
  let output = '';
  listener.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString(); });
  try {
    await waitFor('the UDP listener', () => (output.includes('ready') ? true : undefined), 5000, 20);
    await scope.exec(fromNs, process.execPath, ['-e', SENDER, to.ip, String(port)]);
    return await waitFor('a datagram', () => /from (\S+)/.exec(output)?.[1], 3000, 20).catch(() => undefined);
  } finally {
    await stopProcess(listener, 1000);
  }
}
