// The controller's small HTTP server: /metrics (Prometheus text) and /healthz (200 once the rules
// reflect a full list of the API objects, 503 before).
import { createServer, type Server } from 'node:http';
import type { PolicyMetrics } from './policy-metrics.js';

export interface PolicyServerOptions {
  ip: string;
  port: number;
  ready: () => boolean;
}

export async function startPolicyServer(options: PolicyServerOptions, metrics: PolicyMetrics): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics') {
      metrics.registry.metrics().then((text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text);
      }, (err: unknown) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(err as Error).message}\n`);
      });
      return;
    }
    if (path === '/healthz') {
      const ok = options.ready();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'policy rules not written yet\n');
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.ip, () => { resolve(); });
  });
  return server;
}
