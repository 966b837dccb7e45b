// Container images for the real nodes, without a registry: test/lab/image/build-images.sh prints one
// `<reference> <docker-save tarball>` line per image (weft, pause, agnhost, busybox); each node's
// containerd imports them with `ctr -n k8s.io images import`. Importing ~350 MB per node is slow, so
// the first import is kept as a pristine containerd root under the cache (keyed by the tarballs) and
// every node starts from a hard-linked clone of it (content and unpacked layers are never written
// in place; only the bolt databases are, so those are real copies).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, stopProcess } from '../netns.js';
import type { NodeHost } from './node-host.js';
import { ctr, startContainerd } from './node-services.js';

const repoRoot = fileURLToPath(new URL('../../../..', import.meta.url));
/** The image recipe; WEFT_LAB_BUILD_IMAGES names another script with the same output (e.g. prebuilt tarballs). */
export const BUILD_IMAGES_SCRIPT = process.env['WEFT_LAB_BUILD_IMAGES'] ?? join(repoRoot, 'test', 'lab', 'image', 'build-images.sh');
const CACHE_DIR = join(process.env['WEFT_KUBE_CACHE'] ?? '/var/cache/weft', 'real-nodes');

export interface ImageTarball {
  reference: string;
  path: string;
}

export interface ImageSet {
  images: ImageTarball[];
  /** Names the pristine containerd root holding exactly these tarballs. */
  key: string;
}

/** Parses build-images.sh's stdout: `<reference> <tarball path>` per line. */
export function parseImageList(text: string): ImageTarball[] {
  return text.split('\n').map((l) => l.trim()).filter(Boolean).map((line) => {
    const [reference, path, extra] = line.split(/\s+/);
    if (!reference || !path || extra !== undefined) throw new Error(`build-images.sh printed "${line}": expected "<reference> <tarball path>"`);
    return { reference, path };
  });
}

/** Builds (or finds cached) every lab image; slow only when an image's inputs changed. */
export async function buildImages(script = BUILD_IMAGES_SCRIPT): Promise<ImageSet> {
  if (!existsSync(script)) throw new Error(`${script} is missing: the real-node lab needs the image recipe`);
  const { stdout } = await run('bash', [script]);
  const images = parseImageList(stdout);
  if (images.length === 0) throw new Error(`${script} printed no images`);
  const hash = createHash('sha256');
  for (const image of images) {
    const info = await stat(image.path);
    hash.update(`${image.reference} ${image.path} ${info.size} ${info.mtimeMs}\n`);
  }
  return { images, key: hash.digest('hex').slice(0, 16) };
}

function pristineDir(set: ImageSet): string {
  return join(CACHE_DIR, `containerd-${set.key}`);
}

/**
 * Fills the node's (still unused) containerd root with the images: a clone of the pristine root when
 * there is one; otherwise imports into it with a temporary containerd, then saves a pristine copy.
 */
export async function provisionImages(host: NodeHost, set: ImageSet): Promise<'cached' | 'imported'> {
  const root = host.plainDir('/var/lib/containerd');
  const pristine = pristineDir(set);
  if (existsSync(pristine)) {
    await cloneContainerdRoot(pristine, root);
    return 'cached';
  }
  const containerd = await startContainerd(host);
  try {
    for (const image of set.images) await ctr(host, ['images', 'import', image.path]);
  } finally {
    await stopProcess(containerd, 10_000);
  }
  const staging = `${pristine}.${process.pid}.tmp`;
  await mkdir(CACHE_DIR, { recursive: true });
  await run('cp', ['-a', root, staging]);
  await rename(staging, pristine).catch(async () => { await rm(staging, { recursive: true, force: true }); });
  await removeOtherPristineRoots(pristine);
  return 'imported';
}

/** Older image sets' roots (node clones are hard links, so they keep working). */
async function removeOtherPristineRoots(keep: string): Promise<void> {
  for (const e of await readdir(CACHE_DIR, { withFileTypes: true })) {
    const path = join(CACHE_DIR, e.name);
    if (e.isDirectory() && /^containerd-[0-9a-f]{16}$/.test(e.name) && path !== keep) await rm(path, { recursive: true, force: true });
  }
}

async function cloneContainerdRoot(pristine: string, target: string): Promise<void> {
  await run('cp', ['-al', `${pristine}/.`, target]);
  for (const db of await findFiles(target, (name) => name.endsWith('.db'))) {
    await run('cp', ['--remove-destination', db.replace(target, pristine), db]);
  }
}

async function findFiles(dir: string, match: (name: string) => boolean, depth = 4): Promise<string[]> {
  if (depth === 0) return [];
  const found: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isFile() && match(e.name)) found.push(path);
    // Snapshot trees are deep and hold no databases: skip them.
    else if (e.isDirectory() && e.name !== 'snapshots' && e.name !== 'blobs') found.push(...(await findFiles(path, match, depth - 1)));
  }
  return found;
}
