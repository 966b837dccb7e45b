// esbuild plugin: stand-ins for dependencies' dependencies that weft never uses but that would be
// evaluated at every start (weftd in lite mode interprets all of it).
// - @opentelemetry/api (~60 KB): prom-client requires it only to attach trace exemplars to
//   process_cpu_* when collectDefaultMetrics({ enableExemplars: true }) asks for them. weft never
//   does; the stand-in fails loudly if that ever changes.
// - @dabh/diagnostics (with colorspace, color, enabled, kuler: ~15-20 ms of CPU at start): winston's
//   own debug output (`DEBUG=winston:*`), for winston's developers. Its stand-in prints nothing.
import type { Plugin } from 'esbuild';

const STUBS: Record<string, string> = {
  '@opentelemetry/api': `
const unsupported = () => { throw new Error('weft bundles no @opentelemetry/api: metric exemplars are unsupported (build/stub-plugin.ts)'); };
module.exports = { trace: { getSpan: unsupported }, context: { active: unsupported } };
`,
  '@dabh/diagnostics': 'module.exports = () => () => {};',
};

export const dependencyStubs: Plugin = {
  name: 'dependency-stubs',
  setup(build) {
    build.onResolve({ filter: /^(@opentelemetry\/api|@dabh\/diagnostics)$/ }, (args) => ({ path: args.path, namespace: 'weft-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'weft-stub' }, (args) => ({ contents: STUBS[args.path] ?? '', loader: 'js' }));
  },
};
