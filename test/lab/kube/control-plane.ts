// The real cluster's control plane, all in the underlay namespace on 192.0.2.1: etcd and
// kube-apiserver (KubeApiServer: token auth, Node,RBAC, the lease endpoint reconciler so the
// `kubernetes` Service points at 192.0.2.1:6443), kube-controller-manager (allocates node pod CIDRs
// from the cluster CIDR; its token controller gives service accounts, e.g. weft's, their tokens)
// and kube-scheduler. Node and kube-proxy tokens must exist before the API server starts (it reads
// --token-auth-file once), so every node that may ever join gets its token here.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type KubeUser } from '../kube-apiserver-files.js';
import { KUBE_BIN_DIR, KubeApiServer } from '../kube-apiserver.js';
import { waitFor, type NetnsScope } from '../netns.js';
import { DEFAULT_IPV6_NETWORK, DEFAULT_NETWORK, UNDERLAY_GATEWAY } from '../topology.js';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';

export const SERVICE_CIDR = '10.96.0.0/16';
/** The IPv6 service range of a dual-stack cluster. */
export const SERVICE_CIDR6 = 'fd00:96::/108';
/** The `kubernetes` Service's VIP (first address of SERVICE_CIDR): pods reach the API there. */
export const KUBERNETES_SERVICE_IP = '10.96.0.1';
export const APISERVER_PORT = 6443;

export interface ControlPlane {
  server: KubeApiServer;
  /** Kubeconfig for clients inside the lab (server https://192.0.2.1:6443), admin rights. */
  labAdminKubeconfig: string;
  /** Per node name: a kubeconfig (lab URL) with that node's kubelet identity. */
  nodeKubeconfigs: Map<string, string>;
  /** Kubeconfig (lab URL) for kube-proxy (system:kube-proxy). */
  proxyKubeconfig: string;
}

const nodeUser = (name: string): KubeUser => ({ token: randomBytes(16).toString('hex'), name: `system:node:${name}`, groups: ['system:nodes'] });

/** Kubernetes 1.20's alpha gate for dual stack, on every component of a dual-stack cluster. */
export const DUAL_STACK_GATE = '--feature-gates=IPv6DualStack=true';

/**
 * Starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler in `underlayNs`; with
 * `dualStack`, services and node pod CIDRs come in both families (IPv4 first).
 */
export async function startControlPlane(scope: NetnsScope, underlayNs: string, workDir: string, nodeNames: string[], dualStack = false): Promise<ControlPlane> {
  const gate = dualStack ? [DUAL_STACK_GATE] : [];
  const serviceRange = dualStack ? `${SERVICE_CIDR},${SERVICE_CIDR6}` : SERVICE_CIDR;
  const nodes = new Map(nodeNames.map((name) => [name, nodeUser(name)]));
  const proxy: KubeUser = { token: randomBytes(16).toString('hex'), name: 'system:kube-proxy' };
  const server = await KubeApiServer.start({
    scope, ns: underlayNs, bindAddress: UNDERLAY_GATEWAY, securePort: APISERVER_PORT,
    authorizationMode: 'Node,RBAC', serviceClusterIpRange: serviceRange, endpointReconciler: 'lease',
    extraSans: [`IP:${KUBERNETES_SERVICE_IP}`, 'DNS:kubernetes', 'DNS:kubernetes.default', 'DNS:kubernetes.default.svc'],
    extraUsers: [...nodes.values(), proxy],
    // Nodes are known by their InternalIP (their names resolve nowhere): logs, exec, port-forward.
    extraArgs: ['--kubelet-preferred-address-types=InternalIP', '--allow-privileged=true', ...gate],
  });
  // Runs after the nodes' cleanups (registered later): the API server, etcd, their port bridge and files.
  scope.addCleanup(() => server.dispose());
  const labUrl = server.url;
  const labAdminKubeconfig = await server.writeKubeconfig(server.adminToken, join(workDir, 'admin-lab.kubeconfig'), labUrl);
  const nodeKubeconfigs = new Map<string, string>();
  for (const [name, user] of nodes) nodeKubeconfigs.set(name, await server.writeKubeconfig(user.token, join(workDir, `${name}.kubeconfig`), labUrl));
  const proxyKubeconfig = await server.writeKubeconfig(proxy.token, join(workDir, 'kube-proxy.kubeconfig'), labUrl);

  const spawnLogged = (name: string, args: string[]): ChildProcess => {
    const child = scope.spawn(underlayNs, join(KUBE_BIN_DIR, name), args);
    const log = createWriteStream(join(workDir, `${name}.log`), { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    return child;
  };
  spawnLogged('kube-controller-manager', [
    `--kubeconfig=${labAdminKubeconfig}`, '--leader-elect=false', '--port=0', '--secure-port=0',
    '--allocate-node-cidrs',
    ...(dualStack
      ? [`--cluster-cidr=${DEFAULT_NETWORK},${DEFAULT_IPV6_NETWORK}`, '--node-cidr-mask-size-ipv4=24', '--node-cidr-mask-size-ipv6=64', ...gate]
      : [`--cluster-cidr=${DEFAULT_NETWORK}`, '--node-cidr-mask-size=24']),
    `--service-cluster-ip-range=${serviceRange}`,
    `--service-account-private-key-file=${server.serviceAccountKeyFile}`, `--root-ca-file=${server.caFile}`,
    '--use-service-account-credentials=false', '--logtostderr=true', '--v=1',
  ]);
  spawnLogged('kube-scheduler', [`--kubeconfig=${labAdminKubeconfig}`, '--leader-elect=false', '--port=0', '--secure-port=0', '--logtostderr=true', '--v=1', ...gate]);
  // The token controller is up once the default namespace's service account has its secret.
  await waitFor('the default service account token (controller-manager running)', async () => {
    const res = await server.request('GET', '/api/v1/namespaces/default/serviceaccounts/default');
    const secrets = (res.body as { secrets?: unknown[] }).secrets;
    return res.status === 200 && secrets && secrets.length > 0 ? true : undefined;
  }, 60_000, 500);
  return { server, labAdminKubeconfig, nodeKubeconfigs, proxyKubeconfig };
}
