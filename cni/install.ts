// Puts the plugin on a node (what the DaemonSet's init container runs): the plugin's code and the
// Node.js runtime it needs into <binDir>/weft-<version>/, a launcher script <binDir>/weft, and the
// conflist into <confDir>. Every file lands by rename, so the runtime never sees a half-written one.
import { chmod, copyFile, cp, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface InstallOptions {
  binDir: string;
  confDir: string;
  /** The conflist to install (the bundled one, or the ConfigMap's cni-conf.json). */
  conflist: string;
  confName: string;
  /** dist/ of this package: the plugin's compiled code. */
  distDir: string;
  /** The node binary to ship next to the plugin; undefined: use `node` from the host's PATH. */
  nodeBinary: string | undefined;
  version: string;
}

async function writeAtomically(path: string, content: string | Buffer, mode: number): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  await writeFile(temp, content, { mode });
  await chmod(temp, mode);
  await rename(temp, path);
}

/** Returns the paths written. */
export async function installPlugin(opts: InstallOptions): Promise<string[]> {
  const text = await readFile(opts.conflist, 'utf8');
  const conflist = JSON.parse(text) as { plugins?: { type?: string }[] };
  if (!conflist.plugins?.some((p) => p.type === 'weft')) throw new Error(`${opts.conflist} has no plugin of type "weft"`);

  // The versioned runtime directory is built under a temporary name and renamed into place.
  const runtimeName = `weft-${opts.version}`;
  const runtimeDir = join(opts.binDir, runtimeName);
  const staging = join(opts.binDir, `.${runtimeName}.${process.pid}.tmp`);
  await mkdir(opts.binDir, { recursive: true });
  await rm(staging, { recursive: true, force: true });
  for (const part of ['cni', join('cmd', 'weft-cni.js')]) {
    await cp(join(opts.distDir, part), join(staging, part), { recursive: true, filter: (src) => !src.endsWith('.test.js') && !src.endsWith('.map') });
  }
  await writeFile(join(staging, 'package.json'), '{"type":"module"}\n');
  if (opts.nodeBinary) await copyFile(opts.nodeBinary, join(staging, 'node'));
  await rm(runtimeDir, { recursive: true, force: true });
  await rename(staging, runtimeDir);

  const node = opts.nodeBinary ? `"$here/${runtimeName}/node"` : 'node';
  // No `dirname`: runtimes may call plugins with an empty PATH.
  const launcher = `#!/bin/sh\n# weft CNI plugin ${opts.version}, installed by weft-cni-install\nhere=\${0%/*}\nexec ${node} "$here/${runtimeName}/cmd/weft-cni.js"\n`;
  const launcherPath = join(opts.binDir, 'weft');
  await writeAtomically(launcherPath, launcher, 0o755);

  // Older versions' runtimes are no longer referenced by the launcher.
  for (const entry of await readdir(opts.binDir)) {
    if (/^weft-\d/.test(entry) && entry !== runtimeName) await rm(join(opts.binDir, entry), { recursive: true, force: true });
  }

  await mkdir(opts.confDir, { recursive: true });
  const confPath = join(opts.confDir, opts.confName);
  await writeAtomically(confPath, text, 0o644);
  return [launcherPath, runtimeDir, confPath];
}
