// What a container runtime does with a conflist, for the lab: run each plugin in order with ADD
// (passing prevResult along), and in reverse with DEL, inside a node's namespace with the pod's
// real netns. Plugins come from the lab's own bin dir (weft, installed by weft-cni-install's code)
// and Debian's /usr/lib/cni (bridge, host-local, portmap).
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installPlugin } from '../../cni/install.js';
import type { NetnsScope } from './netns.js';

export const DEBIAN_CNI_DIR = '/usr/lib/cni';
const distDir = fileURLToPath(new URL('../..', import.meta.url));
export const BUNDLED_CONFLIST = fileURLToPath(new URL('../../../cni/10-weft.conflist', import.meta.url));

export interface PluginCall {
  stdout: string;
  code: number;
}

export interface Conflist {
  name: string;
  cniVersion: string;
  plugins: Record<string, unknown>[];
}

/** Installs the plugin into `binDir` (using the host's node) and returns the CNI_PATH to use. */
export async function installLabPlugin(binDir: string, confDir: string): Promise<string> {
  await installPlugin({
    binDir, confDir, conflist: BUNDLED_CONFLIST, confName: '10-weft.conflist', distDir, nodeBinary: undefined, version: 'lab',
  });
  return `${binDir}:${DEBIAN_CNI_DIR}`;
}

export async function readConflist(path: string): Promise<Conflist> {
  return JSON.parse(await readFile(path, 'utf8')) as Conflist;
}

/** Runs one plugin binary inside `nodeNs`; never throws for a plugin failure (see `code`). */
export function callPlugin(nodeNs: string, plugin: string, env: Record<string, string>, stdin: string): Promise<PluginCall> {
  return new Promise((resolve, reject) => {
    const child = execFile('ip', ['netns', 'exec', nodeNs, plugin], { env: { PATH: process.env['PATH'] ?? '', ...env }, timeout: 30_000 }, (err, stdout) => {
      if (err && typeof err.code !== 'number') reject(new Error(err.message));
      else resolve({ stdout, code: err ? Number(err.code) : 0 });
    });
    child.stdin?.end(stdin);
  });
}

export interface Attachment {
  nodeNs: string;
  podNs: string;
  containerId: string;
  ifname: string;
  cniPath: string;
  conflist: Conflist;
  /** Extra keys for the weft plugin's entry (subnetFile, dataDir, ipamDataDir in the lab). */
  weftOverrides: Record<string, unknown>;
}

function pluginPath(cniPath: string, type: string): string {
  const [labBin = ''] = cniPath.split(':');
  return type === 'weft' ? join(labBin, 'weft') : join(DEBIAN_CNI_DIR, type);
}

function envFor(a: Attachment, command: string): Record<string, string> {
  return {
    CNI_COMMAND: command, CNI_CONTAINERID: a.containerId, CNI_NETNS: `/var/run/netns/${a.podNs}`, CNI_IFNAME: a.ifname, CNI_PATH: a.cniPath,
  };
}

function pluginConf(a: Attachment, plugin: Record<string, unknown>, prevResult?: unknown): string {
  const extra = plugin['type'] === 'weft' ? a.weftOverrides : {};
  return JSON.stringify({ ...plugin, ...extra, name: a.conflist.name, cniVersion: a.conflist.cniVersion, ...(prevResult ? { prevResult } : {}) });
}

/** ADD through the whole chain; returns the final result. Throws with the failing plugin's output. */
export async function chainAdd(a: Attachment): Promise<Record<string, unknown>> {
  let result: unknown;
  for (const plugin of a.conflist.plugins) {
    const type = String(plugin['type']);
    const call = await callPlugin(a.nodeNs, pluginPath(a.cniPath, type), envFor(a, 'ADD'), pluginConf(a, plugin, result));
    if (call.code !== 0) throw new Error(`${type} ADD failed (exit ${call.code}): ${call.stdout}`);
    result = JSON.parse(call.stdout);
  }
  return result as Record<string, unknown>;
}

/** DEL through the chain in reverse order. */
export async function chainDel(a: Attachment): Promise<void> {
  for (const plugin of [...a.conflist.plugins].reverse()) {
    const type = String(plugin['type']);
    const call = await callPlugin(a.nodeNs, pluginPath(a.cniPath, type), envFor(a, 'DEL'), pluginConf(a, plugin));
    if (call.code !== 0) throw new Error(`${type} DEL failed (exit ${call.code}): ${call.stdout}`);
  }
}

/** The pod's first IPv4 address from an ADD result. */
/** The addresses (without prefix length) of a CNI result, in its order; throws when there is none. */
export function resultAddresses(result: Record<string, unknown>): string[] {
  const ips = (result['ips'] as { address: string }[] | undefined) ?? [];
  const addresses = ips.map((ip) => ip.address.split('/')[0] ?? '').filter((a) => a !== '');
  if (addresses.length === 0) throw new Error(`no address in CNI result ${JSON.stringify(result)}`);
  return addresses;
}

export interface Pod {
  ns: string;
  id: string;
}

/**
 * One node namespace with the plugin installed in a temp dir, as the CNI integration tests use it:
 * each pod gets its own namespace; every state file lives under `dir`.
 */
export class CniNode {
  readonly cniPath: string;
  readonly plugin: string;
  readonly subnetFile: string;
  readonly dataDir: string;
  readonly ipamDataDir: string;
  private pods = 0;

  private constructor(readonly scope: NetnsScope, readonly dir: string, readonly tag: string, readonly nodeNs: string, readonly network: string) {
    this.cniPath = `${join(dir, 'bin')}:${DEBIAN_CNI_DIR}`;
    this.plugin = join(dir, 'bin', 'weft');
    this.subnetFile = join(dir, 'subnet.env');
    this.dataDir = join(dir, 'data');
    this.ipamDataDir = join(dir, 'ipam');
  }

  /** Makes the node namespace (and a temp dir the scope removes) and installs the plugin there. */
  static async create(scope: NetnsScope, tag: string, subnetEnv: string, network = 'cbr0'): Promise<CniNode> {
    const dir = await mkdtemp(join(tmpdir(), `weft-${tag}-`));
    scope.trackDirectory(dir);
    const node = new CniNode(scope, dir, tag, await scope.createNamespace(tag), network);
    await installLabPlugin(join(dir, 'bin'), join(dir, 'net.d'));
    await writeFile(node.subnetFile, subnetEnv);
    return node;
  }

  conf(extra: Record<string, unknown> = {}): string {
    return JSON.stringify({
      name: this.network, cniVersion: '1.0.0', type: 'weft', subnetFile: this.subnetFile, dataDir: this.dataDir, ipam: { dataDir: this.ipamDataDir }, ...extra,
    });
  }

  async newPod(): Promise<Pod> {
    this.pods += 1;
    const n = this.pods;
    return { ns: await this.scope.createNamespace(`${this.tag}p${n}`), id: `container-${n}` };
  }

  call(command: string, pod: Pod | undefined, stdin: string, env: Record<string, string> = {}): Promise<PluginCall> {
    return callPlugin(this.nodeNs, this.plugin, {
      CNI_COMMAND: command,
      ...(pod ? { CNI_CONTAINERID: pod.id, CNI_NETNS: `/var/run/netns/${pod.ns}`, CNI_IFNAME: 'eth0' } : {}),
      CNI_PATH: this.cniPath,
      ...env,
    }, stdin);
  }

  /** host-local's reservations of this network: "ip -> containerID/ifname". */
  async allocations(): Promise<string[]> {
    const dir = join(this.ipamDataDir, this.network);
    const names = (await readdir(dir).catch(() => [] as string[])).filter((f) => isIP(f) !== 0);
    return Promise.all(names.map(async (ip) => `${ip} -> ${(await readFile(join(dir, ip), 'utf8')).trim().split(/\r?\n/).join('/')}`));
  }

  async savedConfigs(): Promise<string[]> {
    return (await readdir(this.dataDir).catch(() => [] as string[])).filter((f) => !f.startsWith('.')).sort();
  }

  async vethsOnNode(): Promise<string[]> {
    return (await this.scope.exec(this.nodeNs, 'ip', ['-o', 'link', 'show', 'type', 'veth'])).stdout.split('\n').filter((l) => l !== '');
  }
}
