// The health server with a real reconcile loop over a fake backend (on host loopback): /readyz 503
// before the daemon is ready and 200 after, /metrics strictly parsed, /status read by weftctl. Then the
// datapath probe's raw-socket ICMP inside two namespaces joined by a veth: replies, then loss and a
// broken peer once the peer address is removed.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import winston from 'winston';
import type { ApplyResult, Backend } from '../../backends/backend.js';
import type { DaemonParts } from '../../overlay/daemon.js';
import { parseNetworkConfig } from '../../overlay/network-config.js';
import { Observability } from '../../overlay/observability/observability.js';
import type { ProbeSummary } from '../../overlay/observability/probe-book.js';
import { parsePrometheusText, sampleValue } from '../../overlay/observability/prometheus-text.js';
import { ReconcileLoop } from '../../overlay/reconcile-loop.js';
import type { Lease, LeaseAttrs } from '../../subnet/lease.js';
import { ip, net } from '../addresses.js';
import { NetnsScope, run, waitFor } from '../lab/netns.js';
import { distModule, startProbeProcess } from '../lab/probe-process.js';

const T = 60_000;
const execFileAsync = promisify(execFile);
const logger = winston.createLogger({ silent: true });
const lease = (subnet: string, publicIp: string): Lease => ({
  subnet: net(subnet), publicIp: ip(publicIp), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '02:00:00:00:00:01' },
});

/** Writes nothing; reports one repaired route per resync pass so the repair counter moves. */
class FakeBackend implements Backend {
  readonly type = 'vxlan';
  readonly podMtu = 1450;
  prepare(): Promise<LeaseAttrs> {
    return Promise.resolve({ publicIp: ip('192.0.2.1'), backendType: 'vxlan' });
  }
  configureOwnLease(): Promise<void> {
    return Promise.resolve();
  }
  ownsKernelEvent(): boolean {
    return true;
  }
  applyPeers(): Promise<ApplyResult> {
    return Promise.resolve({ repaired: { routes: 1 }, removed: 0 });
  }
}

async function get(url: string): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

describe('health server', () => {
  it('is not ready before onReady, ready after the first pass, and serves metrics and status', async () => {
    const observability = new Observability({ healthzIp: '127.0.0.1', healthzPort: 0, resyncMs: 200, probe: false }, logger);
    const stop = new AbortController();
    let loopRun: Promise<void> | undefined;
    try {
      const port = await observability.server.listen();
      const base = `http://127.0.0.1:${port}`;
      const before = await get(`${base}/readyz`);
      expect(before.status).toBe(503);
      expect(before.body).toContain('[-] lease:');
      expect((await get(`${base}/healthz`)).status).toBe(200);
      expect((await get(`${base}/nope`)).status).toBe(404);

      const backend = new FakeBackend();
      const parts: DaemonParts = {
        leaseManager: undefined as never,
        interfaceInventory: () => Promise.reject(new Error('unused')),
        createBackend: () => backend,
      };
      const wrapped = observability.wrapParts(parts);
      const loop = new ReconcileLoop(wrapped.createBackend({ type: 'host-gw' }, undefined as never, {}), logger, { resyncMs: 200, retryMinMs: 10, retryMaxMs: 100 });
      loop.onBatch({ kind: 'snapshot', leases: [lease('10.244.2.0/24', '192.0.2.2'), lease('10.244.3.0/24', '192.0.2.3')] });
      observability.events.onReady?.({
        config: parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}'),
        external: { name: 'eth0', index: 2, mtu: 1500, ipv4: { ifaceIp: ip('192.0.2.1'), publicIp: ip('192.0.2.1') }, ipv6: undefined },
        backend,
        lease: { subnet: net('10.244.1.0/24'), publicIp: ip('192.0.2.1'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '02:00:00:00:00:99' } },
        loop,
        firewall: undefined,
      });
      loopRun = loop.run(stop.signal);
      await waitFor('readyz 200', async () => ((await get(`${base}/readyz`)).status === 200 ? true : undefined), 10_000);
      // Let a few resync passes run so that repairs are counted.
      await waitFor('3 passes', () => (loop.status.passes >= 3 ? true : undefined), 10_000);

      const metrics = await get(`${base}/metrics`);
      expect(metrics.type).toContain('text/plain');
      const families = parsePrometheusText(metrics.body);
      expect(sampleValue(families, 'weft_peers')).toBe(2);
      expect(sampleValue(families, 'weft_leases')).toBe(3);
      expect(sampleValue(families, 'weft_reconcile_passes_total')).toBeGreaterThanOrEqual(3);
      expect(sampleValue(families, 'weft_reconcile_failures_total')).toBe(0);
      // The start pass (lease snapshot) is not a repair; the resync passes after it are.
      const repaired = sampleValue(families, 'weft_kernel_repairs_total', { kind: 'routes' }) ?? 0;
      expect(repaired).toBeGreaterThanOrEqual(1);
      expect(repaired).toBeLessThan(sampleValue(families, 'weft_reconcile_passes_total') ?? 0);
      expect(families.get('weft_reconcile_duration_seconds')?.type).toBe('histogram');
      expect(families.has('process_resident_memory_bytes')).toBe(true);

      const status = JSON.parse((await get(`${base}/status`)).body) as { ready: boolean; peers: number; lease: { subnet: string; vtepMac: string } };
      expect(status).toMatchObject({ ready: true, peers: 2, lease: { subnet: '10.244.1.0/24', vtepMac: '02:00:00:00:00:99' } });

      const weftctl = fileURLToPath(new URL('../../cmd/weftctl.js', import.meta.url));
      const cli = await execFileAsync(process.execPath, [weftctl, 'status', '--healthz-ip', '127.0.0.1', '--healthz-port', String(port)]);
      expect(cli.stdout).toMatch(/^ready:\s+yes/m);
      expect(cli.stdout).toMatch(/^lease:\s+10\.244\.1\.0\/24 public 192\.0\.2\.1 vxlan vtep 02:00:00:00:00:99/m);
      expect(cli.stdout).toMatch(/^peers:\s+2$/m);
    } finally {
      stop.abort();
      await loopRun;
      await observability.close();
    }
  }, T);
});

describe('datapath probe over raw ICMP in namespaces', () => {
  it('gets replies from the peer, then reports loss and a broken peer when its address is gone', async () => {
    const scope = new NetnsScope();
    try {
      const a = await scope.createNamespace('pa');
      const b = await scope.createNamespace('pb');
      await run('ip', ['link', 'add', `${scope.prefix}va`, 'netns', a, 'type', 'veth', 'peer', 'name', `${scope.prefix}vb`, 'netns', b]);
      await scope.ipBatch(a, [`link set ${scope.prefix}va name eth0`, 'addr add 192.0.2.1/24 dev eth0', 'link set eth0 up']);
      await scope.ipBatch(b, [`link set ${scope.prefix}vb name eth0`, 'addr add 192.0.2.2/24 dev eth0', 'link set eth0 up']);

      // A host-gw peer is probed at its public IP (192.0.2.2); 20 echoes/s, broken after 3 timeouts of 300 ms.
      const prober = startProbeProcess(scope, a, `
        import { IcmpPinger } from ${distModule('overlay/observability/icmp-pinger.js')};
        import { DatapathProbe } from ${distModule('overlay/observability/datapath-probe.js')};
        import { IpAddress } from ${distModule('subnet/ip-address.js')};
        import { IpPrefix } from ${distModule('subnet/ip-prefix.js')};
        const pinger = IcmpPinger.open((err) => console.error(err.message));
        const probe = new DatapathProbe(pinger, { ratePerSecond: 20, timeoutMs: 300, brokenAfter: 3, windowSize: 10 });
        probe.setPeers([{ subnet: IpPrefix.parse('10.244.2.0/24'), publicIp: IpAddress.parse('192.0.2.2'), backendType: 'host-gw' }], 'host-gw');
      `, 20_000);
      const latest = (): ProbeSummary | undefined => prober.latest();

      const healthy = await waitFor('replies from 192.0.2.2', () => {
        prober.assertAlive();
        const peer = latest()?.worst[0];
        return peer && peer.sent >= 5 ? latest() : undefined;
      }, 10_000, 100);
      expect(healthy.broken).toEqual([]);
      expect(healthy.lossRatio).toBe(0);
      expect(healthy.worst[0]?.lastRttMs).toBeGreaterThan(0);
      expect(healthy.worst[0]?.lastRttMs).toBeLessThan(1000); // milliseconds, not seconds or microseconds

      await scope.exec(b, 'ip', ['addr', 'del', '192.0.2.2/24', 'dev', 'eth0']);
      const broken = await waitFor('the peer to be broken', () => { const now = latest(); return now && now.broken.length === 1 ? now : undefined; }, 10_000, 100);
      expect(broken.broken[0]).toMatchObject({ peer: '10.244.2.0/24', address: '192.0.2.2', broken: true });
      expect(broken.lossRatio).toBeGreaterThan(0);

      await scope.exec(b, 'ip', ['addr', 'add', '192.0.2.2/24', 'dev', 'eth0']);
      await waitFor('the peer to recover after one reply', () => (latest()?.broken.length === 0 ? true : undefined), 10_000, 100);
    } finally {
      await scope.dispose();
    }
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(scope.prefix);
  }, T);
});
