// esbuild plugin for the daemon's CommonJS bundle: @kubernetes/client-node and its dependencies
// (~2.2 MB of the bundle) serve kube mode only, yet a single file is read and decoded whole at
// every start. The library goes to a file of its own beside the bundle, required only when kube
// mode loads it. It holds no weft code, so nothing weft checks by identity is duplicated. That
// file exports just the names the bundled sources import (read from them, so it cannot fall out
// of step), which keeps esbuild's tree shaking: the whole package would be 5.6 MB.
import { readFile } from 'node:fs/promises';
import type { Plugin } from 'esbuild';

const KUBE_CLIENT = '@kubernetes/client-node';
/** The separate file's name, beside weftd-main.cjs. */
export const KUBE_CLIENT_BUNDLE = 'weftd-kube-client.cjs';

const NAMED_IMPORT = /import\s+(type\s+)?\{([^}]*)\}\s*from\s*'@kubernetes\/client-node'/g;
const ANY_IMPORT = /from\s*'@kubernetes\/client-node'/g;

/** The value names `source` imports from the package (type-only imports are erased by esbuild). */
export function importedKubeClientNames(source: string, path: string): string[] {
  const clauses = [...source.matchAll(NAMED_IMPORT)];
  if (clauses.length !== [...source.matchAll(ANY_IMPORT)].length) {
    throw new Error(`${path}: import ${KUBE_CLIENT} by name (import { X } from ...): build/kube-client-plugin.ts reads the names`);
  }
  return clauses.filter(([, typeOnly]) => typeOnly === undefined).flatMap(([, , names = '']) =>
    names.split(',').map((n) => n.trim()).filter((n) => n !== '' && !n.startsWith('type ')).map((n) => n.split(/\s+as\s+/)[0] ?? n));
}

/** The plugin, and after the build the source of the separate file (CommonJS entry for esbuild). */
export function kubeClientApart(): { plugin: Plugin; entrySource(): Promise<string> } {
  const importers = new Set<string>();
  const plugin: Plugin = {
    name: 'kube-client-apart',
    setup(build) {
      build.onResolve({ filter: /^@kubernetes\/client-node$/ }, (args) => {
        importers.add(args.importer);
        return { path: `./${KUBE_CLIENT_BUNDLE}`, external: true };
      });
    },
  };
  const entrySource = async (): Promise<string> => {
    const names = new Set<string>();
    for (const file of importers) for (const name of importedKubeClientNames(await readFile(file, 'utf8'), file)) names.add(name);
    return `export { ${[...names].sort().join(', ')} } from '${KUBE_CLIENT}';`;
  };
  return { plugin, entrySource };
}
