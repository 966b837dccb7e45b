// The reference libcni as a container runtime uses it: test/libcni/main.go, built in GOPATH mode
// against Debian's golang-github-appc-cni-dev sources (libcni 1.1.x, spec 1.0.0) with Debian's
// Go 1.19, and run inside a node namespace for one ADD, CHECK or DEL of a conflist.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const GO = '/usr/lib/go-1.19/bin/go';
const GOPATH = '/usr/share/gocode';
const LIBCNI_API = join(GOPATH, 'src/github.com/containernetworking/cni/libcni/api.go');
const SOURCE = fileURLToPath(new URL('../../../test/libcni/main.go', import.meta.url));
const CACHE = '/var/cache/weft/libcni-client';

const exec = promisify(execFile);

/** Builds the client once per source (ours and libcni's); returns the binary's path. */
export async function buildLibcniClient(): Promise<string> {
  const missing = await access(LIBCNI_API).then(() => false, () => true);
  if (missing) throw new Error(`${LIBCNI_API} is missing: apt-get install golang-github-appc-cni-dev golang-1.19-go (test/setup.sh does)`);
  const hash = createHash('sha256').update(await readFile(SOURCE)).update(await readFile(LIBCNI_API)).digest('hex').slice(0, 16);
  const binary = join(CACHE, `weft-libcni-client-${hash}`);
  if (await access(binary).then(() => true, () => false)) return binary;
  await mkdir(CACHE, { recursive: true });
  const temp = `${binary}.${process.pid}.tmp`;
  await exec(GO, ['build', '-o', temp, SOURCE], {
    env: { PATH: process.env['PATH'] ?? '', HOME: CACHE, GO111MODULE: 'off', GOPATH, GOCACHE: join(CACHE, 'go-build'), CGO_ENABLED: '0' },
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
