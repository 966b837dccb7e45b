// The truth-table pods on a RealCluster: namespaces x, y, z (label ns=<name>) with pods a, b, c
// (label pod=<name>), spread over the nodes, each serving TCP and UDP on 80 and 81 (two agnhost
// netexec containers) under the named ports of policy/testing/netpol-matrix.ts. The prober execs
// into each source pod once per round and probes every target and port from there in parallel
// (netcat-openbsd in the agnhost image): 9 kubectl execs a round instead of 324.
import type { KubePod } from '../../../policy/api-types.js';
import { MATRIX_NAMESPACES, MATRIX_NAMED_PORTS, MATRIX_PODS, MATRIX_PORTS, matrixPodKeys, type Prober } from '../../../policy/testing/netpol-matrix.js';
import type { Protocol } from '../../../policy/policy-model.js';
import { waitFor } from '../netns.js';
import type { RealCluster } from './real-cluster.js';
import { AGNHOST_IMAGE } from './test-pods.js';

/** Seconds a probe waits: a dropped SYN or datagram is "denied" after this. */
const PROBE_TIMEOUT_S = 2;
/**
 * Tries before a connection counts as denied. One lost UDP answer at load 20-30 once failed a
 * pod reaching itself with no policy at all; a denied connection stays denied on every try, and
 * any answer is still a leak.
 */
const PROBE_ATTEMPTS = 3;
/** kubectl execs in flight at once (each runs 36 probes). */
const EXEC_PARALLEL = 3;

function portsOf(port: number): { name: string; containerPort: number; protocol: Protocol }[] {
  return Object.entries(MATRIX_NAMED_PORTS)
    .map(([name, spec]) => ({ name, containerPort: Number(spec.split('/')[0]), protocol: (spec.split('/')[1] ?? 'TCP') as Protocol }))
    .filter((p) => p.containerPort === port);
}

function matrixPodManifest(namespace: string, name: string, node: string): object {
  const server = (port: number): object => ({
    name: `serve-${String(port)}`, image: AGNHOST_IMAGE, imagePullPolicy: 'Never',
    args: ['netexec', `--http-port=${String(port)}`, `--udp-port=${String(port)}`], ports: portsOf(port),
  });
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { namespace, name, labels: { pod: name } },
    spec: { nodeSelector: { 'kubernetes.io/hostname': node }, terminationGracePeriodSeconds: 1, containers: [server(80), server(81)] },
  };
}

/** Creates x/y/z and their pods (round-robin over the nodes) and resolves with the pods as the API has them once all are Ready. */
export async function startMatrixPods(cluster: RealCluster, timeoutMs = 240_000): Promise<KubePod[]> {
  const namespaces = MATRIX_NAMESPACES.map((name) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ns: name } } }));
  const pods = matrixPodKeys().map((key, index) => {
    const [namespace = '', name = ''] = key.split('/');
    return matrixPodManifest(namespace, name, cluster.nodeNames[index % cluster.nodeNames.length] ?? 'n1');
  });
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: namespaces }));
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: pods }));
  return waitFor('the 9 matrix pods to be Ready', async () => {
    const found: KubePod[] = [];
    for (const namespace of MATRIX_NAMESPACES) {
      found.push(...(await cluster.kubectlJson<{ items: KubePod[] }>(['-n', namespace, 'get', 'pods'])).items);
    }
    const ready = found.filter((p) => p.status?.podIP && (p.status as { conditions?: { type: string; status: string }[] }).conditions
      ?.some((c) => c.type === 'Ready' && c.status === 'True'));
    return ready.length === MATRIX_NAMESPACES.length * MATRIX_PODS.length ? ready : undefined;
  }, timeoutMs, 1000);
}

/** One bash script probing every target on every matrix port; prints "<ip> <proto> <port> ok|no" lines. */
function probeScript(targets: readonly string[]): string {
  const lines: string[] = [];
  for (const ip of targets) {
    for (const { protocol, port } of MATRIX_PORTS) {
      const p = String(port);
      const check = protocol === 'TCP'
        ? `nc -z -w ${String(PROBE_TIMEOUT_S)} ${ip} ${p}`
        // netexec answers "hostname" with the pod name: an answer proves the datagram got there and back.
        : `[ -n "$(echo hostname | nc -u -w ${String(PROBE_TIMEOUT_S)} ${ip} ${p})" ]`;
      const attempts = Array.from({ length: PROBE_ATTEMPTS }, () => `${check} >/dev/null 2>&1`).join(' || ');
      lines.push(`( if ${attempts}; then echo "${ip} ${protocol} ${p} ok"; else echo "${ip} ${protocol} ${p} no"; fi ) &`);
    }
  }
  return [...lines, 'wait'].join('\n');
}

/**
 * A prober for one round (one policy state): the first call starts every source's exec, later
 * calls read their results. Make a new one after each policy change.
 */
export function matrixRoundProber(cluster: RealCluster, pods: readonly KubePod[]): Prober {
  const ipOf = new Map<string, string>(pods.map((p) => [`${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`, p.status?.podIP ?? '']));
  const targets = matrixPodKeys().map((key) => ipOf.get(key) ?? '');
  let results: Promise<Map<string, Set<string>>> | undefined;
  const probeFrom = async (from: string): Promise<Set<string>> => {
    const [namespace = '', name = ''] = from.split('/');
    const out = await cluster.kubectl(['-n', namespace, 'exec', '-i', name, '-c', 'serve-80', '--', 'bash', '-s'], probeScript(targets));
    const ok = new Set(out.split('\n').filter((l) => l.endsWith(' ok')).map((l) => l.slice(0, -3)));
    const answered = out.split('\n').filter((l) => / (ok|no)$/.test(l)).length;
    if (answered !== targets.length * MATRIX_PORTS.length) throw new Error(`probes from ${from}: ${String(answered)} answers, expected ${String(targets.length * MATRIX_PORTS.length)}:\n${out}`);
    return ok;
  };
  const all = async (): Promise<Map<string, Set<string>>> => {
    const map = new Map<string, Set<string>>();
    const queue = matrixPodKeys();
    const worker = async (): Promise<void> => {
      for (let from = queue.shift(); from !== undefined; from = queue.shift()) map.set(from, await probeFrom(from));
    };
    await Promise.all(Array.from({ length: EXEC_PARALLEL }, worker));
    return map;
  };
  return async (from, to, protocol, port) => {
    results ??= all();
    return (await results).get(from)?.has(`${ipOf.get(to) ?? ''} ${protocol} ${String(port)}`) ?? false;
  };
}
