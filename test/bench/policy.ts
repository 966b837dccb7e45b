// NetworkPolicy benchmark, runnable alone (root): `node dist/test/bench/policy.js [--smoke]`.
// 1. Scaling: compile + render time and rule-set size as pods and policies grow, and the time of
//    the nft transaction that installs it (in a lab namespace).
// 2. Throughput: iperf3 pod to pod on one node with a policy that allows the traffic vs none.
// 3. API to enforced: with 1000 pods (on 10 fake nodes, 100 local) and 200 policies in a real
//    kube-apiserver, the time from creating a policy to its rules being in the node's table, p50/p99
//    (skipped with a note when the v1.20.2 binaries are not built).
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseRange } from '../../policy/address-ranges.js';
import type { KubeNetworkPolicy, KubePod } from '../../policy/api-types.js';
import { renderRuleset } from '../../policy/nft-ruleset.js';
import { NftWriter, nftRunner } from '../../policy/nft-writer.js';
import { compileNodePolicy } from '../../policy/policy-compiler.js';
import { makeNamespace, makePod, makePolicy } from '../../policy/testing/fixtures.js';
import { KUBE_APISERVER_BINARY, KubeApiServer } from '../lab/kube-apiserver.js';
import { NetnsScope, waitFor } from '../lab/netns.js';
import { PolicyLab } from '../lab/policy-lab.js';
import { median } from './kernel-state.js';

const smoke = process.argv.includes('--smoke');
const say = (line: string): void => { process.stdout.write(`${line}\n`); };
const CONTROLLER = fileURLToPath(new URL('../../cmd/weft-policy.js', import.meta.url));
const NAMESPACES = 20;

/** `pods` pods over 10 nodes (n1 local) in 20 namespaces; `policies` policies, each allowing one app from one namespace. */
export function syntheticWorld(pods: number, policies: number): { pods: KubePod[]; namespaces: ReturnType<typeof makeNamespace>[]; policies: KubeNetworkPolicy[] } {
  const podList = Array.from({ length: pods }, (_, i) => makePod(`ns${String(i % NAMESPACES)}`, `pod${String(i)}`, {
    node: `n${String((i % 10) + 1)}`,
    ip: `10.${String(100 + (i % 10))}.${String(Math.floor(i / 250))}.${String((i % 250) + 1)}`,
    labels: { app: `app${String(i % 50)}` },
    ports: { http: '8080' },
  }));
  const policyList = Array.from({ length: policies }, (_, i) => makePolicy(`ns${String(i % NAMESPACES)}`, `policy${String(i)}`, {
    podSelector: { matchLabels: { app: `app${String(i % 50)}` } },
    ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: `ns${String((i + 1) % NAMESPACES)}` } } }], ports: [{ port: 'http' }, { port: 80 }] }],
  }));
  return { pods: podList, namespaces: Array.from({ length: NAMESPACES }, (_, i) => makeNamespace(`ns${String(i)}`)), policies: policyList };
}

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
};

async function scaling(): Promise<void> {
  say('## 1. Rule-set size and update time as pods and policies grow (node n1 holds 1/10 of the pods)');
  say('| pods | policies | compile ms | render ms | chains | rules | set elements | nft -f ms |');
  say('| --- | --- | --- | --- | --- | --- | --- | --- |');
  const scope = new NetnsScope();
  try {
    const ns = await scope.createNamespace('pbench');
    const writer = new NftWriter(nftRunner(['ip', 'netns', 'exec', ns, 'nft']));
    const sizes = smoke ? [[100, 20], [1000, 200]] : [[100, 20], [1000, 200], [1000, 1000], [5000, 200], [5000, 1000]];
    for (const [pods = 0, policies = 0] of sizes) {
      const world = syntheticWorld(pods, policies);
      const t0 = performance.now();
      const model = compileNodePolicy(world, 'n1');
      const t1 = performance.now();
      const rendered = renderRuleset(model, { localSubnets: [parseRange('10.100.0.0/16')] });
      const t2 = performance.now();
      const applyMs: number[] = [];
      for (let r = 0; r < 3; r++) {
        const start = performance.now();
        await writer.apply(rendered.script);
        applyMs.push(performance.now() - start);
      }
      const { chains, rules, setElements } = rendered.size;
      say(`| ${String(pods)} | ${String(policies)} | ${(t1 - t0).toFixed(1)} | ${(t2 - t1).toFixed(1)} | ${String(chains)} | ${String(rules)} | ${String(setElements)} | ${median(applyMs).toFixed(0)} |`);
    }
  } finally {
    await scope.dispose();
  }
}

async function throughput(): Promise<void> {
  say('\n## 2. Throughput pod to pod (same node, iperf3 TCP), allowing policy vs no policy');
  const lab = await PolicyLab.create(['a', 'b']);
  try {
    const writer = new NftWriter(nftRunner(['ip', 'netns', 'exec', lab.nodeNs, 'nft']));
    const a = lab.pod('a');
    const pods = [makePod('x', 'a', { ip: a.ip, node: 'n1' }), makePod('x', 'b', { ip: lab.pod('b').ip, node: 'n1' })];
    const allow = makePolicy('x', 'iperf', { ingress: [{ from: [{ podSelector: {} }], ports: [{ port: 5201 }] }], egress: [{ ports: [{ port: 5201 }] }], policyTypes: ['Ingress', 'Egress'] });
    const runs = smoke ? 1 : 3;
    const seconds = smoke ? 1 : 5;
    const results: Record<string, number[]> = { none: [], policy: [] };
    for (let r = 0; r < runs; r++) {
      for (const mode of ['none', 'policy'] as const) {
        const world = { pods, namespaces: [makeNamespace('x')], policies: mode === 'policy' ? [allow] : [] };
        await writer.apply(renderRuleset(compileNodePolicy(world, 'n1'), { localSubnets: [parseRange('10.244.1.0/24')] }).script);
        const server = lab.scope.spawn(a.ns, 'iperf3', ['-s', '-1', '-B', a.ip]);
        await new Promise((resolve) => setTimeout(resolve, 300));
        const { stdout } = await lab.scope.exec(lab.pod('b').ns, 'iperf3', ['-c', a.ip, '-t', String(seconds), '-J']);
        server.kill('SIGTERM');
        results[mode]?.push((JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e9);
      }
    }
    const none = median(results['none'] ?? []);
    const policy = median(results['policy'] ?? []);
    say(`no policy ${none.toFixed(2)} Gbit/s, allowing policy ${policy.toFixed(2)} Gbit/s, ratio ${(policy / none).toFixed(2)} (target >= 0.95; medians of ${String(runs)})`);
  } finally {
    await lab.dispose();
  }
}

async function apiToEnforced(): Promise<void> {
  say('\n## 3. API change to rules in place (1000 pods, 200 policies in a real kube-apiserver)');
  if (!existsSync(KUBE_APISERVER_BINARY)) {
    say(`skipped: ${KUBE_APISERVER_BINARY} is missing (test/lab/build-kube.sh builds it)`);
    return;
  }
  const scope = new NetnsScope();
  const ns = await scope.createNamespace('pbapi');
  const server = await KubeApiServer.start({ scope, ns, bindAddress: '127.0.0.1' });
  try {
    const world = syntheticWorld(smoke ? 200 : 1000, smoke ? 40 : 200);
    const post = (path: string, body: unknown): Promise<unknown> => server.requestOk('POST', path, body);
    for (const n of world.namespaces) {
      await post('/api/v1/namespaces', n);
      await post(`/api/v1/namespaces/${n.metadata?.name ?? ''}/serviceaccounts`, { metadata: { name: 'default' } });
    }
    const created = Date.now();
    await inBatches(world.pods, 8, async (pod) => {
      const namespace = pod.metadata?.namespace ?? '';
      await post(`/api/v1/namespaces/${namespace}/pods`, { ...pod, spec: { ...pod.spec, automountServiceAccountToken: false }, status: undefined });
      await server.requestOk('PATCH', `/api/v1/namespaces/${namespace}/pods/${pod.metadata?.name ?? ''}/status`, { status: pod.status }, { contentType: 'application/merge-patch+json' });
    });
    await inBatches(world.policies, 8, (p) => post(`/apis/networking.k8s.io/v1/namespaces/${p.metadata?.namespace ?? ''}/networkpolicies`, p));
    say(`objects created in ${String(Date.now() - created)} ms`);
    const kubeconfig = await server.writeKubeconfig(server.adminToken, join(server.workDir, 'bench.kubeconfig'), `https://127.0.0.1:${String(server.securePort)}`);
    const subnetFile = join(server.workDir, 'subnet.env');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.0.0.0/8\nFLANNEL_SUBNET=10.100.0.1/16\nFLANNEL_MTU=1450\n');
    scope.spawn(ns, process.execPath, [CONTROLLER, '--kubeconfig-file', kubeconfig, '--node-name', 'n1', '--subnet-file', subnetFile, '--metrics-port', '0', '--debounce-ms', '20', '--log-level', 'warn']);
    const table = async (): Promise<string> => (await scope.exec(ns, 'nft', ['list', 'table', 'inet', 'weft-policy']).catch(() => ({ stdout: '' }))).stdout;
    await waitFor('the first table', async () => ((await table()).includes('chain ing_') ? true : undefined), 120_000, 200);
    const latencies: number[] = [];
    for (let i = 0; i < (smoke ? 5 : 40); i++) {
      const port = 20_000 + i;
      const start = Date.now();
      await post('/apis/networking.k8s.io/v1/namespaces/ns0/networkpolicies', makePolicy('ns0', `probe${String(i)}`, { podSelector: { matchLabels: { app: 'app0' } }, ingress: [{ ports: [{ port }] }] }));
      await waitFor(`port ${String(port)} in the table`, async () => ((await table()).includes(`tcp . ${String(port)}`) ? true : undefined), 30_000, 10);
      latencies.push(Date.now() - start);
    }
    say(`policy created -> enforced: p50 ${String(percentile(latencies, 50))} ms, p99 ${String(percentile(latencies, 99))} ms (${String(latencies.length)} policies; includes the POST and polling nft every 10 ms)`);
  } finally {
    await scope.dispose();
    await server.dispose();
  }
}

async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

say(`# weft NetworkPolicy benchmark${smoke ? ' (smoke)' : ''}\n`);
await scaling();
await throughput();
await apiToEnforced();
