// How weftctl shows leases: aligned tables for people, JSON for scripts. Pure functions.
import type { Lease } from '../subnet/lease.js';

/** A lease as listed, with what the store adds: its expiry (etcd) or its node (kube). */
export interface LeaseRow {
  lease: Lease;
  /** etcd: undefined for a reservation (never expires); kube mode has no expiry. */
  expiresAt?: Date | undefined;
  reservation?: boolean | undefined;
  node?: string | undefined;
}

export type StoreKind = 'etcd' | 'kube';

export interface LeaseJson {
  subnet: string;
  publicIp: string;
  backendType: string;
  vni?: number;
  vtepMac?: string;
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

export function leaseCells(row: LeaseRow, kind: StoreKind): string[] {
  const { lease } = row;
  const last = kind === 'etcd' ? formatExpiry(row) : (row.node ?? '-');
  return [lease.subnet.toString(), lease.publicIp.toString(), lease.backendType, lease.backendData?.vtepMac ?? '-', last];
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
  const json: LeaseJson = { subnet: lease.subnet.toString(), publicIp: lease.publicIp.toString(), backendType: lease.backendType };
  if (lease.backendData) {
    json.vni = lease.backendData.vni;
    json.vtepMac = lease.backendData.vtepMac;
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
  return [...rows].sort((a, b) => a.lease.subnet.address.compare(b.lease.subnet.address) || a.lease.subnet.prefixLength - b.lease.subnet.prefixLength);
}
