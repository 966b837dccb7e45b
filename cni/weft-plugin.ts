// The weft CNI plugin: one call of the runtime (CNI_COMMAND + stdin) in, one stdout document and
// an exit code out. ADD builds the delegate config from subnet.env, saves it, and hands over to
// bridge + host-local; DEL replays the saved config. Logs go nowhere near stdout.
import { CniCode, CniError } from './cni-error.js';
import { LATEST_VERSION, SUPPORTED_VERSIONS, delegateVersion, hasCheck, hasStatusAndGc } from './cni-versions.js';
import { runDelegate, type DelegateRunner } from './delegate.js';
import { convertResult, parseAndConvertResult } from './cni-result.js';
import { buildDelegateConfig, parsePluginConfig, type PluginConfig } from './plugin-config.js';
import { loadConfig, removeConfig, saveConfig, savedContainerIds } from './saved-config.js';
import { readSubnetEnv } from './subnet-env-file.js';

export interface PluginOutput {
  stdout: string;
  exitCode: number;
}

type Env = NodeJS.ProcessEnv;

/** What the plugin does to the outside world besides its own files; tests pass a fake. */
export interface PluginDeps {
  runDelegate: DelegateRunner;
}

const realDeps: PluginDeps = { runDelegate };

const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export async function runPlugin(env: Env, stdin: string, deps: PluginDeps = realDeps): Promise<PluginOutput> {
  let cniVersion = LATEST_VERSION;
  try {
    const command = env['CNI_COMMAND'] ?? '';
    if (command === 'VERSION') return { stdout: versionInfo(stdin), exitCode: 0 };
    if (!['ADD', 'DEL', 'CHECK', 'STATUS', 'GC'].includes(command)) {
      throw new CniError(CniCode.invalidEnvironment, `CNI_COMMAND "${command}" is not one of ADD, DEL, CHECK, VERSION, STATUS, GC`);
    }
    const conf = parsePluginConfig(stdin);
    cniVersion = conf.cniVersion;
    switch (command) {
      case 'ADD':
        return { stdout: await add(conf, env, deps), exitCode: 0 };
      case 'DEL':
        await del(conf, env, deps);
        return { stdout: '', exitCode: 0 };
      case 'CHECK':
        await check(conf, env, stdin, deps);
        return { stdout: '', exitCode: 0 };
      case 'STATUS':
        requireVersionWith(conf, 'STATUS');
        await readSubnetEnv(conf.subnetFile).catch((err: unknown) => {
          throw new CniError(CniCode.pluginNotAvailable, (err as Error).message, (err as CniError).details);
        });
        return { stdout: '', exitCode: 0 };
      default:
        requireVersionWith(conf, 'GC');
        await garbageCollect(conf, env, stdin, deps);
        return { stdout: '', exitCode: 0 };
    }
  } catch (err) {
    const failure = err instanceof CniError ? err : new CniError(CniCode.ioFailure, (err as Error).message);
    return { stdout: failure.toJson(cniVersion), exitCode: 1 };
  }
}

function versionInfo(stdin: string): string {
  let requested: unknown;
  try {
    requested = (JSON.parse(stdin || '{}') as { cniVersion?: unknown }).cniVersion;
  } catch {
    requested = undefined;
  }
  const cniVersion = typeof requested === 'string' && requested !== '' ? requested : LATEST_VERSION;
  return JSON.stringify({ cniVersion, supportedVersions: SUPPORTED_VERSIONS });
}

function requireEnv(env: Env, names: string[]): void {
  for (const name of names) {
    if (!env[name]) throw new CniError(CniCode.invalidEnvironment, `${name} is not set`, 'the container runtime sets it for every call');
  }
  const id = env['CNI_CONTAINERID'];
  if (id !== undefined && !CONTAINER_ID.test(id)) {
    throw new CniError(CniCode.invalidEnvironment, `CNI_CONTAINERID "${id}" has characters outside [A-Za-z0-9_.-]`);
  }
}

function requireVersionWith(conf: PluginConfig, command: string): void {
  const ok = command === 'CHECK' ? hasCheck(conf.cniVersion) : hasStatusAndGc(conf.cniVersion);
  if (!ok) throw new CniError(CniCode.incompatibleVersion, `${command} does not exist in cniVersion ${conf.cniVersion}`);
}

async function add(conf: PluginConfig, env: Env, deps: PluginDeps): Promise<string> {
  requireEnv(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']);
  const containerId = env['CNI_CONTAINERID'] ?? '';
  const subnetEnv = await readSubnetEnv(conf.subnetFile);
  const delegate = buildDelegateConfig(conf, subnetEnv, delegateVersion(conf.cniVersion));
  await saveConfig(conf.dataDir, containerId, delegate);
  try {
    return JSON.stringify(parseAndConvertResult(await deps.runDelegate('ADD', delegate, env), conf.cniVersion));
  } catch (err) {
    // Leave nothing behind: undo whatever the delegate did, then forget the config.
    await deps.runDelegate('DEL', delegate, env).catch(() => undefined);
    await removeConfig(conf.dataDir, containerId);
    throw err;
  }
}

async function del(conf: PluginConfig, env: Env, deps: PluginDeps): Promise<void> {
  requireEnv(env, ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH']);
  const containerId = env['CNI_CONTAINERID'] ?? '';
  const saved = await loadConfig(conf.dataDir, containerId);
  if (!saved) return; // never added, or already deleted: DEL must succeed
  await deps.runDelegate('DEL', saved, env);
  await removeConfig(conf.dataDir, containerId);
}

async function check(conf: PluginConfig, env: Env, stdin: string, deps: PluginDeps): Promise<void> {
  requireVersionWith(conf, 'CHECK');
  requireEnv(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']);
  const containerId = env['CNI_CONTAINERID'] ?? '';
  const saved = await loadConfig(conf.dataDir, containerId);
  if (!saved) throw new CniError(CniCode.unknownContainer, `no saved config for container ${containerId}`, 'it was never added on this node');
  const prevResult = (JSON.parse(stdin) as { prevResult?: unknown }).prevResult;
  // The delegate speaks the version it was added with (1.0.0 for a 1.1.0 runtime): convert to match.
  const delegatePrev = prevResult === undefined ? undefined : convertResult(prevResult, String(saved['cniVersion']));
  await deps.runDelegate('CHECK', delegatePrev ? { ...saved, prevResult: delegatePrev } : saved, env);
}

/** GC: DEL every saved attachment the runtime no longer lists as valid. */
async function garbageCollect(conf: PluginConfig, env: Env, stdin: string, deps: PluginDeps): Promise<void> {
  requireEnv(env, ['CNI_PATH']);
  const valid = (JSON.parse(stdin) as { 'cni.dev/valid-attachments'?: { containerID?: string }[] })['cni.dev/valid-attachments'] ?? [];
  const keep = new Set(valid.map((a) => a.containerID));
  for (const containerId of await savedContainerIds(conf.dataDir)) {
    if (keep.has(containerId)) continue;
    const saved = await loadConfig(conf.dataDir, containerId);
    if (saved) await deps.runDelegate('DEL', saved, env, { CNI_CONTAINERID: containerId, CNI_IFNAME: env['CNI_IFNAME'] ?? 'eth0' });
    await removeConfig(conf.dataDir, containerId);
  }
}
