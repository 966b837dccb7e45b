#!/usr/bin/env node
// weft-cni-install: installs the CNI plugin and the conflist on this node (the init container's job).
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { installPlugin } from '../cni/install.js';
import { packageVersion } from './version.js';

const distDir = fileURLToPath(new URL('..', import.meta.url));
const bundledConflist = fileURLToPath(new URL('../../cni/10-weft.conflist', import.meta.url));

const env = (name: string): string | undefined => process.env[`WEFT_CNI_${name}`];
const args = await yargs(process.argv.slice(2))
  .scriptName('weft-cni-install')
  .usage('weft-cni-install [flags]\n\nCopies the weft CNI plugin (with the Node.js it runs on) and the conflist into place, each by rename.\nFlags can also be set as WEFT_CNI_<FLAG> (upper case, - becomes _).')
  .option('bin-dir', { type: 'string', default: env('BIN_DIR') ?? '/opt/cni/bin', describe: 'CNI plugin directory' })
  .option('conf-dir', { type: 'string', default: env('CONF_DIR') ?? '/etc/cni/net.d', describe: 'CNI config directory' })
  .option('conflist', { type: 'string', default: env('CONFLIST') ?? bundledConflist, describe: 'conflist to install' })
  .option('conf-name', { type: 'string', default: env('CONF_NAME') ?? '10-weft.conflist', describe: 'file name in the config directory' })
  .option('ship-node', { type: 'boolean', default: env('SHIP_NODE') !== 'false', describe: "copy this Node.js binary next to the plugin (--no-ship-node: use the host's node)" })
  .version(packageVersion())
  .help()
  .strict()
  .wrap(110)
  .parseAsync();

try {
  const written = await installPlugin({
    binDir: args['bin-dir'],
    confDir: args['conf-dir'],
    conflist: args.conflist,
    confName: args['conf-name'],
    distDir,
    nodeBinary: args['ship-node'] ? process.execPath : undefined,
    version: packageVersion(),
  });
  for (const path of written) process.stdout.write(`installed ${path}\n`);
} catch (err) {
  process.stderr.write(`weft-cni-install: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
