// The container images the real-node lab imports into each node's containerd, built (or found in
// the cache) by build-images.sh next to this file; its progress goes to this process's stderr.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const BUILD_IMAGES = fileURLToPath(new URL('../../../../test/lab/image/build-images.sh', import.meta.url));

export interface LabImage {
  /** As pods and the e2e suite name it, e.g. k8s.gcr.io/pause:3.2. */
  reference: string;
  /** Absolute path of its `docker save` tarball, for `ctr -n k8s.io images import`. */
  tarball: string;
}

export interface BuildImagesOptions {
  /** Where build-kube.sh put pause and agnhost (default: the script's own default). */
  kubeBinDir?: string;
  /** Subset to build: weft, pause, agnhost, busybox (default: all). */
  names?: string[];
  /** Upper bound for a cold build (default 30 min). */
  timeoutMs?: number;
}

/** Parses build-images.sh's stdout: one "<reference> <tarball>" line per image. */
export function parseImageLines(stdout: string): LabImage[] {
  return stdout.split('\n').filter((line) => line.trim() !== '').map((line) => {
    const [reference, tarball, ...rest] = line.trim().split(/\s+/);
    if (!reference || !tarball?.startsWith('/') || rest.length > 0) {
      throw new Error(`build-images.sh printed '${line}', expected '<reference> <absolute tarball path>'`);
    }
    return { reference, tarball };
  });
}

export async function buildLabImages(options: BuildImagesOptions = {}): Promise<LabImage[]> {
  const env = { ...process.env, ...(options.kubeBinDir ? { WEFT_KUBE_BIN: options.kubeBinDir } : {}) };
  const child = spawn('bash', [BUILD_IMAGES, ...(options.names ?? [])], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const timeout = setTimeout(() => child.kill('SIGTERM'), options.timeoutMs ?? 30 * 60_000);
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  await new Promise<void>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timeout);
      if (code === 0) resolve();
      else reject(new Error(`build-images.sh failed (${signal ?? `exit ${String(code)}`}); its stderr above says why`));
    });
  });
  return parseImageLines(stdout);
}
