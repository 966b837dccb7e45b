#!/usr/bin/env node
// The CNI plugin binary (installed as <cni bin dir>/weft). Only Node built-ins are imported on
// this path: the runtime starts it for every pod, so start-up time is the plugin's main cost.
import { runPlugin } from '../cni/weft-plugin.js';

const chunks: Buffer[] = [];
for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
const { stdout, exitCode } = await runPlugin(process.env, Buffer.concat(chunks).toString('utf8'));
if (stdout !== '') process.stdout.write(stdout);
process.exitCode = exitCode;
