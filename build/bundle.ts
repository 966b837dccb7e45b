// Every bundle of weft, built by `npm run build` after tsc:
// - weftd and weftctl: each entry point with its dependencies in ESM under dist/bundle/, so a start
//   reads one file instead of resolving ~1000 modules;
// - the CNI plugin: one self-contained CommonJS file, dist/plugin/weft-cni.cjs (the runtime starts
//   it for every pod: no module resolution and no ESM loader at all).
// Native binaries load from node_modules: raw-socket stays external, netlink's JavaScript is bundled
// with its binding path rewritten (build/netlink-plugin.ts).
// etcd3 parses its .proto files at run time from `${__dirname}/../proto`: they are copied beside.
// `--help` is rendered here by yargs itself (tsc's tree) so the bundle answers it without yargs.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { netlinkBindingFromPackage } from './netlink-plugin.js';
import { openTelemetryStub } from './otel-stub-plugin.js';
import { lazyProtoDescriptors } from './proto-loader-plugin.js';

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const outDir = join(repoRoot, 'dist', 'bundle');

/** Entry points bundled: source file (TypeScript) -> output name. */
const ENTRIES = { weftd: 'cmd/weftd.ts', weftctl: 'cmd/weftctl.ts' };

/** Must load from node_modules at run time: native addons. */
const EXTERNAL = ['raw-socket'];

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

await build({
  ...COMMON,
  entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, source]) => [name, join(repoRoot, source)])),
  outdir: outDir,
  outExtension: { '.js': '.mjs' },
  splitting: true,
  chunkNames: '[name]-[hash]',
  format: 'esm',
  external: EXTERNAL,
  plugins: [netlinkBindingFromPackage, openTelemetryStub, lazyProtoDescriptors],
  banner: { js: CJS_SHIM },
  define: CJS_GLOBALS,
  sourcemap: 'linked',
  minifyWhitespace: true,
  minifySyntax: true,
});
await build({ ...COMMON, entryPoints: [join(repoRoot, 'cmd', 'weft-cni.ts')], outfile: join(repoRoot, 'dist', 'plugin', 'weft-cni.cjs'), format: 'cjs' });
await cp(join(repoRoot, 'node_modules', 'etcd3', 'proto'), join(repoRoot, 'dist', 'proto'), { recursive: true });

// FLANNELD_* variables must not leak into the rendered text.
const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('FLANNELD_')));
for (const name of Object.keys(ENTRIES)) {
  const help = execFileSync(process.execPath, [join(repoRoot, 'dist', 'cmd', `${name}.js`), '--help'], { encoding: 'utf8', env: cleanEnv });
  await writeFile(join(outDir, `${name}.help.txt`), help);
}
