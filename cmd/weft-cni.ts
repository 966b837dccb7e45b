#!/usr/bin/env node
// The CNI plugin binary. `npm run build` bundles this file with what it imports into one CommonJS
// file, dist/plugin/weft-cni.cjs, which weft-cni-install puts on the node: the runtime starts it
// for every pod, so start-up time is the plugin's main cost (one file to read and compile, no
// module resolution, no ES module loader, no stream or thread pool it does not need). Only Node
// built-ins are imported on this path. stdout carries nothing but the result or the CNI error
// document; the exit code says which.
import { readFileSync } from 'node:fs';
import { CniCode, CniError } from '../cni/cni-error.js';
import { LATEST_VERSION } from '../cni/cni-versions.js';
import { runPlugin } from '../cni/weft-plugin.js';

/** The network config: a plain blocking read of fd 0, and a stream only where fd 0 is non-blocking. */
async function readStdin(): Promise<string> {
  try {
    return readFileSync(0, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  try {
    const { stdout, exitCode } = await runPlugin(process.env, await readStdin());
    if (stdout !== '') process.stdout.write(stdout);
    process.exitCode = exitCode;
  } catch (err) {
    // runPlugin answers every failure itself; this is for stdin that cannot be read at all.
    process.stdout.write(new CniError(CniCode.ioFailure, `weft: ${(err as Error).message}`).toJson(LATEST_VERSION));
    process.exitCode = 1;
  }
}

void main();
