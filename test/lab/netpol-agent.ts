// Runs inside a pod namespace: serves TCP and UDP on the given ports (each answers with the pod's
// name) and probes other addresses on request. One JSON line per request on stdin, one per answer
// on stdout, so a test drives many probes without starting a process per probe.
//   in:  {"id":1,"protocol":"tcp","host":"10.244.1.12","port":80,"timeoutMs":500,"count":1,"intervalMs":0}
//   out: {"id":1,"ok":1,"failed":0}
import { createServer, connect } from 'node:net';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';

interface ProbeRequest {
  id: number;
  protocol: 'tcp' | 'udp';
  host: string;
  port: number;
  timeoutMs: number;
  count?: number;
  intervalMs?: number;
}

const [name = 'pod', portList = '80,81'] = process.argv.slice(2);
const ports = portList.split(',').map(Number);

async function serve(): Promise<void> {
  for (const port of ports) {
    const tcp = createServer((socket) => { socket.end(`${name}\n`); socket.on('error', () => undefined); });
    await new Promise<void>((resolve) => tcp.listen(port, '::', resolve));
    // One dual-stack socket: IPv4 clients arrive as v4-mapped addresses.
    const udp = createSocket({ type: 'udp6' });
    udp.on('message', (_msg, rinfo) => { udp.send(name, rinfo.port, rinfo.address); });
    await new Promise<void>((resolve) => udp.bind(port, '::', resolve));
  }
}

function probeTcp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean): void => { clearTimeout(timer); socket.destroy(); resolve(ok); };
    const timer = setTimeout(() => { done(false); }, timeoutMs);
    socket.once('data', () => { done(true); });
    socket.once('error', () => { done(false); });
  });
}

function probeUdp(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const done = (ok: boolean): void => { clearTimeout(timer); socket.close(); resolve(ok); };
    const timer = setTimeout(() => { done(false); }, timeoutMs);
    socket.once('message', () => { done(true); });
    socket.once('error', () => { done(false); });
    socket.send('probe', port, host);
  });
}

async function handle(request: ProbeRequest): Promise<void> {
  let ok = 0;
  let failed = 0;
  const count = Math.min(request.count ?? 1, 10_000);
  for (let i = 0; i < count; i++) {
    const probe = request.protocol === 'tcp' ? probeTcp : probeUdp;
    if (await probe(request.host, request.port, request.timeoutMs)) ok++;
    else failed++;
    if (request.intervalMs) await new Promise((resolve) => setTimeout(resolve, request.intervalMs));
  }
  process.stdout.write(`${JSON.stringify({ id: request.id, ok, failed })}\n`);
}

await serve();
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
createInterface({ input: process.stdin }).on('line', (line) => { void handle(JSON.parse(line) as ProbeRequest); });
process.stdin.on('end', () => process.exit(0));
