// Every bundle of weft, built by `npm run build` after tsc:
// - weftd: a small ESM launcher, dist/bundle/weftd.mjs (the quick answers), and the daemon in one
//   CommonJS file, weftd-main.cjs, with V8's code cache of it (build/code-cache.ts): one file
//   read instead of ~1000 modules resolved, and most of its functions not compiled at start;
// - weftctl: its entry point with its dependencies in ESM under dist/bundle/;
// - the CNI plugin: one self-contained CommonJS file, dist/plugin/weft-cni.cjs (the runtime starts
//   it for every pod: no module resolution and no ESM loader at all).
// Native binaries load from node_modules: raw-socket stays external, netlink's JavaScript is bundled
// with its binding path rewritten (build/netlink-plugin.ts).
// etcd3's .proto files are parsed here, not at each start (build/etcd-proto-plugin.ts); string-width
// loads on first use (build/lazy-string-width-plugin.ts).
// `--help` is rendered here by yargs itself (tsc's tree) so the bundle answers it without yargs.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { etcdProtosParsedAtBuild } from './etcd-proto-plugin.js';
import { KUBE_CLIENT_BUNDLE, kubeClientApart } from './kube-client-plugin.js';
import { lazyStringWidth } from './lazy-string-width-plugin.js';
import { netlinkBindingFromPackage } from './netlink-plugin.js';
import { dependencyStubs } from './stub-plugin.js';
import { lazyProtoDescriptors } from './proto-loader-plugin.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const outDir = join(repoRoot, 'dist', 'bundle');

/** Commands whose `--help` the bundles answer from text rendered here. */
const COMMANDS = ['weftd', 'weftctl'];

/** Must load from node_modules at run time: native addons (and netlink's package.json, which locates its binary). */
const EXTERNAL = ['raw-socket', 'netlink/package.json'];

// CommonJS dependencies bundled into ESM still call require() and read __dirname/__filename.
const CJS_SHIM = [
  "import { createRequire as __weftCreateRequire } from 'node:module';",
  "import { fileURLToPath as __weftFileURLToPath } from 'node:url';",
  'const require = __weftCreateRequire(import.meta.url);',
  'const __weftFilename = __weftFileURLToPath(import.meta.url);',
  "const __weftDirname = __weftFileURLToPath(new URL('.', import.meta.url));",
].join('\n');
// Free uses only: ESM dependencies (yargs) that declare their own __dirname keep it.
const CJS_GLOBALS = { __filename: '__weftFilename', __dirname: '__weftDirname' };

await rm(outDir, { recursive: true, force: true }); // no stale chunks from an earlier build
await mkdir(outDir, { recursive: true });
/** What every bundle shares. */
const COMMON = { bundle: true, platform: 'node', target: 'node20', legalComments: 'none', logLevel: 'warning' } as const;

const PLUGINS = [netlinkBindingFromPackage, dependencyStubs, lazyProtoDescriptors, etcdProtosParsedAtBuild, lazyStringWidth];
const MINIFY = { minifyWhitespace: true, minifySyntax: true, sourcemap: 'linked' } as const;

await build({
  ...COMMON,
  entryPoints: { weftctl: join(repoRoot, 'cmd', 'weftctl.ts') },
  outdir: outDir,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: '[name]-[hash]',
  format: 'esm',
  external: EXTERNAL,
  plugins: PLUGINS,
  banner: { js: CJS_SHIM },
  define: CJS_GLOBALS,
  ...MINIFY,
});
await build({ ...COMMON, ...MINIFY, entryPoints: [join(repoRoot, 'cmd', 'weftd-launch.ts')], outfile: join(outDir, 'weftd.mjs'), format: 'esm' });
const kubeClient = kubeClientApart();
// CommonJS has no import.meta: its uses (the package.json and help text paths, createRequire) get the bundle's own URL.
await build({
  ...COMMON,
  ...MINIFY,
  entryPoints: [join(repoRoot, 'cmd', 'weftd-main.ts')],
  outfile: join(outDir, 'weftd-main.cjs'),
  format: 'cjs',
  external: EXTERNAL,
  plugins: [...PLUGINS, kubeClient.plugin],
  banner: { js: "const __weftImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { 'import.meta.url': '__weftImportMetaUrl' },
});
await build({ ...COMMON, ...MINIFY, stdin: { contents: await kubeClient.entrySource(), resolveDir: repoRoot }, outfile: join(outDir, KUBE_CLIENT_BUNDLE), format: 'cjs' });
await build({ ...COMMON, entryPoints: [join(repoRoot, 'cmd', 'weft-cni.ts')], outfile: join(repoRoot, 'dist', 'plugin', 'weft-cni.cjs'), format: 'cjs' });
execFileSync(process.execPath, [join(repoRoot, 'dist', 'build', 'code-cache.js')], { stdio: 'inherit' });

// FLANNELD_* variables must not leak into the rendered text.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLANNELD_')));
for (const name of COMMANDS) {
  const help = execFileSync(process.execPath, [join(repoRoot, 'dist', 'cmd', `${name}.js`), '--help'], { encoding: 'utf8', env: cleanEnv });
  await writeFile(join(outDir, `${name}.help.txt`), help);
}
