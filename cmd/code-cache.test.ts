import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { codeCachePath, readCodeCache, runBundle } from './code-cache.js';

describe('a CommonJS bundle run through the code cache', () => {
  let dir: string;
  let bundle: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-code-cache-'));
    writeFileSync(join(dir, 'helper.cjs'), 'module.exports = (x) => x * 2;');
    bundle = join(dir, 'bundle.cjs');
    writeFileSync(bundle, "const double = require('./helper.cjs');\nexports.answer = double(21);\nexports.where = [__filename, __dirname];\nexports.self = this === exports;");
  });
  afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

  it('runs as Node would run it: exports, require beside the file, __filename, __dirname, this', () => {
    const loaded = runBundle(bundle);
    expect(loaded.exports).toEqual({ answer: 42, where: [bundle, dir], self: true });
    expect(loaded.cacheRejected).toBeUndefined();
  });

  it('takes the cache it made, and runs the same without it when the cache is bad', () => {
    writeFileSync(codeCachePath(bundle), runBundle(bundle).script.createCachedData());
    const cached = runBundle(bundle, readCodeCache(bundle));
    expect(cached.cacheRejected).toBe(false);
    expect(cached.exports).toMatchObject({ answer: 42 });
    // Another source: V8 answers a source it compiled already from its own in-process cache.
    const other = join(dir, 'other.cjs');
    writeFileSync(other, "exports.answer = require('./helper.cjs')(21);");
    const bad = runBundle(other, Buffer.from('not a code cache'));
    expect(bad.cacheRejected).toBe(true);
    expect(bad.exports).toMatchObject({ answer: 42 });
  });

  it('has no cache for a file built without one', () => {
    expect(readCodeCache(bundle)).toBeUndefined();
  });
});
