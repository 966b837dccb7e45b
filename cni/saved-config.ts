// The delegate config of each attachment, kept from just before ADD until DEL (0600, as flannel
// does), so DEL replays exactly what ADD used even if subnet.env changed. The spec identifies an
// attachment by container ID and interface name, so the file is dataDir/<containerID>:<ifname>
// (":" is in neither). flannel's plugin, and weft before it, wrote dataDir/<containerID>: those
// files are still found (for any interface of that container) and deleted, so an upgrade leaks
// nothing. Synchronous, as everything on the plugin's path (see cni/delegate.ts).
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniCode, CniError } from './cni-error.js';

type Json = Record<string, unknown>;

export interface Attachment {
  containerId: string;
  ifname: string;
}

export type SavedConfig =
  | { kind: 'none' }
  | { kind: 'found'; path: string; config: Json }
  /** Present but unusable: not JSON, or not readable at all. */
  | { kind: 'broken'; path: string; reason: string };

/** A file in dataDir and the attachment it belongs to (ifname undefined: flannel's file). */
export interface SavedEntry {
  path: string;
  containerId: string;
  ifname: string | undefined;
}

const fileName = (a: Attachment): string => `${a.containerId}:${a.ifname}`;

/** Returns the path written. */
export function saveConfig(dataDir: string, attachment: Attachment, config: Json): string {
  const path = join(dataDir, fileName(attachment));
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const temp = join(dataDir, `.${fileName(attachment)}.tmp`);
    writeFileSync(temp, JSON.stringify(config), { mode: 0o600 });
    renameSync(temp, path);
    return path;
  } catch (err) {
    throw new CniError(CniCode.ioFailure, `saving the delegate config under ${dataDir}: ${(err as Error).message}`);
  }
}

function readSaved(path: string): SavedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'none' };
    return { kind: 'broken', path, reason: `${path} cannot be read: ${(err as Error).message}` };
  }
  try {
    const config: unknown = JSON.parse(text);
    if (typeof config === 'object' && config !== null && !Array.isArray(config)) return { kind: 'found', path, config: config as Json };
  } catch {
    // reported below
  }
  return { kind: 'broken', path, reason: `${path} is not a JSON object` };
}

/** The attachment's saved config; else flannel's file of its container; else none. */
export function findSaved(dataDir: string, attachment: Attachment): SavedConfig {
  const own = readSaved(join(dataDir, fileName(attachment)));
  return own.kind === 'none' ? readSaved(join(dataDir, attachment.containerId)) : own;
}

export function readEntry(entry: SavedEntry): SavedConfig {
  return readSaved(entry.path);
}

export function removeSaved(path: string): void {
  rmSync(path, { force: true });
}

/** Every saved config in dataDir (temporary files left out). */
export function listSaved(dataDir: string): SavedEntry[] {
  let names: string[];
  try {
    names = readdirSync(dataDir);
  } catch {
    return []; // nothing saved yet
  }
  return names.filter((n) => !n.startsWith('.')).map((name) => {
    const split = name.indexOf(':');
    return split < 0
      ? { path: join(dataDir, name), containerId: name, ifname: undefined }
      : { path: join(dataDir, name), containerId: name.slice(0, split), ifname: name.slice(split + 1) };
  });
}
