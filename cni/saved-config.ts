// The delegate config of each container, kept under dataDir/<containerID> (0600, as flannel does)
// from just before ADD until DEL, so DEL replays exactly what ADD used even if subnet.env changed.
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CniCode, CniError } from './cni-error.js';

export async function saveConfig(dataDir: string, containerId: string, config: Record<string, unknown>): Promise<void> {
  try {
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const path = join(dataDir, containerId);
    const temp = join(dataDir, `.${containerId}.tmp`);
    await writeFile(temp, JSON.stringify(config), { mode: 0o600 });
    await rename(temp, path);
  } catch (err) {
    throw new CniError(CniCode.ioFailure, `saving the delegate config under ${dataDir}: ${(err as Error).message}`);
  }
}

/** The saved config, or undefined when this container has none. */
export async function loadConfig(dataDir: string, containerId: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(join(dataDir, containerId), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CniError(CniCode.ioFailure, `reading the saved config of ${containerId}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new CniError(CniCode.decodingFailure, `${join(dataDir, containerId)} is not JSON`, 'delete the file; DEL then succeeds');
  }
}

export async function removeConfig(dataDir: string, containerId: string): Promise<void> {
  await rm(join(dataDir, containerId), { force: true });
}

export async function savedContainerIds(dataDir: string): Promise<string[]> {
  const names = await readdir(dataDir).catch(() => []);
  return names.filter((n) => !n.startsWith('.'));
}
