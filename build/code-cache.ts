// Writes V8's code cache of the daemon's bundle (dist/bundle/weftd-main.cjs -> .cache beside it),
// which cmd/weftd-launch.ts hands to V8 instead of compiling. Run by `npm run build` and again by
// the image recipe (manifests/image/install-weft.sh) with the Node binary the image ships: a cache
// is only good for the Node build and V8 flags that made it, so the work runs in a child under
// LAUNCH_FLAGS. The cache is taken after the start-up modules have loaded (not just after the
// bundle's top level ran), so it holds the functions a start compiles, not only the outer shell.
// A second child, as fresh as a real start, checks that V8 takes it.
//
// Usage: node dist/build/code-cache.js [BUNDLE]   (default: dist/bundle/weftd-main.cjs)
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeCachePath, readCodeCache, runBundle } from '../cmd/code-cache.js';
import type { compileStartupModules } from '../cmd/weftd-main.js';
import { LAUNCH_FLAGS } from './launch-flags.js';

type Step = 'make' | 'check';

function inChild(step: Step, bundle: string): void {
  execFileSync(process.execPath, [...LAUNCH_FLAGS, fileURLToPath(import.meta.url), bundle, step], { stdio: 'inherit' });
}

async function make(bundle: string): Promise<void> {
  const loaded = runBundle(bundle);
  await (loaded.exports as { compileStartupModules: typeof compileStartupModules }).compileStartupModules();
  writeFileSync(codeCachePath(bundle), loaded.script.createCachedData());
}

function check(bundle: string): void {
  if (runBundle(bundle, readCodeCache(bundle)).cacheRejected !== false) {
    throw new Error(`V8 rejected the code cache just made for ${bundle} under ${LAUNCH_FLAGS.join(' ')}; check build/code-cache.ts`);
  }
}

const [given, step] = process.argv.slice(2) as [string?, Step?];
const bundle = resolve(given ?? fileURLToPath(new URL('../bundle/weftd-main.cjs', import.meta.url)));
if (step === 'make') await make(bundle);
else if (step === 'check') check(bundle);
else {
  inChild('make', bundle);
  inChild('check', bundle);
}
