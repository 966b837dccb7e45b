// Puts the plugin on a node (what the DaemonSet's init container runs): the plugin's bundle (one
// file, built by `npm run build`) and the Node.js runtime it needs into <binDir>/weft-<version>/, a
// launcher script <binDir>/weft, and the conflist into <confDir>. Every file lands by rename, so the
// runtime never sees a half-written one.
import { access, chmod, copyFile, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface InstallOptions {
  binDir: string;
  confDir: string;
  /** The conflist to install (the bundled one, or the ConfigMap's cni-conf.json). */
  conflist: string;
  confName: string;
  /** dist/ of this package: the plugin's bundle is dist/plugin/weft-cni.cjs. */
  distDir: string;
  /** The node binary to ship next to the plugin; undefined: use `node` from the host's PATH. */
  nodeBinary: string | undefined;
  version: string;
}

/** Where `npm run build` puts the plugin's bundle, relative to dist/. */
export const PLUGIN_BUNDLE = join('plugin', 'weft-cni.cjs');

/**
 * Node reads NODE_OPTIONS (e.g. --require), NODE_EXTRA_CA_CERTS, NODE_CHANNEL_FD and the other
 * NODE_* variables, and OpenSSL's and libuv's, before any plugin code runs: the launcher drops
 * them all, so the runtime's environment cannot change what the plugin does. Shell built-ins only
 * (runtimes may call plugins with an empty PATH). `export -p` prints one "export NAME=..." (dash,
 * ash, bash as sh) or "declare -x NAME=..." (bash) line a variable, plus the continuation lines of
 * values holding newlines, which at worst unset a NODE_* name that was not set.
 */
const CLEAR_NODE_ENV = [
  'while IFS= read -r line; do',
  '  case $line in',
  '    "export NODE_"*|"declare -x NODE_"*) rest=${line#* NODE_}; unset "NODE_${rest%%=*}" ;;',
  '  esac',
  'done <<VARIABLES',
  '$(export -p)',
  'VARIABLES',
  'unset OPENSSL_CONF OPENSSL_ENGINES OPENSSL_MODULES SSL_CERT_FILE SSL_CERT_DIR UV_THREADPOOL_SIZE UV_USE_IO_URING',
].join('\n');

function launcherScript(version: string, runtimeName: string, shipsNode: boolean): string {
  const node = shipsNode ? `"$here/${runtimeName}/node"` : 'node';
  // No `dirname`: runtimes may call plugins with an empty PATH.
  return `#!/bin/sh\n# weft CNI plugin ${version}, installed by weft-cni-install\n${CLEAR_NODE_ENV}\nhere=\${0%/*}\nexec ${node} "$here/${runtimeName}/weft-cni.cjs"\n`;
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
  const bundle = join(opts.distDir, PLUGIN_BUNDLE);
  await access(bundle).catch(() => {
    throw new Error(`${bundle} does not exist: build the plugin's bundle with "npm run build"`);
  });

  // The versioned runtime directory is built under a temporary name and renamed into place.
  const runtimeName = `weft-${opts.version}`;
  const runtimeDir = join(opts.binDir, runtimeName);
  const staging = join(opts.binDir, `.${runtimeName}.${process.pid}.tmp`);
  await mkdir(opts.binDir, { recursive: true });
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging);
  await copyFile(bundle, join(staging, 'weft-cni.cjs'));
  if (opts.nodeBinary) await copyFile(opts.nodeBinary, join(staging, 'node'));
  await rm(runtimeDir, { recursive: true, force: true });
  await rename(staging, runtimeDir);

  const launcherPath = join(opts.binDir, 'weft');
  await writeAtomically(launcherPath, launcherScript(opts.version, runtimeName, opts.nodeBinary !== undefined), 0o755);

  // Older versions' runtimes are no longer referenced by the launcher.
  for (const entry of await readdir(opts.binDir)) {
    if (/^weft-\d/.test(entry) && entry !== runtimeName) await rm(join(opts.binDir, entry), { recursive: true, force: true });
  }

  await mkdir(opts.confDir, { recursive: true });
  const confPath = join(opts.confDir, opts.confName);
  await writeAtomically(confPath, text, 0o644);
  return [launcherPath, runtimeDir, confPath];
}
