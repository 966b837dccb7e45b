// Runs inside a lab namespace: accepts connections on a unix socket and relays each one to a TCP
// address in that namespace. The file system is shared across network namespaces, so this lets
// the test process (in the host namespace) reach a server in a lab namespace over loopback only.
// Usage: node unix-to-tcp.js <socket path> <host> <port>
import { createConnection, createServer } from 'node:net';
import { rmSync } from 'node:fs';

const [socketPath, host, portText] = process.argv.slice(2);
if (socketPath === undefined || host === undefined || portText === undefined) {
  process.stderr.write('usage: unix-to-tcp <socket path> <host> <port>\n');
  process.exit(2);
}
rmSync(socketPath, { force: true });
const server = createServer((client) => {
  const upstream = createConnection({ host, port: Number(portText) });
  client.pipe(upstream).pipe(client);
  const close = (): void => {
    client.destroy();
    upstream.destroy();
  };
  client.on('error', close);
  upstream.on('error', close);
});
server.listen(socketPath, () => process.stdout.write('ready\n'));
const stop = (): void => {
  server.close();
  rmSync(socketPath, { force: true });
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
