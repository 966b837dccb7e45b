// NetworkPolicy on real nodes: a two-node RealCluster (kubelet + containerd), weft applied from
// manifests/weft.yaml (its weft-policy container enforces), the truth-table pods x/y/z x a/b/c
// spread over both nodes, and for no policy and each of the 12 cases of policy/testing/netpol-matrix.ts
// the full 9 x 9 reachability matrix on TCP and UDP 80 and 81 probed from inside the pods and
// compared with the case's truth table, written by hand from the API's rules. Then a
// fault: the weft pod of a node is deleted and replaced while a default-deny policy is in force and
// a probe runs across it: no denied connection may get through.
import { jest } from '@jest/globals';
import type { KubePod } from '../../policy/api-types.js';
import { checkMatrix, MATRIX_CASES, type MatrixCase } from '../../policy/testing/netpol-matrix.js';
import { waitFor } from '../lab/netns.js';
import { matrixRoundProber, startMatrixPods } from '../lab/kube/matrix-pods.js';
import { RealCluster } from '../lab/kube/real-cluster.js';
import { applyWeft, waitForWeft, WEFT_NAMESPACE } from '../lab/kube/weft-install.js';

jest.setTimeout(300_000);

/** Time for both controllers to see a change and write it (debounce 100 ms + nft); measured ~1 s. */
const SETTLE_MS = 3000;
const NO_POLICY: MatrixCase = { name: 'no policies', policies: () => [], allows: () => true };

interface WeftPod {
  metadata: { name: string };
  spec: { nodeName?: string };
  status: { conditions?: { type: string; status: string }[] };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const keyOf = (p: KubePod): string => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`;

describe('NetworkPolicy on real nodes (kubelet + containerd, weft-policy from the manifest)', () => {
  let cluster: RealCluster;
  let pods: KubePod[];
  const ipOf = (key: string): string => pods.find((p) => keyOf(p) === key)?.status?.podIP ?? '';
  const nodeOf = (key: string): string => pods.find((p) => keyOf(p) === key)?.spec?.nodeName ?? '';

  beforeAll(async () => {
    cluster = await RealCluster.start({ nodes: 2 });
    await applyWeft(cluster);
    await waitForWeft(cluster);
    pods = await startMatrixPods(cluster);
  }, 600_000);

  afterAll(async () => {
    await (cluster as RealCluster | undefined)?.dispose();
  }, 120_000);

  async function applyPolicies(matrixCase: MatrixCase): Promise<string[]> {
    const policies = matrixCase.policies(new Map(pods.map((p) => [keyOf(p), p.status?.podIP ?? ''])));
    if (policies.length > 0) await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: policies }));
    await sleep(SETTLE_MS);
    return policies.map((p) => `${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`);
  }

  async function deletePolicies(keys: string[]): Promise<void> {
    for (const key of keys) {
      const [namespace = '', name = ''] = key.split('/');
      await cluster.kubectl(['-n', namespace, 'delete', 'networkpolicy', name, '--wait=false']);
    }
    await sleep(SETTLE_MS);
  }

  it('spreads the matrix pods over both nodes', () => {
    expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(2);
  });

  it.each([NO_POLICY, ...MATRIX_CASES].map((c) => [c.name, c] as const))('full matrix: %s', async (_name, matrixCase) => {
    const applied = await applyPolicies(matrixCase);
    try {
      expect(await checkMatrix(matrixCase, matrixRoundProber(cluster, pods))).toEqual([]);
    } finally {
      await deletePolicies(applied);
    }
  });

  it('keeps default deny in force while the weft pod of the node is deleted and replaced (no denied connection gets through)', async () => {
    const [deny] = MATRIX_CASES.filter((c) => c.name === 'deny all ingress in x');
    if (!deny) throw new Error('no deny case');
    const applied = await applyPolicies(deny);
    const target = ipOf('x/b');
    const node = nodeOf('x/b');
    const weftPods = async (): Promise<WeftPod[]> => (await cluster.kubectlJson<{ items: WeftPod[] }>(['-n', WEFT_NAMESPACE, 'get', 'pods', '-l', 'k8s-app=weft'])).items;
    const old = (await weftPods()).find((p) => p.spec.nodeName === node);
    if (!old) throw new Error(`no weft pod on ${node}`);
    // From y/a: a TCP attempt every 1.25 s (a denied one waits out its 1 s) until told to stop; each that connects prints "open".
    const probing = cluster.kubectl(['-n', 'y', 'exec', 'a', '-c', 'serve-80', '--', 'bash', '-c',
      `n=0; for i in $(seq 1 600); do [ -e /tmp/stop ] && break; n=$((n+1)); nc -z -w 1 ${target} 80 && echo open; sleep 0.25; done; echo "tries $n"`]);
    await sleep(2000);
    await cluster.kubectl(['-n', WEFT_NAMESPACE, 'delete', 'pod', old.metadata.name, '--wait=false']);
    await waitFor(`the replacement weft pod on ${node} to be Ready`, async () => {
      const fresh = (await weftPods()).find((p) => p.spec.nodeName === node && p.metadata.name !== old.metadata.name);
      return fresh?.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ? true : undefined;
    }, 140_000, 1000);
    await sleep(SETTLE_MS);
    await cluster.kubectl(['-n', 'y', 'exec', 'a', '-c', 'serve-80', '--', 'touch', '/tmp/stop']);
    const output = await probing;
    const tries = Number(/tries (\d+)/.exec(output)?.[1] ?? 0);
    // The probe started before the delete and was still running (below its 600 tries) when stopped
    // after the replacement was Ready, so it covered the whole replacement (20-70 s here, by load).
    expect(tries).toBeGreaterThanOrEqual(10);
    expect(tries).toBeLessThan(600);
    expect(output.split('\n').filter((l) => l === 'open')).toHaveLength(0);
    // The same probe does connect once the policy is gone: the check above could have failed.
    await deletePolicies(applied);
    const after = await cluster.kubectl(['-n', 'y', 'exec', 'a', '-c', 'serve-80', '--', 'bash', '-c', `nc -z -w 2 ${target} 80 && echo open`]);
    expect(after.trim()).toBe('open');
  });
});
