// Runs a CommonJS bundle the way Node's own loader would (same wrapper, same module object), but
// compiled through vm.Script so V8's code cache can stand in for parsing and compiling it: Node 20
// has no module.enableCompileCache, and ESM has no public code cache. The cache is made at build
// time (build/code-cache.ts) by the same Node binary with the same V8 flags: V8 rejects a cache
// made under other flags or another version, and the bundle then compiles as usual. V8 checks the
// source only by its length: the cache must be remade with every build of the bundle (the build
// deletes dist/bundle first, and the image recipe makes its own).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

// Node's CommonJS wrapper, on the bundle's first line so its line numbers stay as they are.
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname) { ';
const WRAPPER_TAIL = '\n})';

export interface LoadedBundle {
  script: Script;
  exports: unknown;
  /** Whether V8 refused the cache given (undefined when none was). */
  cacheRejected: boolean | undefined;
}

type ModuleWrapper = (exports: object, require: NodeJS.Require, module: { exports: object }, filename: string, dirname: string) => void;

/** Compiles (from `cachedData` when V8 accepts it) and runs `file`; returns its module.exports. */
export function runBundle(file: string, cachedData?: Buffer): LoadedBundle {
  const source = WRAPPER_HEAD + readFileSync(file, 'utf8') + WRAPPER_TAIL;
  const script = new Script(source, { filename: file, ...(cachedData && { cachedData }) });
  const wrapper = script.runInThisContext() as ModuleWrapper;
  const module = { exports: {} };
  wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file));
  return { script, exports: module.exports, cacheRejected: cachedData ? script.cachedDataRejected : undefined };
}

/** Where the build writes the cache of `file`. */
export const codeCachePath = (file: string): string => `${file}.cache`;

/** The cache made for `file`, or undefined when there is none (a tree built without it). */
export function readCodeCache(file: string): Buffer | undefined {
  try {
    return readFileSync(codeCachePath(file));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
