// Makes a TCP server inside a lab namespace reachable from the host namespace on 127.0.0.1,
// without touching any host link: host 127.0.0.1:<port> -> unix socket -> server in the namespace.
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NetnsScope } from './netns.js';

const relayScript = join(fileURLToPath(new URL('.', import.meta.url)), 'unix-to-tcp.js');

export interface PortBridge {
  /** The 127.0.0.1 port in the host namespace. */
  port: number;
  close(): Promise<void>;
}

export async function bridgePort(
  scope: NetnsScope,
  ns: string,
  target: { host: string; port: number },
  socketDir: string,
): Promise<PortBridge> {
  const socketPath = join(socketDir, `${ns}-${target.port}.sock`);
  const relay = scope.spawn(ns, process.execPath, [relayScript, socketPath, target.host, String(target.port)]);
  await new Promise<void>((resolve, reject) => {
    relay.once('exit', (code) => { reject(new Error(`relay for ${ns} ${target.host}:${target.port} exited with ${code}`)); });
    relay.stdout?.once('data', () => { resolve(); });
  });
  const server: Server = createServer((client) => {
    const upstream = createConnection(socketPath);
    client.pipe(upstream).pipe(client);
    const close = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close);
    upstream.on('error', close);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      server.close();
      relay.kill('SIGTERM');
      if (relay.exitCode === null) await once(relay, 'exit');
    },
  };
}
