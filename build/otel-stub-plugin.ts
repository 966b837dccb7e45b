// esbuild plugin: prom-client requires @opentelemetry/api (~60 KB, evaluated at every start) only to
// attach trace exemplars to process_cpu_* when collectDefaultMetrics({ enableExemplars: true }) asks
// for them. weft never does, so the bundle gets a stand-in that fails loudly if that ever changes.
import type { Plugin } from 'esbuild';

const STUB = `
const unsupported = () => { throw new Error('weft bundles no @opentelemetry/api: metric exemplars are unsupported (build/otel-stub-plugin.ts)'); };
module.exports = { trace: { getSpan: unsupported }, context: { active: unsupported } };
`;

export const openTelemetryStub: Plugin = {
  name: 'opentelemetry-stub',
  setup(build) {
    build.onResolve({ filter: /^@opentelemetry\/api$/ }, () => ({ path: 'opentelemetry-api-stub', namespace: 'weft-stub' }));
    build.onLoad({ filter: /.*/, namespace: 'weft-stub' }, () => ({ contents: STUB, loader: 'js' }));
  },
};
