// The container images the real-node lab imports, built by test/lab/image/build-images.sh (cached
// by content hash, so this is quick once built): each tarball is checked as a `docker save`
// archive (manifest, config digest, layer diff_ids), unpacked and run with chroot in a private
// mount namespace (weft's Node and weftd, agnhost and the tools the e2e suite runs in its pods,
// busybox's sh, pause), and all four are imported into a private containerd as the nodes do.
import { jest } from '@jest/globals';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { HEAP_FLAGS } from '../bench/weftd-process.js';
import { buildLabImages } from '../lab/image/lab-images.js';

// A cold build (two mmdebstrap runs, Kubernetes binaries already built) takes minutes on a busy
// 2-core machine; a warm one seconds.
jest.setTimeout(30 * 60_000);

const run = promisify(execFile);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const BUILD_KUBE = join(REPO, 'test/lab/build-kube.sh');
const IMPORT_CHECK = join(REPO, 'test/lab/image/import-check.sh');
const WEFT = 'ghcr.io/weft-net/weft:0.1.0';
const PAUSE = 'k8s.gcr.io/pause:3.2';
const AGNHOST = 'k8s.gcr.io/e2e-test-images/agnhost:2.21';
const BUSYBOX = 'docker.io/library/busybox:1.29';
const BIG = { maxBuffer: 64 * 1024 * 1024 };
/** What the image and the manifest run: the daemon's bundle, with the heap flags the benchmarks use. */
const WEFTD_IN_IMAGE = '/opt/weft/dist/bundle/weftd.mjs';
const WEFTD_COMMAND = ['node', ...HEAP_FLAGS, WEFTD_IN_IMAGE];

interface ArchiveEntry { Config: string; RepoTags: string[]; Layers: string[] }
interface ImageConfig {
  architecture: string;
  os: string;
  config: { Entrypoint?: string[]; Cmd?: string[]; Env?: string[]; WorkingDir?: string };
  rootfs: { type: string; diff_ids: string[] };
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function member(tarball: string, name: string): Promise<Buffer> {
  const { stdout } = await run('tar', ['-xOf', tarball, name], { ...BIG, encoding: 'buffer' });
  return stdout;
}

// Streams one member of the archive through sha256 (layers are hundreds of MB).
function memberDigest(tarball: string, name: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-xOf', tarball, name], { stdio: ['ignore', 'pipe', 'inherit'] });
    const hash = createHash('sha256');
    tar.stdout.on('data', (chunk: Buffer) => hash.update(chunk));
    tar.on('error', reject);
    tar.on('close', (code) => { if (code === 0) resolve(hash.digest('hex')); else reject(new Error(`tar -xOf ${tarball} ${name}: exit ${String(code)}`)); });
  });
}

/** Reads and checks the archive's structure; returns its one manifest entry and config. */
async function readArchive(tarball: string, reference: string): Promise<{ entry: ArchiveEntry; config: ImageConfig }> {
  const manifest = JSON.parse((await member(tarball, 'manifest.json')).toString()) as ArchiveEntry[];
  expect(manifest).toHaveLength(1);
  const [entry] = manifest;
  if (!entry) throw new Error(`${tarball}: manifest.json lists no image`);
  expect(entry.RepoTags).toEqual([reference]);
  const configBlob = await member(tarball, entry.Config);
  expect(`${sha256(configBlob)}.json`).toBe(entry.Config);
  const config = JSON.parse(configBlob.toString()) as ImageConfig;
  expect(config.os).toBe('linux');
  expect(config.rootfs.type).toBe('layers');
  expect(config.rootfs.diff_ids).toHaveLength(entry.Layers.length);
  for (const [i, layer] of entry.Layers.entries()) {
    expect(`sha256:${await memberDigest(tarball, layer)}`).toBe(config.rootfs.diff_ids[i]);
  }
  const colon = reference.lastIndexOf(':');
  const repositories = JSON.parse((await member(tarball, 'repositories')).toString()) as Record<string, Record<string, string>>;
  expect(Object.keys(repositories[reference.slice(0, colon)] ?? {})).toEqual([reference.slice(colon + 1)]);
  return { entry, config };
}

/** Applies the image's layers in order into a fresh directory, as a runtime would. */
async function unpack(tarball: string, entry: ArchiveEntry, into: string): Promise<string> {
  const root = await mkdtemp(join(into, 'root-'));
  for (const layer of entry.Layers) {
    await run('sh', ['-c', 'tar -xOf "$1" "$2" | tar -x --numeric-owner --xattrs --xattrs-include=security.capability -C "$3" -f -', 'sh', tarball, layer, root]);
  }
  return root;
}

/** Runs a command inside ROOT with chroot, in a private mount namespace with its own /proc. */
async function inRoot(root: string, command: string[]): Promise<string> {
  const script = 'if [ -d "$1/proc" ]; then mount -t proc proc "$1/proc"; fi; exec chroot "$@"';
  const { stdout } = await run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', root, ...command],
    { env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' }, timeout: 60_000 });
  return stdout;
}

describe('container images built without a registry or Docker', () => {
  const tarballs = new Map<string, string>();
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-images-'));
    // WEFT_KUBE_BIN (as build-images.sh reads it) names binaries built elsewhere.
    const kubeBin = process.env.WEFT_KUBE_BIN ?? (await run('bash', [BUILD_KUBE], { ...BIG, timeout: 25 * 60_000 })).stdout.trim().split('\n').pop() ?? '';
    for (const image of await buildLabImages({ kubeBinDir: kubeBin, timeoutMs: 25 * 60_000 })) {
      expect(tarballs.has(image.reference)).toBe(false);
      tarballs.set(image.reference, image.tarball);
    }
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const tarball = (reference: string): string => {
    const path = tarballs.get(reference);
    if (!path) throw new Error(`build-images.sh printed no line for ${reference}`);
    return path;
  };

  test('build-images.sh prints each image once', () => {
    expect([...tarballs.keys()].sort()).toEqual([AGNHOST, BUSYBOX, WEFT, PAUSE].sort());
  });

  test('the weft image is the one the manifest names, runs weftd on its own Node and has iptables and nft', async () => {
    const manifest = await readFile(join(REPO, 'manifests/weft.yaml'), 'utf8');
    expect(manifest).toContain(`image: ${WEFT}`);
    expect(manifest).toContain(`command: [${WEFTD_COMMAND.map((word) => JSON.stringify(word)).join(', ')}]`);
    const { entry, config } = await readArchive(tarball(WEFT), WEFT);
    expect(config.config.Entrypoint).toEqual(WEFTD_COMMAND);
    expect(config.config.Env).toContain('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    const root = await unpack(tarball(WEFT), entry, dir);
    await expect(access(join(root, WEFTD_IN_IMAGE))).resolves.toBeUndefined();
    await expect(access(join(root, 'opt/weft/cni/10-weft.conflist'))).resolves.toBeUndefined();
    const { version } = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { version: string };
    expect((await inRoot(root, [...WEFTD_COMMAND, '--version'])).trim()).toBe(version);
    // The bundle loads the native modules from the image's node_modules.
    expect(await inRoot(root, ['node', '-e', "require('/opt/weft/node_modules/netlink'); require('/opt/weft/node_modules/raw-socket'); console.log('loaded')"])).toContain('loaded');
    expect((await inRoot(root, ['node', '/opt/weft/dist/cmd/weft-cni-install.js', '--version'])).trim()).toBe(version);
    // The daemon's code cache was made by the image's Node under the command's flags: V8 takes it (else this throws).
    await inRoot(root, ['node', ...HEAP_FLAGS, '/opt/weft/dist/build/code-cache.js', '/opt/weft/dist/bundle/weftd-main.cjs', 'check']);
    // Its bundle parses the flags and reaches the daemon (here: a flag error, before any store is opened).
    await expect(inRoot(root, [...WEFTD_COMMAND, '--bogus-flag'])).rejects.toThrow(/Unknown argument: bogus-flag/);
    expect(await inRoot(root, ['iptables', '--version'])).toMatch(/^iptables v1\.8/);
    expect(await inRoot(root, ['nft', '--version'])).toMatch(/^nftables v1\./);
    // Development dependencies stay out of the image.
    await expect(access(join(root, 'opt/weft/node_modules/typescript/package.json'))).rejects.toThrow();
    await expect(access(join(root, 'opt/weft/dist/test'))).rejects.toThrow();
  });

  test('agnhost runs, with curl, nc, ip, dig and ping beside it', async () => {
    const { entry, config } = await readArchive(tarball(AGNHOST), AGNHOST);
    expect(config.config.Entrypoint).toEqual(['/agnhost']);
    const root = await unpack(tarball(AGNHOST), entry, dir);
    expect(await inRoot(root, ['/agnhost', '--help'])).toMatch(/netexec/);
    expect(await inRoot(root, ['curl', '--version'])).toMatch(/^curl /);
    expect(await inRoot(root, ['ip', '-V'])).toMatch(/iproute2/);
    // These three print their version or usage on stderr.
    expect(await inRoot(root, ['sh', '-c', 'dig -v 2>&1'])).toMatch(/^DiG 9\./);
    expect(await inRoot(root, ['sh', '-c', 'nc -h 2>&1 || true'])).toMatch(/OpenBSD netcat/);
    expect(await inRoot(root, ['sh', '-c', 'ping -V 2>&1'])).toMatch(/iputils/);
  });

  test('busybox has sh and its applets', async () => {
    const { entry, config } = await readArchive(tarball(BUSYBOX), BUSYBOX);
    expect(config.config.Cmd).toEqual(['sh']);
    const root = await unpack(tarball(BUSYBOX), entry, dir);
    expect(await inRoot(root, ['/bin/sh', '-c', 'echo hello | wc -c && sleep 0'])).toBe('6\n');
  });

  test('pause is a single static binary', async () => {
    const { entry, config } = await readArchive(tarball(PAUSE), PAUSE);
    expect(config.config.Entrypoint).toEqual(['/pause']);
    expect(entry.Layers).toHaveLength(1);
    const { stdout } = await run('sh', ['-c', 'tar -xOf "$1" "$2" | tar -t', 'sh', tarball(PAUSE), ...entry.Layers]);
    expect(stdout).toBe('pause\n');
    const root = await unpack(tarball(PAUSE), entry, dir);
    expect(await inRoot(root, ['/pause', '-v'])).toMatch(/^pause\.c /);
  });

  test('a private containerd imports all four under their references', async () => {
    const { stdout } = await run('bash', [IMPORT_CHECK, ...tarballs.values()], { ...BIG, timeout: 5 * 60_000 });
    expect(stdout.trim().split('\n').sort()).toEqual([AGNHOST, BUSYBOX, WEFT, PAUSE].sort());
  });
});
