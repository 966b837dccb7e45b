// GC (spec 1.1.0): release every attachment the runtime no longer lists in
// "cni.dev/valid-attachments" (container ID + interface name), carry on past any failure, and
// answer with what could not be released. Saved configs go first; then the delegate collects its
// own leftovers: with GC where it speaks 1.1.0, else (Debian's plugins stop at 1.0.0) by a DEL for
// each host-local reservation that no valid attachment holds, saved config or not.
import { CniCode, CniError } from './cni-error.js';
import { delegateSpeaks, type DelegateRunner } from './delegate.js';
import { hostLocalDir, readReservations } from './host-local-store.js';
import { currentDelegateConfig, type PluginConfig } from './plugin-config.js';
import { listSaved, readEntry, removeSaved, type SavedEntry } from './saved-config.js';
import { delegateVersion, LATEST_VERSION } from './cni-versions.js';

type Json = Record<string, unknown>;

/** The interface a flannel-era file or reservation most likely belongs to (it did not record one). */
const LEGACY_IFNAME = 'eth0';

interface ValidAttachments {
  list: Json[];
  /** ifname undefined: any interface of the container counts. */
  has(containerId: string, ifname: string | undefined): boolean;
}

function validAttachments(stdin: string): ValidAttachments {
  const raw = (JSON.parse(stdin) as Json)['cni.dev/valid-attachments'] ?? [];
  const bad = (): CniError => new CniError(CniCode.invalidConfig, '"cni.dev/valid-attachments" must be a list of {"containerID", "ifname"}');
  if (!Array.isArray(raw)) throw bad();
  const pairs = new Set<string>();
  const containers = new Set<string>();
  for (const entry of raw as unknown[]) {
    const { containerID, ifname } = (entry ?? {}) as Json;
    if (typeof containerID !== 'string' || typeof ifname !== 'string') throw bad();
    pairs.add(`${containerID}\n${ifname}`);
    containers.add(containerID);
  }
  return {
    list: raw as Json[],
    has: (containerId, ifname) => (ifname === undefined ? containers.has(containerId) : pairs.has(`${containerId}\n${ifname}`)),
  };
}

/** DEL overrides for an attachment whose sandbox the runtime has already removed. */
const gone = (containerId: string, ifname: string | undefined): Record<string, string> =>
  ({ CNI_CONTAINERID: containerId, CNI_IFNAME: ifname ?? LEGACY_IFNAME, CNI_NETNS: '' });

const message = (err: unknown): string => (err as Error).message;

export async function garbageCollect(conf: PluginConfig, env: NodeJS.ProcessEnv, stdin: string, run: DelegateRunner): Promise<void> {
  const valid = validAttachments(stdin);
  const failures: string[] = [];
  // Built once, and only if something needs it (it reads subnet.env).
  let rebuilt: Json | undefined;
  const rebuild = async (): Promise<Json> => Promise.resolve(rebuilt ??= currentDelegateConfig(conf, delegateVersion(conf.cniVersion)));

  const release = async (entry: SavedEntry): Promise<void> => {
    const saved = readEntry(entry);
    if (saved.kind === 'none') return;
    const config = saved.kind === 'found' ? saved.config : await rebuild();
    await run('DEL', config, env, gone(entry.containerId, entry.ifname));
    removeSaved(entry.path);
  };
  for (const entry of listSaved(conf.dataDir)) {
    if (valid.has(entry.containerId, entry.ifname)) continue;
    await release(entry).catch((err: unknown) => { failures.push(`${entry.path}: ${message(err)}`); });
  }

  const type = typeof conf.delegate['type'] === 'string' ? conf.delegate['type'] : 'bridge';
  if (await delegateSpeaks(run, type, env, LATEST_VERSION)) {
    await rebuild()
      .then((delegate) => run('GC', { ...delegate, cniVersion: LATEST_VERSION, 'cni.dev/valid-attachments': valid.list }, env))
      .catch((err: unknown) => { failures.push(`${type} GC: ${message(err)}`); });
  } else {
    const dir = hostLocalDir({ type: 'host-local', ...conf.ipam }, conf.name);
    for (const r of dir === undefined ? [] : await readReservations(dir)) {
      if (valid.has(r.containerId, r.ifname)) continue;
      await rebuild()
        .then((delegate) => run('DEL', delegate, env, gone(r.containerId, r.ifname)))
        .catch((err: unknown) => { failures.push(`${r.ip} (container ${r.containerId}): ${message(err)}`); });
    }
  }

  if (failures.length > 0) {
    throw new CniError(CniCode.ioFailure, `GC released what it could but not: ${failures.join('; ')}`, 'the runtime calls GC again; remove by hand what stays');
  }
}
