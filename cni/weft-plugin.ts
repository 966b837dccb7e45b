// The weft CNI plugin: one call of the runtime (CNI_COMMAND + stdin) in, one stdout document and
// an exit code out. ADD builds the delegate config from subnet.env, saves it for the attachment
// (container ID + interface name), and hands over to bridge + host-local; DEL replays the saved
// config. Logs go nowhere near stdout.
import { CniCode, CniError } from './cni-error.js';
import { LATEST_VERSION, SUPPORTED_VERSIONS, delegateVersion, hasCheck, hasStatusAndGc } from './cni-versions.js';
import { runDelegate, type DelegateRunner } from './delegate.js';
import { convertResult, parseAndConvertResult } from './cni-result.js';
import { garbageCollect } from './gc.js';
import { currentDelegateConfig, parsePluginConfig, type PluginConfig } from './plugin-config.js';
import { findSaved, removeSaved, saveConfig, type Attachment } from './saved-config.js';
import { status } from './status.js';

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
const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC'];

export async function runPlugin(env: Env, stdin: string, deps: PluginDeps = realDeps): Promise<PluginOutput> {
  // Errors are answered in the request's version wherever it can be read, even before parsing.
  let cniVersion = requestedVersion(stdin);
  try {
    const command = env['CNI_COMMAND'] ?? '';
    if (command === 'VERSION') return { stdout: versionInfo(stdin), exitCode: 0 };
    if (!COMMANDS.includes(command)) {
      throw new CniError(CniCode.invalidEnvironment, `CNI_COMMAND "${command}" is not one of ADD, DEL, CHECK, VERSION, STATUS, GC`);
    }
    const conf = parsePluginConfig(stdin);
    cniVersion = conf.cniVersion;
    return { stdout: await dispatch(command, conf, env, stdin, deps), exitCode: 0 };
  } catch (err) {
    const failure = err instanceof CniError ? err : new CniError(CniCode.ioFailure, (err as Error).message);
    return { stdout: failure.toJson(cniVersion), exitCode: 1 };
  }
}

async function dispatch(command: string, conf: PluginConfig, env: Env, stdin: string, deps: PluginDeps): Promise<string> {
  switch (command) {
    case 'ADD':
      return add(conf, env, deps);
    case 'DEL':
      await del(conf, env, deps);
      return '';
    case 'CHECK':
      await check(conf, env, stdin, deps);
      return '';
    case 'STATUS':
      requireVersionWith(conf, 'STATUS');
      await status(conf, env, deps.runDelegate);
      return '';
    default:
      requireVersionWith(conf, 'GC');
      requireEnv(env, ['CNI_PATH']);
      await garbageCollect(conf, env, stdin, deps.runDelegate);
      return '';
  }
}

/** The request's cniVersion if it is one weft speaks (none given: 0.1.0, as the skel reads it). */
function requestedVersion(stdin: string): string {
  try {
    const requested = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    if (requested === undefined || requested === '') return '0.1.0';
    if ((SUPPORTED_VERSIONS as readonly unknown[]).includes(requested)) return requested as string;
  } catch {
    // not JSON (or not an object): nothing to read the version from
  }
  return LATEST_VERSION;
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
  const ifname = env['CNI_IFNAME'];
  // Linux's (and libcni's) rules for an interface name; it also names the saved config file.
  if (ifname && (ifname.length > 15 || ifname === '.' || ifname === '..' || /[/:\s]/.test(ifname))) {
    throw new CniError(CniCode.invalidEnvironment, `CNI_IFNAME "${ifname}" is not an interface name`, 'at most 15 characters, none of "/", ":" or spaces');
  }
}

function attachmentOf(env: Env): Attachment {
  return { containerId: env['CNI_CONTAINERID'] ?? '', ifname: env['CNI_IFNAME'] ?? '' };
}

function requireVersionWith(conf: PluginConfig, command: string): void {
  const ok = command === 'CHECK' ? hasCheck(conf.cniVersion) : hasStatusAndGc(conf.cniVersion);
  if (!ok) throw new CniError(CniCode.incompatibleVersion, `${command} does not exist in cniVersion ${conf.cniVersion}`);
}

async function add(conf: PluginConfig, env: Env, deps: PluginDeps): Promise<string> {
  requireEnv(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']);
  const attachment = attachmentOf(env);
  const delegate = currentDelegateConfig(conf, delegateVersion(conf.cniVersion));
  const savedPath = saveConfig(conf.dataDir, attachment, delegate);
  try {
    return JSON.stringify(parseAndConvertResult(await deps.runDelegate('ADD', delegate, env), conf.cniVersion));
  } catch (err) {
    // Leave nothing behind: undo whatever the delegate did, then forget the config.
    await deps.runDelegate('DEL', delegate, env).catch(() => undefined);
    removeSaved(savedPath);
    throw err;
  }
}

async function del(conf: PluginConfig, env: Env, deps: PluginDeps): Promise<void> {
  requireEnv(env, ['CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH']);
  const saved = findSaved(conf.dataDir, attachmentOf(env));
  if (saved.kind === 'none') return; // never added, or already deleted: DEL must succeed
  // A broken file must not block DEL for ever (and deleting it by hand would leak the veth and the
  // address): release with the config ADD would build now, which differs only if subnet.env changed.
  const config = saved.kind === 'found' ? saved.config : rebuildFor(saved.reason, conf);
  await deps.runDelegate('DEL', config, env);
  removeSaved(saved.path);
}

function rebuildFor(reason: string, conf: PluginConfig): Record<string, unknown> {
  try {
    return currentDelegateConfig(conf, delegateVersion(conf.cniVersion));
  } catch (err) {
    throw new CniError(CniCode.decodingFailure, `${reason}, and no config can be rebuilt: ${(err as Error).message}`, (err as CniError).details);
  }
}

async function check(conf: PluginConfig, env: Env, stdin: string, deps: PluginDeps): Promise<void> {
  requireVersionWith(conf, 'CHECK');
  requireEnv(env, ['CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH']);
  const saved = findSaved(conf.dataDir, attachmentOf(env));
  if (saved.kind === 'none') {
    throw new CniError(CniCode.unknownContainer, `no saved config for container ${env['CNI_CONTAINERID'] ?? ''} interface ${env['CNI_IFNAME'] ?? ''}`, 'it was never added on this node');
  }
  if (saved.kind === 'broken') throw new CniError(CniCode.decodingFailure, saved.reason, 'DEL still releases the attachment');
  const prevResult = (JSON.parse(stdin) as { prevResult?: unknown }).prevResult;
  // The delegate speaks the version it was added with (1.0.0 for a 1.1.0 runtime): convert to match.
  const delegatePrev = prevResult === undefined ? undefined : convertResult(prevResult, String(saved.config['cniVersion']));
  await deps.runDelegate('CHECK', delegatePrev ? { ...saved.config, prevResult: delegatePrev } : saved.config, env);
}
