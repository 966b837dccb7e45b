// How weftctl shows leases: aligned tables for people, JSON for scripts. Pure functions.
import { leaseHalf, leaseSubnet, type Lease } from '../subnet/lease.js';

/** A lease as listed, with what the store adds: its expiry (etcd) or its node (kube). */
export interface LeaseRow {
  lease: Lease;
  /** etcd: undefined for a reservation (never expires); kube mode has no expiry. */
  expiresAt?: Date | undefined;
  reservation?: boolean | undefined;
  node?: string | undefined;
}

export type StoreKind = 'etcd' | 'kube';

/**
 * `subnet` names the lease, as the SUBNET column does (its IPv4 subnet, else its IPv6 subnet); the
 * other fields are those of each half it has: IPv4 (publicIp, vni, vtepMac), IPv6 (ipv6Subnet ...).
 */
export interface LeaseJson {
  subnet: string;
  publicIp?: string;
  backendType: string;
  vni?: number;
  vtepMac?: string;
  ipv6Subnet?: string;
  publicIpv6?: string;
  vniV6?: number;
  vtepMacV6?: string;
  expiresAt?: string | null;
  node?: string;
}

/** Columns padded to the widest cell, two spaces apart, no trailing blanks. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}

export function leaseHeaders(kind: StoreKind): string[] {
  return ['SUBNET', 'PUBLIC-IP', 'BACKEND', 'VTEP-MAC', kind === 'etcd' ? 'EXPIRES' : 'NODE'];
}

/** A row shows the half the lease is named by: IPv4, else (an IPv6-only lease) IPv6; --json has both. */
export function leaseCells(row: LeaseRow, kind: StoreKind): string[] {
  const { lease } = row;
  const last = kind === 'etcd' ? formatExpiry(row) : (row.node ?? '-');
  const shown = leaseHalf(lease, lease.subnet ? 'ipv4' : 'ipv6');
  return [leaseSubnet(lease).toString(), shown?.publicIp?.toString() ?? '-', lease.backendType, shown?.backendData?.vtepMac ?? '-', last];
}

function formatExpiry(row: LeaseRow): string {
  if (row.reservation) return 'never (reservation)';
  return row.expiresAt ? row.expiresAt.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

export function leaseTable(rows: readonly LeaseRow[], kind: StoreKind): string {
  return formatTable(leaseHeaders(kind), sortRows(rows).map((r) => leaseCells(r, kind)));
}

export function leaseJson(row: LeaseRow, kind: StoreKind): LeaseJson {
  const { lease } = row;
  const json: LeaseJson = {
    subnet: leaseSubnet(lease).toString(),
    ...(lease.publicIp && { publicIp: lease.publicIp.toString() }),
    backendType: lease.backendType,
  };
  if (lease.backendData) {
    json.vni = lease.backendData.vni;
    json.vtepMac = lease.backendData.vtepMac;
  }
  if (lease.ipv6Subnet) json.ipv6Subnet = lease.ipv6Subnet.toString();
  if (lease.publicIpv6) json.publicIpv6 = lease.publicIpv6.toString();
  if (lease.backendV6Data) {
    json.vniV6 = lease.backendV6Data.vni;
    json.vtepMacV6 = lease.backendV6Data.vtepMac;
  }
  if (kind === 'etcd') json.expiresAt = row.reservation ? null : (row.expiresAt?.toISOString() ?? null);
  if (kind === 'kube' && row.node !== undefined) json.node = row.node;
  return json;
}

export type LeaseChange = { type: 'added' | 'removed'; row: LeaseRow };

/** One line per change: JSON ({"type":..., "lease":{...}}) or a table-like line prefixed with the change. */
export function formatChange(change: LeaseChange, kind: StoreKind, json: boolean): string {
  if (json) return `${JSON.stringify({ type: change.type, lease: leaseJson(change.row, kind) })}\n`;
  const cells = leaseCells(change.row, kind);
  if (kind === 'etcd') cells.pop(); // a watch event does not carry the etcd lease's expiry
  return `${change.type === 'added' ? 'ADDED  ' : 'REMOVED'}  ${cells.join('  ')}\n`;
}

export function sortRows(rows: readonly LeaseRow[]): LeaseRow[] {
  const order = (a: LeaseRow, b: LeaseRow): number => {
    const [x, y] = [leaseSubnet(a.lease), leaseSubnet(b.lease)];
    return x.address.compare(y.address) || x.prefixLength - y.prefixLength; // IPv4 leases before IPv6-only ones
  };
  return [...rows].sort(order);
}
