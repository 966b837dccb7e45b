// `bash test/e2e-upstream.sh [suite ...]`: brings up a two-node real cluster with weft applied from
// its manifest (dual-stack, with EnableIPv6 in the ConfigMap, when the dualstack suite is named),
// runs the named suites of Kubernetes' own e2e tests, prints each suite's verdict and exits 1 if
// any test failed or the run timed out. `--focus REGEX` narrows the suites to the tests whose
// names also match it. Ctrl-C tears the cluster down.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RealCluster } from './kube/real-cluster.js';
import { applyWeft, enableDualStack, waitForWeft } from './kube/weft-install.js';
import { runUpstreamE2e, UPSTREAM_SUITES, type UpstreamSuite } from './upstream-e2e.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
const say = (line: string): void => { process.stdout.write(`${line}\n`); };
const argv = process.argv.slice(2);
const focusAt = argv.indexOf('--focus');
const narrow = focusAt >= 0 ? argv.splice(focusAt, 2)[1] : undefined;
const requested = argv;
const suites = (requested.length > 0 ? requested : ['services', 'netpol']) as UpstreamSuite[];
for (const s of suites) {
  if (!(s in UPSTREAM_SUITES)) {
    process.stderr.write(`e2e-upstream: unknown suite "${s}"; choose from ${Object.keys(UPSTREAM_SUITES).join(', ')}\n`);
    process.exit(2);
  }
}

const dualStack = suites.includes('dualstack');
const cluster = await RealCluster.start({ nodes: 2, log: say, dualStack });
let failures = 0;
try {
  // Dual stack from the first weftd on: net-conf.json is edited before the apply.
  await applyWeft(cluster, dualStack ? enableDualStack : undefined);
  await waitForWeft(cluster);
  for (const suite of suites) {
    const reportDir = join(repoRoot, 'test', 'results', 'e2e', `${suite}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
    say(`== ${suite}: ${UPSTREAM_SUITES[suite]}`);
    const result = await runUpstreamE2e(
      { scope: cluster.scope, netns: cluster.underlayNs, standInAddress: '192.0.2.1', kubeconfig: cluster.labAdminKubeconfig, nodeCount: cluster.nodes.length },
      { focus: narrow === undefined ? UPSTREAM_SUITES[suite] : `(${UPSTREAM_SUITES[suite]}).*(${narrow})`, reportDir, timeoutMs: 75 * 60_000, log: say },
    );
    for (const name of result.failed) say(`FAILED: ${name}`);
    say(`${suite}: ${result.passed.length} passed, ${result.failed.length} failed${result.timedOut ? ', stopped by the timeout before the rest ran' : ''} (report: ${reportDir})`);
    failures += result.failed.length + (result.timedOut ? 1 : 0);
  }
} finally {
  await cluster.dispose();
}
process.exit(failures > 0 ? 1 : 0);
