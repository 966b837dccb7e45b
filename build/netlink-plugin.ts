// esbuild plugin: bundles netlink's JavaScript (ESM importing the CommonJS package costs a
// cjs-module-lexer pass over its ~1.6 MB of re-exported files at every start) while its native
// binding still loads from node_modules: node-gyp-build is pointed at the installed package
// instead of `__dirname + '/..'`, which inside the bundle would be dist/.
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';

const BINDING_LOAD = "require('node-gyp-build')(__dirname + '/..')";
const FROM_PACKAGE = "require('node-gyp-build')(require('node:path').dirname(require.resolve('netlink/package.json')))";

export const netlinkBindingFromPackage: Plugin = {
  name: 'netlink-binding-from-package',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]netlink[\\/]dist[\\/]raw\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(BINDING_LOAD)) {
        throw new Error(`${args.path}: no "${BINDING_LOAD}" to rewrite; netlink changed, check build/netlink-plugin.ts`);
      }
      return { contents: source.replace(BINDING_LOAD, FROM_PACKAGE), loader: 'js' };
    });
  },
};
