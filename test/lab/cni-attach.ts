// Attaches one pod namespace to a node namespace through the weft plugin alone (no portmap), the
// way a runtime calls the first plugin of the bundled conflist: `ip netns exec <node> node
// weft-cni.cjs` with the CNI_* variables and the conflist's weft entry as the network config.
// Every state file (saved delegate configs, host-local's allocations) lives under the caller's
// directories, so nothing is written to /var/lib/cni on the host. The bridge (cni0) is made in the
// node namespace: never pass the host's namespace as nodeNs.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const DEBIAN_CNI_DIR = '/usr/lib/cni';
/** The plugin's bundle of this build (dist/plugin/weft-cni.cjs), as weft-cni-install ships it. */
export const DEFAULT_PLUGIN_PATH = fileURLToPath(new URL('../../plugin/weft-cni.cjs', import.meta.url));
const BUNDLED_CONFLIST = fileURLToPath(new URL('../../../cni/10-weft.conflist', import.meta.url));

export interface CniAttachOptions {
  /** Namespace standing for the node (bridge cni0 goes here). */
  nodeNs: string;
  /** The pod's namespace (eth0 goes here); passed as CNI_NETNS=/var/run/netns/<podNs>. */
  podNs: string;
  containerId: string;
  /** Default eth0. */
  ifname?: string;
  subnetFile: string;
  /** Per-run state: the plugin's saved configs go to <dataDir>/weft, host-local's to <dataDir>/ipam. */
  dataDir: string;
  /** Default: the shipped conflist's (0.4.0). */
  cniVersion?: string;
  /** The plugin file to run with node; default: this build's bundle. */
  pluginPath?: string;
  /** A directory holding the installed `weft` launcher, put first on CNI_PATH (optional). */
  cniBinDir?: string;
}

export interface CniAttachment {
  /** The plugin's ADD result, parsed. */
  result: unknown;
  /** The pod's first IPv4 address, without prefix length. */
  ip: string;
}

/** A plugin failure: the CNI error document the plugin printed, and its exit code. */
export class CniCallError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`weft CNI ${command} failed (exit ${exitCode}): ${stdout.trim() || stderr.trim()}`);
  }
}

interface WeftEntry {
  [key: string]: unknown;
  type: string;
}

function bundledWeftEntry(): { name: string; cniVersion: string; entry: WeftEntry } {
  const conflist = JSON.parse(readFileSync(BUNDLED_CONFLIST, 'utf8')) as { name: string; cniVersion: string; plugins: WeftEntry[] };
  const entry = conflist.plugins.find((p) => p.type === 'weft');
  if (!entry) throw new Error(`${BUNDLED_CONFLIST} has no weft plugin`);
  return { name: conflist.name, cniVersion: conflist.cniVersion, entry };
}

/** The net conf the runtime would give the weft plugin: its conflist entry with name and cniVersion. */
export function weftNetConf(opts: CniAttachOptions): Record<string, unknown> {
  const { name, cniVersion, entry } = bundledWeftEntry();
  return {
    ...entry,
    name,
    cniVersion: opts.cniVersion ?? cniVersion,
    subnetFile: opts.subnetFile,
    dataDir: join(opts.dataDir, 'weft'),
    ipam: { dataDir: join(opts.dataDir, 'ipam') },
  };
}

function callWeft(command: string, opts: CniAttachOptions): Promise<string> {
  const env = {
    PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
    CNI_COMMAND: command,
    CNI_CONTAINERID: opts.containerId,
    CNI_NETNS: `/var/run/netns/${opts.podNs}`,
    CNI_IFNAME: opts.ifname ?? 'eth0',
    CNI_PATH: [opts.cniBinDir, DEBIAN_CNI_DIR].filter((d) => d !== undefined).join(':'),
  };
  const args = ['netns', 'exec', opts.nodeNs, process.execPath, opts.pluginPath ?? DEFAULT_PLUGIN_PATH];
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, { env, timeout: 30_000 }, (err, stdout, stderr) => {
      if (!err) resolve(stdout);
      else if (typeof err.code === 'number') reject(new CniCallError(command, err.code, stdout, stderr));
      else reject(new Error(`running the weft plugin in ${opts.nodeNs}: ${err.message}`));
    });
    child.stdin?.end(JSON.stringify(weftNetConf(opts)));
  });
}

function firstIpv4(result: unknown): string {
  const r = result as { ips?: { address?: string }[]; ip4?: { ip?: string } };
  const address = r.ips?.map((i) => i.address).find((a) => a !== undefined && !a.includes(':')) ?? r.ip4?.ip;
  if (address === undefined) throw new Error(`no IPv4 address in CNI result ${JSON.stringify(result)}`);
  return address.split('/')[0] ?? '';
}

/** CNI ADD of the pod; throws CniCallError with the plugin's error document on failure. */
export async function attachPodWithCni(opts: CniAttachOptions): Promise<CniAttachment> {
  const result: unknown = JSON.parse(await callWeft('ADD', opts));
  return { result, ip: firstIpv4(result) };
}

/** CNI DEL of the pod (succeeds when it was never attached); throws CniCallError on failure. */
export async function detachPodWithCni(opts: CniAttachOptions): Promise<void> {
  await callWeft('DEL', opts);
}
