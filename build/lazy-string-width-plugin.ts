// esbuild plugin: yargs, cliui and wrap-ansi each import their own copy of string-width, and every
// copy builds an Intl.Segmenter (ICU data) when it loads: ~60 ms of CPU at every weftd start in lite
// mode, for a function only help and usage text calls. The bundles get a stand-in with the same
// default export that loads the real module on its first call (esbuild evaluates a module that is
// only require()d when the require runs).
import type { Plugin } from 'esbuild';

const NAMESPACE = 'weft-lazy-string-width';

export const lazyStringWidth: Plugin = {
  name: 'lazy-string-width',
  setup(build) {
    build.onResolve({ filter: /^string-width$/ }, async (args) => {
      if ((args.pluginData as { real?: boolean } | undefined)?.real) return undefined;
      const real = await build.resolve(args.path, { importer: args.importer, resolveDir: args.resolveDir, kind: args.kind, pluginData: { real: true } });
      if (real.errors.length > 0) return { errors: real.errors };
      return { path: real.path, namespace: NAMESPACE };
    });
    build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({
      contents: [
        'let stringWidth;',
        'export default function lazyStringWidth(text, options) {',
        `  stringWidth ??= require(${JSON.stringify(args.path)}).default;`,
        '  return stringWidth(text, options);',
        '}',
      ].join('\n'),
      loader: 'js',
      resolveDir: '/',
    }));
  },
};
