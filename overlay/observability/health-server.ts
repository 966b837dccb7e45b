// The operator's HTTP surface on --healthz-ip:--healthz-port: /healthz (liveness), /readyz (readiness,
// each failing check named), /metrics (Prometheus text) and /status (JSON for `weftctl status`).
// GET and HEAD only; everything else is 404/405. Nothing here changes daemon state.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'winston';
import type { Backend, ExternalInterface } from '../../backends/backend.js';
import { leaseHalf, leaseSubnet, type Lease } from '../../subnet/lease.js';
import type { NetworkConfig } from '../network-config.js';
import type { ReconcileStatus } from '../reconcile-loop.js';
import type { FirewallStatus } from '../firewall/firewall-keeper.js';
import { evaluateLiveness, evaluateReadiness, ProgressTracker, stuckAfterMs, type CheckResult, type HealthInputs } from './health-checks.js';
import type { WeftMetrics } from './metrics.js';
import type { ProbeSummary } from './probe-book.js';

/** The part of the daemon's RunningState this server reads (tests pass small fakes). */
export interface ObservedState {
  config: Pick<NetworkConfig, 'ipv4'> & Partial<Pick<NetworkConfig, 'ipv6'>>;
  external: ExternalInterface;
  backend: Pick<Backend, 'type' | 'podMtu'>;
  lease: Lease;
  loop: { readonly status: ReconcileStatus };
  firewall?: { readonly status: FirewallStatus } | undefined;
}

export interface ProbeView {
  /** undefined when the probe is off or failed to start (then `error` says why). */
  summary(): ProbeSummary | undefined;
  error(): string | undefined;
}

export interface HealthServerOptions {
  host: string;
  /** 0 picks a free port (tests); the daemon does not start the server when --healthz-port is 0. */
  port: number;
  resyncMs: number;
  metrics: Pick<WeftMetrics, 'contentType' | 'text'>;
  probe?: ProbeView | undefined;
  logger: Logger;
  version?: string | undefined;
  nowMs?: () => number;
  /** How often the loop's progress is sampled. */
  sampleMs?: number;
}

export class HealthServer {
  private state: ObservedState | undefined;
  private readonly progress = new ProgressTracker();
  private readonly nowMs: () => number;
  private server: Server | undefined;
  private sampler: NodeJS.Timeout | undefined;

  constructor(private readonly options: HealthServerOptions) {
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** From DaemonEvents.onReady: the lease is held and subnet.env written. */
  setRunning(state: ObservedState): void {
    this.state = state;
    this.progress.start(this.nowMs());
    this.sample();
  }

  /** Starts listening; resolves with the bound port. */
  async listen(): Promise<number> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.options.logger.warn('health server request failed', { url: req.url, error: String(err) });
        if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error\n', req.method === 'HEAD');
        else res.destroy();
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port, this.options.host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    this.sampler = setInterval(() => { this.sample(); }, this.options.sampleMs ?? 1000);
    this.sampler.unref();
    const port = (server.address() as AddressInfo).port;
    this.options.logger.info('health server listening', { address: this.options.host, port });
    return port;
  }

  async close(): Promise<void> {
    clearInterval(this.sampler);
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  }

  /** The inputs of every check, as of now. */
  inputs(): HealthInputs {
    this.sample();
    return {
      nowMs: this.nowMs(),
      ready: this.state !== undefined,
      reconcile: this.state?.loop.status,
      lastProgressMs: this.progress.lastProgressMs,
      stuckAfterMs: stuckAfterMs(this.options.resyncMs),
      probe: this.options.probe?.summary(),
      probeError: this.options.probe?.error(),
      firewall: this.state?.firewall?.status,
    };
  }

  /** The /status document. */
  status(): StatusDocument {
    const input = this.inputs();
    const readiness = evaluateReadiness(input);
    const state = this.state;
    const loop = input.reconcile;
    const pool = state && (state.config.ipv4 ?? state.config.ipv6); // the IPv6 pool of an IPv6-only network
    return {
      version: this.options.version,
      ready: readiness.ok,
      live: evaluateLiveness(input).ok,
      checks: readiness.checks,
      lease: state && statusLease(state.lease),
      network: pool && { network: pool.network.toString(), subnetLen: pool.subnetLen },
      backend: state && {
        type: state.backend.type,
        podMtu: state.backend.podMtu,
        iface: state.external.name,
        ifaceIp: state.external.ipv4?.ifaceIp.toString(),
        publicIp: state.external.ipv4?.publicIp.toString(),
        ifaceIpv6: state.external.ipv6?.ifaceIp.toString(),
        publicIpv6: state.external.ipv6?.publicIp.toString(),
      },
      peers: loop?.peers ?? 0,
      reconcile: loop && {
        passes: loop.passes,
        failures: loop.failures,
        converged: loop.converged,
        lastPassAt: loop.lastPassAt?.toISOString(),
        lastError: loop.lastError,
      },
      probe: input.probe ?? (input.probeError === undefined ? undefined : { error: input.probeError }),
    };
  }

  private sample(): void {
    if (this.state) this.progress.observe(this.state.loop.status, this.nowMs());
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const head = req.method === 'HEAD';
    if (req.method !== 'GET' && !head) {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false);
      return;
    }
    switch (path) {
      case '/healthz': {
        const check = evaluateLiveness(this.inputs());
        send(res, check.ok ? 200 : 503, 'text/plain; charset=utf-8', `${check.ok ? 'ok' : 'unhealthy'}: ${check.detail}\n`, head);
        return;
      }
      case '/readyz': {
        const readiness = evaluateReadiness(this.inputs());
        send(res, readiness.ok ? 200 : 503, 'text/plain; charset=utf-8', describeChecks(readiness.ok, readiness.checks), head);
        return;
      }
      case '/metrics': {
        const text = await this.options.metrics.text(); // first: loads deferred metrics, then the type is known
        send(res, 200, this.options.metrics.contentType, text, head);
        return;
      }
      case '/status':
        send(res, 200, 'application/json', `${JSON.stringify(this.status(), null, 2)}\n`, head);
        return;
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found; try /healthz, /readyz, /metrics or /status\n', head);
    }
  }
}

/**
 * Our lease in /status: `subnet` names it (its IPv4 subnet, else its IPv6 subnet, as weftctl's SUBNET
 * column); the IPv4 fields belong to the IPv4 half, the IPv6 ones to the IPv6 half.
 */
export interface StatusLease {
  subnet: string;
  publicIp: string | undefined;
  backendType: string;
  vni: number | undefined;
  vtepMac: string | undefined;
  ipv6Subnet?: string;
  publicIpv6?: string;
  vtepMacV6?: string;
  expiresAt: string | undefined;
}

/** Our lease as /status shows it. */
export function statusLease(lease: Lease): StatusLease {
  const ipv6 = leaseHalf(lease, 'ipv6');
  return {
    subnet: leaseSubnet(lease).toString(),
    publicIp: lease.publicIp?.toString(),
    backendType: lease.backendType,
    vni: lease.backendData?.vni,
    vtepMac: lease.backendData?.vtepMac,
    ...(ipv6 && { ipv6Subnet: ipv6.subnet.toString() }),
    ...(ipv6?.publicIp && { publicIpv6: ipv6.publicIp.toString() }),
    ...(ipv6?.backendData && { vtepMacV6: ipv6.backendData.vtepMac }),
    expiresAt: lease.expiresAt?.toISOString(),
  };
}

export interface StatusDocument {
  version: string | undefined;
  ready: boolean;
  live: boolean;
  checks: CheckResult[];
  lease: StatusLease | undefined;
  network: { network: string; subnetLen: number } | undefined;
  backend:
    | {
      type: string; podMtu: number; iface: string;
      /** Per family the network runs: undefined for the other (JSON leaves it out). */
      ifaceIp: string | undefined; publicIp: string | undefined; ifaceIpv6: string | undefined; publicIpv6: string | undefined;
    }
    | undefined;
  peers: number;
  reconcile:
    | { passes: number; failures: number; converged: boolean; lastPassAt: string | undefined; lastError: string | undefined }
    | undefined;
  probe: ProbeSummary | { error: string } | undefined;
}

/** "ready" or "not ready", then one line per check: "[+] name: detail" or "[-] name: detail". */
export function describeChecks(ok: boolean, checks: readonly CheckResult[]): string {
  const lines = checks.map((c) => `[${c.ok ? '+' : '-'}] ${c.name}: ${c.detail}`);
  return `${ok ? 'ready' : 'not ready'}\n${lines.join('\n')}\n`;
}

function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(head ? undefined : body);
}
