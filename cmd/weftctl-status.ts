// `weftctl status`: the daemon's /status document, as JSON or as a short report.
import type { StatusDocument } from '../overlay/observability/health-server.js';
import type { Output } from './weftctl-leases.js';

export async function fetchStatus(baseUrl: string, timeoutMs: number): Promise<StatusDocument> {
  const url = `${baseUrl.replace(/\/+$/, '')}/status`;
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${url} answered ${res.status} ${res.statusText}`);
  return (await res.json()) as StatusDocument;
}

export function formatStatus(s: StatusDocument): string {
  const lines: string[] = [];
  lines.push(`ready:      ${s.ready ? 'yes' : 'no'}${s.live ? '' : ' (liveness failing)'}`);
  for (const check of s.checks) lines.push(`  [${check.ok ? '+' : '-'}] ${check.name}: ${check.detail}`);
  if (s.lease) {
    const l = s.lease;
    const mac = l.vtepMac ?? l.vtepMacV6;
    // A dual-stack lease: the IPv6 half after the IPv4 one; an IPv6-only lease is named by its IPv6 subnet.
    const ipv6 = l.publicIp !== undefined && l.ipv6Subnet !== undefined ? ` ipv6 ${l.ipv6Subnet} public ${l.publicIpv6 ?? '-'}${l.vtepMacV6 ? ` vtep ${l.vtepMacV6}` : ''}` : '';
    lines.push(
      `lease:      ${l.subnet} public ${l.publicIp ?? l.publicIpv6 ?? '-'} ${l.backendType}${mac ? ` vtep ${mac}` : ''}${ipv6} expires ${l.expiresAt ?? 'never'}`,
    );
  } else {
    lines.push('lease:      none yet');
  }
  if (s.network) lines.push(`network:    ${s.network.network} (subnets /${s.network.subnetLen})`);
  if (s.backend) {
    const addresses = [s.backend.ifaceIp, s.backend.ifaceIpv6].filter((a) => a !== undefined).join(', ');
    lines.push(`backend:    ${s.backend.type} on ${s.backend.iface} (${addresses}), pod MTU ${s.backend.podMtu}`);
  }
  lines.push(`peers:      ${s.peers}`);
  if (s.reconcile) {
    const r = s.reconcile;
    lines.push(
      `reconcile:  ${r.passes} passes, ${r.failures} failures, last ${r.lastPassAt ?? 'never'}, ` +
        `${r.converged ? 'converged' : 'pending'}${r.lastError ? `, last error: ${r.lastError}` : ''}`,
    );
  }
  if (s.probe === undefined) {
    lines.push('probe:      off');
  } else if ('error' in s.probe) {
    lines.push(`probe:      unavailable: ${s.probe.error}`);
  } else {
    const p = s.probe;
    lines.push(`probe:      ${p.probed}/${p.peers} peers probed, loss ${(p.lossRatio * 100).toFixed(1)} %, ${p.broken.length} broken`);
    for (const w of p.worst.slice(0, 5)) {
      const rtt = w.lastRttMs === undefined ? '-' : `${w.lastRttMs.toFixed(3)} ms`;
      lines.push(`  ${w.broken ? 'BROKEN ' : '       '}${w.peer} via ${w.address}: loss ${(w.lossRatio * 100).toFixed(0)} %, rtt ${rtt}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function showStatus(baseUrl: string, json: boolean, io: Output): Promise<number> {
  const status = await fetchStatus(baseUrl, 5000);
  io.out(json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
  return status.ready ? 0 : 1;
}
