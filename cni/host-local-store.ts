// host-local's reservations as its disk store keeps them: <dataDir>/<network>/<ip>, each holding
// "<containerID>\r\n<ifname>" (the container ID alone before plugins 0.9). weft reads them where a
// delegate cannot answer for itself: GC with a delegate from before GC, and STATUS (range full).
import { readdir, readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';

export const HOST_LOCAL_DATA_DIR = '/var/lib/cni/networks';

export interface Reservation {
  ip: string;
  containerId: string;
  /** undefined: a reservation from before host-local recorded the interface. */
  ifname: string | undefined;
}

/** The reservations directory of `network` when `ipam` is host-local's; else undefined. */
export function hostLocalDir(ipam: unknown, network: string): string | undefined {
  const conf = (typeof ipam === 'object' && ipam !== null ? ipam : {}) as Record<string, unknown>;
  if ((conf['type'] ?? 'host-local') !== 'host-local') return undefined;
  return join(typeof conf['dataDir'] === 'string' ? conf['dataDir'] : HOST_LOCAL_DATA_DIR, network);
}

export async function readReservations(dir: string): Promise<Reservation[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => isIP(name) !== 0);
  const read = await Promise.all(names.map(async (ip) => {
    // A file released between readdir and now is simply no longer reserved.
    const text = await readFile(join(dir, ip), 'utf8').catch(() => undefined);
    if (text === undefined) return undefined;
    const [containerId = '', ifname] = text.trim().split(/\r?\n/);
    return { ip, containerId: containerId.trim(), ifname: ifname?.trim() };
  }));
  return read.filter((r): r is Reservation => r !== undefined);
}
