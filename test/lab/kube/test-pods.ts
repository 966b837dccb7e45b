// Test pods on a RealCluster, made by kubelet + containerd like any pod: one per node, pinned by its
// kubernetes.io/hostname label. Each has a `web` container (agnhost netexec: HTTP on 8080, /hostname
// answers the pod name) and a `sh` container (busybox) to run ping and wget from. Debian's
// busybox-static `wget -T` segfaults, so every wget is bounded by `timeout` instead.
import { waitFor } from '../netns.js';
import type { RealCluster } from './real-cluster.js';

export const AGNHOST_IMAGE = 'k8s.gcr.io/e2e-test-images/agnhost:2.21';
export const BUSYBOX_IMAGE = 'docker.io/library/busybox:1.29';
export const TEST_NAMESPACE = 'default';
export const WEB_PORT = 8080;

export interface TestPod {
  name: string;
  node: string;
  /** status.podIP: the IPv4 address on a dual-stack cluster. */
  ip: string;
  /** status.podIPs: one per family on a dual-stack cluster. */
  ips: string[];
  uid: string;
}

interface PodJson {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec: { nodeName?: string };
  status: { phase?: string; podIP?: string; podIPs?: { ip: string }[]; conditions?: { type: string; status: string }[] };
}

/** Test pods by the node they run on. */
export class PodsByNode extends Map<string, TestPod> {
  /** The pod on `node`; throws when there is none. */
  on(node: string): TestPod {
    const found = this.get(node);
    if (!found) throw new Error(`no test pod on ${node}`);
    return found;
  }
}

export function testPodManifest(name: string, node: string, labels: Record<string, string> = {}): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: TEST_NAMESPACE, labels: { 'weft-test': 'pod', ...labels } },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node },
      terminationGracePeriodSeconds: 1,
      containers: [
        { name: 'web', image: AGNHOST_IMAGE, imagePullPolicy: 'Never', args: ['netexec', `--http-port=${WEB_PORT}`], ports: [{ containerPort: WEB_PORT }] },
        { name: 'sh', image: BUSYBOX_IMAGE, imagePullPolicy: 'Never', command: ['sleep', '3600'] },
      ],
    },
  };
}

/** Creates the pods and waits until each runs with an IP and is Ready. */
export async function runTestPods(cluster: RealCluster, pods: { name: string; node: string; labels?: Record<string, string> }[], timeoutMs = 120_000): Promise<TestPod[]> {
  const list = { apiVersion: 'v1', kind: 'List', items: pods.map((p) => testPodManifest(p.name, p.node, p.labels)) };
  await cluster.kubectl(['apply', '-f', '-'], JSON.stringify(list));
  return Promise.all(pods.map((p) => waitForPod(cluster, p.name, timeoutMs)));
}

export async function waitForPod(cluster: RealCluster, name: string, timeoutMs = 120_000): Promise<TestPod> {
  return waitFor(`pod ${name} to be Ready with an IP`, async () => {
    const pod = await cluster.kubectlJson<PodJson>(['-n', TEST_NAMESPACE, 'get', 'pod', name]);
    const ready = pod.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    if (!ready || !pod.status.podIP || !pod.spec.nodeName) return undefined;
    const ips = (pod.status.podIPs ?? []).map((entry) => entry.ip);
    return { name, node: pod.spec.nodeName, ip: pod.status.podIP, ips: ips.length > 0 ? ips : [pod.status.podIP], uid: pod.metadata.uid };
  }, timeoutMs, 500);
}

/** Deletes pods without waiting for the API objects to go (kubelet 1.20 takes about a minute for that). */
export async function deleteTestPods(cluster: RealCluster, names: string[]): Promise<void> {
  if (names.length > 0) await cluster.kubectl(['-n', TEST_NAMESPACE, 'delete', 'pod', '--wait=false', '--ignore-not-found', ...names]);
}

/** Runs a command in the pod's busybox container; resolves with stdout, rejects on a non-zero exit. */
export async function podExec(cluster: RealCluster, pod: string, command: string[]): Promise<string> {
  return cluster.kubectl(['-n', TEST_NAMESPACE, 'exec', pod, '-c', 'sh', '--', ...command]);
}

/** Sends `count` pings from the pod at `intervalS`; returns how many were answered. */
export async function ping(cluster: RealCluster, from: string, ip: string, count = 3, intervalS = 0.2): Promise<number> {
  const out = await podExec(cluster, from, ['ping', '-q', '-c', String(count), '-i', String(intervalS), '-W', '1', ip])
    .catch((err: unknown) => (err as Error).message);
  return Number(/(\d+) packets received/.exec(out)?.[1] ?? 0);
}

/** HTTP GET from the pod (busybox wget, bounded by timeout); resolves with the body. */
export async function httpGet(cluster: RealCluster, from: string, url: string, timeoutS = 5): Promise<string> {
  return podExec(cluster, from, ['timeout', String(timeoutS), 'wget', '-qO-', url]);
}
