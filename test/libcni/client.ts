// The reference libcni as a container runtime uses it: test/libcni/main.go, built in GOPATH mode
// with Debian's Go 1.19 against a libcni source tree, and run inside a node namespace for one ADD,
// CHECK or DEL of a conflist. Two trees: Debian's golang-github-appc-cni-dev (libcni 1.1.2, spec
// 1.0.0, what Debian's containerd 1.6 is built with) and the copy vendored in Kubernetes 1.20's
// source (libcni 0.8.0, spec 0.4.0, what its kubelet's dockershim runs), which the lab's
// build-kube.sh unpacks.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const GO = '/usr/lib/go-1.19/bin/go';
const SOURCE = fileURLToPath(new URL('../../../test/libcni/main.go', import.meta.url));
const CACHE = '/var/cache/weft/libcni-client';
const KUBE_BUILD = process.env['WEFT_KUBE_BUILD'] ?? '/var/cache/weft/build';

const exec = promisify(execFile);
const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

export interface LibcniSource {
  name: string;
  /** The directory that is github.com/containernetworking/cni. */
  cniDir: string;
  /** How to get it when it is missing. */
  remedy: string;
}

export const DEBIAN_LIBCNI: LibcniSource = {
  name: 'debian',
  cniDir: '/usr/share/gocode/src/github.com/containernetworking/cni',
  remedy: 'apt-get install golang-github-appc-cni-dev golang-1.19-go (test/setup.sh does)',
};

/** Kubernetes 1.20's vendored libcni, from the tree test/lab/build-kube.sh unpacked. */
export async function kubeletLibcni(): Promise<LibcniSource> {
  const tree = (await readdir(KUBE_BUILD).catch(() => [] as string[])).find((name) => /^kubernetes-[\d.]+/.test(name)) ?? 'kubernetes-(none)';
  return {
    name: 'kubelet-1.20',
    cniDir: join(KUBE_BUILD, tree, 'vendor/github.com/containernetworking/cni'),
    remedy: 'run test/lab/build-kube.sh (it unpacks the Kubernetes 1.20 source there)',
  };
}

/** Builds the client once per source (ours and libcni's); returns the binary's path. */
export async function buildLibcniClient(source: LibcniSource = DEBIAN_LIBCNI): Promise<string> {
  const api = join(source.cniDir, 'libcni/api.go');
  if (!(await exists(api))) throw new Error(`${api} is missing: ${source.remedy}`);
  const hash = createHash('sha256').update(await readFile(SOURCE)).update(await readFile(api)).digest('hex').slice(0, 16);
  const binary = join(CACHE, `weft-libcni-client-${source.name}-${hash}`);
  if (await exists(binary)) return binary;
  // A GOPATH of its own holding only this libcni tree.
  const gopath = join(CACHE, `gopath-${source.name}-${hash}`);
  const link = join(gopath, 'src/github.com/containernetworking/cni');
  await mkdir(join(gopath, 'src/github.com/containernetworking'), { recursive: true });
  if (!(await exists(link))) await symlink(source.cniDir, link);
  const temp = `${binary}.${process.pid}.tmp`;
  await exec(GO, ['build', '-o', temp, SOURCE], {
    env: { PATH: process.env['PATH'] ?? '', HOME: CACHE, GO111MODULE: 'off', GOPATH: gopath, GOFLAGS: '', GOCACHE: join(CACHE, 'go-build'), CGO_ENABLED: '0' },
    timeout: 300_000,
  }).catch(async (err: unknown) => {
    await rm(temp, { force: true });
    throw err;
  });
  await rename(temp, binary);
  return binary;
}

/** The spec versions this libcni speaks. */
export async function libcniVersions(client: string): Promise<string[]> {
  const { stdout } = await exec(client, ['version']);
  return (JSON.parse(stdout) as { supported: string[] }).supported;
}

export interface LibcniCall {
  code: number;
  stdout: string;
  stderr: string;
  /** Wall time of the client process. */
  ms: number;
}

export interface LibcniRequest {
  nodeNs: string;
  conflist: string;
  containerId: string;
  podNs: string;
  ifname: string;
  /** Plugin directories, colon-separated. */
  cniPath: string;
  /** libcni's cache (never the host's /var/lib/cni). */
  cacheDir: string;
}

/** One libcni operation inside the node namespace; resolves whatever its exit code. */
export function runLibcni(client: string, op: 'add' | 'check' | 'del', r: LibcniRequest): Promise<LibcniCall> {
  const args = ['netns', 'exec', r.nodeNs, client, op, r.conflist, r.containerId, `/var/run/netns/${r.podNs}`, r.ifname];
  const env = { PATH: process.env['PATH'] ?? '', CNI_PATH: r.cniPath, WEFT_LIBCNI_CACHE: r.cacheDir };
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile('ip', args, { env, timeout: 60_000 }, (err, stdout, stderr) => {
      const ms = performance.now() - started;
      if (err && typeof err.code !== 'number') reject(new Error(`libcni ${op}: ${err.message}`));
      else resolve({ code: err ? Number(err.code) : 0, stdout, stderr, ms });
    });
  });
}
