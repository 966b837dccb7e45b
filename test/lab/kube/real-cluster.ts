// A real Kubernetes v1.20.2 cluster on this one machine, for weft's end-to-end tests, Kubernetes' own
// e2e suite and `test/demo.sh --kube`. Everything lives in namespaces with a per-run prefix and is
// owned by one NetnsScope: the control plane runs in the underlay namespace (192.0.2.1), each node
// (n1, n2, ...) in its own network + mount + UTS namespaces with containerd, kubelet and kube-proxy
// (see node-host.ts and node-services.ts). Pod networking is NOT installed: apply manifests/weft.yaml
// (weft-install.ts) as a user would; until then the nodes are registered but NotReady.
//
// API (small on purpose):
//   const cluster = await RealCluster.start({ nodes: 2 });   // nodes registered, podCIDRs assigned
//   cluster.adminKubeconfig     admin kubeconfig usable from the host namespace (127.0.0.1 port bridge)
//   cluster.apiserverUrl        that URL; cluster.labAdminKubeconfig uses https://192.0.2.1:6443 instead
//   cluster.nodeNames           e.g. ['n1', 'n2']
//   cluster.kubectl(args)       the tree's v1.20 kubectl as admin
//   cluster.underlayExec(cmd, args) / cluster.underlaySpawn(cmd, args)   run inside the underlay namespace
//   await cluster.addNode()     one more node joins (tokens exist for up to `maxNodes`)
//   await cluster.dispose()     stops every process by PID, kills what the nodes ran (by cgroup), removes
//                               namespaces, mounts (with their mount namespaces), cgroups and scratch dirs;
//                               also runs on SIGINT/SIGTERM.
import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { LabCluster } from '../cluster.js';
import { KUBE_BIN_DIR, type NodeObject } from '../kube-apiserver.js';
import { run, waitFor, type ExecResult, type NetnsScope } from '../netns.js';
import { startControlPlane, type ControlPlane } from './control-plane.js';
import { NodeHost } from './node-host.js';
import { buildImages, provisionImages, type ImageSet } from './node-images.js';
import { startContainerd, startKubelet, startKubeProxy } from './node-services.js';

export const KUBECTL = join(KUBE_BIN_DIR, 'kubectl');

export interface RealClusterOptions {
  /** Nodes started now (default 2). */
  nodes?: number;
  /** Nodes that may ever join (their tokens are made before the API server starts); default nodes + 1. */
  maxNodes?: number;
  /** First letter of the namespace prefix (default WEFT_NETNS_TAG or w). */
  tag?: string;
  /** Progress lines (the demo prints them). */
  log?: (line: string) => void;
  /** Dual stack (Kubernetes 1.20's IPv6DualStack gate): an IPv6 underlay too, podCIDRs and services in both families. */
  dualStack?: boolean;
}

export interface RealNode {
  name: string;
  ip: string;
  host: NodeHost;
  containerd: ChildProcess;
  kubelet: ChildProcess;
  kubeProxy: ChildProcess;
  /** The pod CIDR the controller-manager assigned (the IPv4 one on a dual-stack cluster). */
  podCidr: string;
  /** Every pod CIDR assigned (spec.podCIDRs: both families on a dual-stack cluster). */
  podCidrs: string[];
}

export class RealCluster {
  readonly nodes: RealNode[] = [];
  private disposed = false;

  private constructor(
    private readonly lab: LabCluster,
    private readonly control: ControlPlane,
    readonly images: ImageSet,
    readonly adminKubeconfig: string,
    private readonly maxNodes: number,
    private readonly log: (line: string) => void,
  ) {}

  /** Brings up the control plane and `nodes` nodes; resolves when every node is registered with a podCIDR. */
  static async start(opts: RealClusterOptions = {}): Promise<RealCluster> {
    const nodeCount = opts.nodes ?? 2;
    const maxNodes = opts.maxNodes ?? nodeCount + 1;
    if (!Number.isInteger(nodeCount) || nodeCount < 1 || maxNodes < nodeCount || maxNodes > 20) {
      throw new Error(`nodes ${nodeCount} / maxNodes ${maxNodes}: need 1 <= nodes <= maxNodes <= 20`);
    }
    const log = opts.log ?? ((): void => undefined);
    log('building or finding the container images (test/lab/image/build-images.sh)');
    const images = await buildImages();
    const lab = await LabCluster.create(opts.tag ?? 'k', { ipv6: opts.dualStack ?? false });
    try {
      log(`control plane in namespace ${lab.underlayNs} on 192.0.2.1: etcd, kube-apiserver, controller-manager, scheduler`);
      const names = Array.from({ length: maxNodes }, (_, i) => `n${i + 1}`);
      const control = await startControlPlane(lab.scope, lab.underlayNs, lab.workDir, names, opts.dualStack ?? false);
      const adminKubeconfig = await control.server.writeKubeconfig(control.server.adminToken, join(lab.workDir, 'admin.kubeconfig'));
      const cluster = new RealCluster(lab, control, images, adminKubeconfig, maxNodes, log);
      // The first node fills the image cache when it is cold; the others then clone it in parallel.
      await cluster.addNode();
      await Promise.all(Array.from({ length: nodeCount - 1 }, () => cluster.addNode()));
      return cluster;
    } catch (err) {
      await lab.dispose();
      throw err;
    }
  }

  get nodeNames(): string[] {
    return this.nodes.map((n) => n.name);
  }

  /** The API server URL reachable from the host namespace. */
  get apiserverUrl(): string {
    return this.control.server.hostUrl;
  }

  /** An admin kubeconfig for processes inside the lab (underlay or nodes): https://192.0.2.1:6443. */
  get labAdminKubeconfig(): string {
    return this.control.labAdminKubeconfig;
  }

  get prefix(): string {
    return this.lab.scope.prefix;
  }

  /** The scope that owns every namespace and process of this cluster (track extra processes with it). */
  get scope(): NetnsScope {
    return this.lab.scope;
  }

  /** The underlay namespace (control plane, 192.0.2.1). */
  get underlayNs(): string {
    return this.lab.underlayNs;
  }

  get workDir(): string {
    return this.lab.workDir;
  }

  node(name: string): RealNode {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new Error(`no node ${name} (nodes: ${this.nodeNames.join(', ')})`);
    return node;
  }

  /** Starts the next node (n<k>) and waits until it is registered and has a podCIDR. */
  async addNode(): Promise<RealNode> {
    const index = this.nodes.length + this.pendingNodes + 1;
    if (index > this.maxNodes) throw new Error(`node ${index} has no token: start the cluster with maxNodes >= ${index}`);
    this.pendingNodes++;
    try {
      const node = await this.startNode(index);
      this.nodes.push(node);
      this.nodes.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }));
      return node;
    } finally {
      this.pendingNodes--;
    }
  }

  private pendingNodes = 0;

  private async startNode(index: number): Promise<RealNode> {
    const lab = await this.lab.addNode(index);
    const dir = join(this.lab.workDir, 'nodes', lab.name);
    await mkdir(dir, { recursive: true });
    const host = await NodeHost.start(this.lab.scope, lab, dir, `${this.lab.scope.prefix}${lab.name}`);
    const started = Date.now();
    const how = await provisionImages(host, this.images);
    this.log(`  ${lab.name} ${lab.underlayIp}: images ${how} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const containerd = await startContainerd(host);
    const kubeconfig = this.control.nodeKubeconfigs.get(lab.name);
    if (!kubeconfig) throw new Error(`no kubeconfig for ${lab.name}`);
    const kubelet = await startKubelet(host, kubeconfig);
    const kubeProxy = startKubeProxy(host, this.control.proxyKubeconfig);
    const families = this.lab.ipv6 ? 2 : 1;
    const spec = await waitFor(`node ${lab.name} to register and get its podCIDRs`, async () => {
      await NodeHost.assertRunning(host, kubelet, 'kubelet');
      const res = await this.control.server.request('GET', `/api/v1/nodes/${lab.name}`);
      const nodeSpec = res.status === 200 ? (res.body as NodeObject).spec : undefined;
      return nodeSpec?.podCIDR !== undefined && (nodeSpec.podCIDRs ?? [nodeSpec.podCIDR]).length >= families ? nodeSpec : undefined;
    }, 90_000, 500);
    const podCidr = spec.podCIDR ?? '';
    const podCidrs = spec.podCIDRs ?? [podCidr];
    this.log(`  ${lab.name} registered, podCIDRs ${podCidrs.join(', ')}`);
    return { name: lab.name, ip: lab.underlayIp, host, containerd, kubelet, kubeProxy, podCidr, podCidrs };
  }

  /** The v1.20 kubectl as admin; rejects with kubectl's stderr on failure. */
  async kubectl(args: string[], input?: string): Promise<string> {
    try {
      return (await run(KUBECTL, ['--kubeconfig', this.adminKubeconfig, ...args], input)).stdout;
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr ?? '';
      throw new Error(`kubectl ${args.join(' ')}: ${stderr.trim() || (err as Error).message}`);
    }
  }

  /** kubectl ... -o json, parsed. */
  async kubectlJson<T>(args: string[]): Promise<T> {
    return JSON.parse(await this.kubectl([...args, '-o', 'json'])) as T;
  }

  async getNode(name: string): Promise<NodeObject> {
    return this.control.server.getNode(name);
  }

  /** Runs a command to completion in the underlay namespace (where the API server listens on 192.0.2.1). */
  async underlayExec(cmd: string, args: string[], input?: string): Promise<ExecResult> {
    return this.lab.scope.exec(this.lab.underlayNs, cmd, args, input);
  }

  /** Starts a long-running process in the underlay namespace; dispose() stops it by PID. */
  underlaySpawn(cmd: string, args: string[]): ChildProcess {
    return this.lab.scope.spawn(this.lab.underlayNs, cmd, args);
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    // Node cleanups (registered with the scope) run first, then the API server, then namespaces.
    await this.lab.dispose();
  }
}
