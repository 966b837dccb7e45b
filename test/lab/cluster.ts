// A local weft cluster: nodes and pods are network namespaces on one machine, joined by an
// underlay bridge; a real etcd runs in the underlay namespace; each node runs the real weftd.
// Used by the demo (test/lab/demo.ts) and the end-to-end tests. Everything it makes lives in
// namespaces with a per-run prefix and is removed by dispose(), also on failure and on Ctrl-C.
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { chainAdd, chainDel, installLabPlugin, readConflist, resultAddresses, BUNDLED_CONFLIST, type Attachment, type Conflist } from './cni-runtime.js';
import { KubeApiServer } from './kube-apiserver.js';
import { NetnsScope, stopProcess, waitFor } from './netns.js';
import { bridgePort, type PortBridge } from './port-bridge.js';
import {
  DEFAULT_NETWORK, ETCD_PORT, UNDERLAY_GATEWAY, UNDERLAY_PREFIX, UNDERLAY_PREFIX_LENGTH, UNDERLAY6_GATEWAY, UNDERLAY6_PREFIX, UNDERLAY6_PREFIX_LENGTH,
  nodeUnderlayIp, nodeUnderlayIpv6,
} from './topology.js';

const distRoot = fileURLToPath(new URL('../..', import.meta.url));
export const WEFTD = join(distRoot, 'cmd', 'weftd.js');

export interface LabNode {
  index: number;
  name: string;
  ns: string;
  underlayIp: string;
  /** Its IPv6 underlay address when the lab was created with ipv6. */
  underlayIpv6: string | undefined;
  subnetFile: string;
  logFile: string;
  daemon: ChildProcess | undefined;
}

export interface LabPod {
  node: LabNode;
  ns: string;
  /** The first address of the CNI result (IPv4 on a dual-stack node). */
  ip: string;
  /** Every address of the CNI result: one per family on a dual-stack node. */
  ips: string[];
  /** How the CNI plugin attached it (DEL replays this). */
  attachment: Attachment;
  /** The chain's ADD result. */
  result: Record<string, unknown>;
}

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class LabCluster {
  readonly nodes: LabNode[] = [];
  readonly pods: LabPod[] = [];
  private etcd: ChildProcess | undefined;
  private etcdBridge: PortBridge | undefined;
  /** Set by startKubeApiServer: daemons then run with --kube-subnet-mgr. */
  private kube: { server: KubeApiServer; kubeconfigFile: string; netConfFile: string } | undefined;
  /** Set by useEtcdEndpoints: daemons then use these instead of the lab's own etcd. */
  private externalEtcd: string[] | undefined;
  private disposed = false;

  /** CNI_PATH for pods: the lab's installed weft plugin, then Debian's plugins. */
  private cniPath = '';
  private conflist: Conflist | undefined;

  private constructor(
    readonly scope: NetnsScope,
    readonly underlayNs: string,
    readonly workDir: string,
    /** Whether the underlay also has IPv6 (2001:db8::/64). */
    readonly ipv6: boolean,
  ) {}

  /**
   * Creates the underlay namespace and bridge; nodes and etcd are added separately. With `ipv6`,
   * the underlay is dual-stack: 2001:db8::1/64 on the bridge, 2001:db8::(10+i) on node i.
   */
  static async create(tag = 'w', options: { ipv6?: boolean } = {}): Promise<LabCluster> {
    const scope = new NetnsScope(undefined);
    const workDir = await mkdtemp(join(tmpdir(), `weft-lab-${scope.prefix}`));
    scope.trackDirectory(workDir);
    let lab: LabCluster | undefined;
    try {
      const ul = await scope.createNamespace(`${tag}ul`);
      lab = new LabCluster(scope, ul, workDir, options.ipv6 ?? false);
      lab.cniPath = await installLabPlugin(join(workDir, 'cni', 'bin'), join(workDir, 'cni', 'net.d'));
      lab.conflist = await readConflist(BUNDLED_CONFLIST);
      await scope.ipBatch(ul, [
        'link add br0 type bridge',
        `addr add ${UNDERLAY_GATEWAY}/${UNDERLAY_PREFIX_LENGTH} dev br0`,
        // nodad: usable at once, not after duplicate address detection's second or two.
        ...(lab.ipv6 ? [`addr add ${UNDERLAY6_GATEWAY}/${UNDERLAY6_PREFIX_LENGTH} dev br0 nodad`] : []),
        'link set br0 up',
      ]);
      return lab;
    } catch (err) {
      if (lab) await lab.dispose();
      else await scope.dispose();
      throw err;
    }
  }

  get etcdEndpoint(): string {
    return `http://${UNDERLAY_GATEWAY}:${ETCD_PORT}`;
  }

  /** etcd as seen from the host namespace (for test clients and etcdctl). */
  get etcdHostEndpoint(): string {
    if (!this.etcdBridge) throw new Error('etcd is not running');
    return `http://127.0.0.1:${this.etcdBridge.port}`;
  }

  async startEtcd(): Promise<void> {
    const dataDir = join(this.workDir, 'etcd');
    await mkdir(dataDir, { recursive: true });
    const url = this.etcdEndpoint;
    const log = createWriteStream(join(this.workDir, 'etcd.log'), { flags: 'a' });
    const etcd = this.scope.spawn(this.underlayNs, 'etcd', [
      '--name', 'lab', '--data-dir', dataDir,
      '--listen-client-urls', url, '--advertise-client-urls', url,
      '--listen-peer-urls', `http://${UNDERLAY_GATEWAY}:2380`,
      '--initial-advertise-peer-urls', `http://${UNDERLAY_GATEWAY}:2380`,
      '--initial-cluster', `lab=http://${UNDERLAY_GATEWAY}:2380`,
      '--log-level', 'warn',
    ]);
    etcd.stdout?.pipe(log);
    etcd.stderr?.pipe(log);
    this.etcd = etcd;
    this.etcdBridge ??= await bridgePort(this.scope, this.underlayNs, { host: UNDERLAY_GATEWAY, port: ETCD_PORT }, this.workDir);
    await waitFor('etcd to answer', () => this.etcdctl(['endpoint', 'health']).then(() => true), 15_000, 100);
  }

  async stopEtcd(): Promise<void> {
    if (this.etcd) await stopProcess(this.etcd, 5000);
    this.etcd = undefined;
  }

  async etcdctl(args: string[], input?: string): Promise<string> {
    const { stdout } = await this.scope.exec(this.underlayNs, 'etcdctl', ['--endpoints', this.etcdEndpoint, ...args], input);
    return stdout;
  }

  async writeNetworkConfig(config: object = { Network: DEFAULT_NETWORK, Backend: { Type: 'vxlan' } }, prefix = '/coreos.com/network'): Promise<void> {
    await this.etcdctl(['put', `${prefix}/config`, JSON.stringify(config)]);
  }

  /**
   * Starts a real kube-apiserver (and its etcd) in the underlay namespace; from now on daemons run
   * in kube mode as Node `n<index>`, with the admin's rights until useKubeToken() gives them others.
   */
  async startKubeApiServer(authorizationMode: 'RBAC' | 'AlwaysAllow' = 'RBAC'): Promise<KubeApiServer> {
    const server = await KubeApiServer.start({ scope: this.scope, ns: this.underlayNs, bindAddress: UNDERLAY_GATEWAY, authorizationMode });
    const netConfFile = join(this.workDir, 'net-conf.json');
    this.kube = { server, kubeconfigFile: '', netConfFile };
    await this.writeKubeNetConf();
    await this.useKubeToken(server.adminToken);
    return server;
  }

  /** The credentials daemons use from the next start on (e.g. the weft service account's token). */
  async useKubeToken(token: string): Promise<void> {
    if (!this.kube) throw new Error('the kube-apiserver is not running');
    const file = join(this.workDir, `kubeconfig-${token.slice(-8)}`);
    this.kube.kubeconfigFile = await this.kube.server.writeKubeconfig(token, file, this.kube.server.url);
  }

  /** Daemons started from now on use these etcd endpoints (e.g. an EtcdCluster's), not startEtcd()'s. */
  useEtcdEndpoints(endpoints: string[]): void {
    this.externalEtcd = endpoints;
  }

  /** Writes the net-conf.json daemons read in kube mode (the ConfigMap's file in a real cluster). */
  async writeKubeNetConf(config: object = { Network: DEFAULT_NETWORK, Backend: { Type: 'vxlan' } }): Promise<void> {
    if (!this.kube) throw new Error('the kube-apiserver is not running');
    await writeFile(this.kube.netConfFile, JSON.stringify(config));
  }

  /** Adds node `index`: a namespace with eth0 on the underlay bridge and IP forwarding on. */
  async addNode(index: number): Promise<LabNode> {
    const name = `n${index}`;
    const ns = await this.scope.createNamespace(name);
    const underlayIp = nodeUnderlayIp(index);
    const hostSide = `${this.scope.prefix}${name}`.slice(0, 15);
    await this.scope.ipBatch(this.underlayNs, [
      `link add ${hostSide} type veth peer name eth0 netns ${ns}`,
      `link set ${hostSide} master br0 up`,
    ]);
    const underlayIpv6 = this.ipv6 ? nodeUnderlayIpv6(index) : undefined;
    await this.scope.ipBatch(ns, [
      `addr add ${underlayIp}/${UNDERLAY_PREFIX_LENGTH} dev eth0`,
      ...(underlayIpv6 ? [`addr add ${underlayIpv6}/${UNDERLAY6_PREFIX_LENGTH} dev eth0 nodad`] : []),
      'link set eth0 up',
      `route add default via ${UNDERLAY_GATEWAY}`,
      ...(underlayIpv6 ? [`route add ::/0 via ${UNDERLAY6_GATEWAY}`] : []),
    ]);
    await this.scope.exec(ns, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', ...(underlayIpv6 ? ['net.ipv6.conf.all.forwarding=1'] : [])]);
    const dir = join(this.workDir, name);
    await mkdir(dir, { recursive: true });
    const node: LabNode = {
      index, name, ns, underlayIp, underlayIpv6, subnetFile: join(dir, 'subnet.env'), logFile: join(dir, 'weftd.log'), daemon: undefined,
    };
    this.nodes.push(node);
    return node;
  }

  /** Starts weftd inside the node's namespace (on eth0 unless `extraArgs` name an --iface); does not wait for it. */
  startDaemon(node: LabNode, extraArgs: string[] = [], env: Record<string, string> = {}): ChildProcess {
    const log = createWriteStream(node.logFile, { flags: 'a' });
    const store = this.kube
      ? ['--kube-subnet-mgr', '--kubeconfig-file', this.kube.kubeconfigFile, '--net-config-path', this.kube.netConfFile]
      : ['--etcd-endpoints', (this.externalEtcd ?? [this.etcdEndpoint]).join(',')];
    const daemon = this.scope.spawn(node.ns, process.execPath, [
      WEFTD,
      ...store,
      '--subnet-file', node.subnetFile,
      ...(extraArgs.includes('--iface') ? [] : ['--iface', 'eth0']),
      '--log-format', 'json',
      ...extraArgs,
    ], { env: { ...process.env, NODE_NAME: node.name, ...env } });
    daemon.stdout?.pipe(log);
    daemon.stderr?.pipe(log);
    node.daemon = daemon;
    return daemon;
  }

  /** Waits until the daemon has written subnet.env and returns its subnet line. */
  async waitForSubnet(node: LabNode, timeoutMs = 15_000): Promise<string> {
    return waitFor(`${node.name} to write subnet.env`, async () => {
      const text = await readFile(node.subnetFile, 'utf8').catch(() => '');
      return /FLANNEL_SUBNET=(\S+)/.exec(text)?.[1];
    }, timeoutMs);
  }

  async readSubnetEnv(node: LabNode): Promise<string> {
    return readFile(node.subnetFile, 'utf8');
  }

  /** How many lines of the node's daemon log contain `text` (the log spans restarts). */
  async countLogLines(node: LabNode, text: string): Promise<number> {
    const log = await readFile(node.logFile, 'utf8').catch(() => '');
    return log.split('\n').filter((line) => line.includes(text)).length;
  }

  async stopDaemon(node: LabNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<DaemonExit> {
    const daemon = node.daemon;
    node.daemon = undefined;
    if (!daemon || daemon.exitCode !== null || daemon.signalCode !== null) {
      return { code: daemon?.exitCode ?? null, signal: daemon?.signalCode ?? null };
    }
    const exited = new Promise<DaemonExit>((resolve) => daemon.once('exit', (code, sig) => { resolve({ code, signal: sig }); }));
    daemon.kill(signal);
    const timer = setTimeout(() => daemon.kill('SIGKILL'), 10_000);
    const result = await exited;
    clearTimeout(timer);
    return result;
  }

  /**
   * Attaches a new pod namespace to the node the way kubelet would: the bundled conflist (weft, then
   * portmap) run with ADD inside the node's namespace; weft delegates to bridge and host-local.
   */
  async addPod(node: LabNode): Promise<LabPod> {
    await this.waitForSubnet(node);
    if (!this.conflist) throw new Error('the lab has no CNI plugin installed');
    const podIndex = this.pods.filter((p) => p.node === node).length;
    const ns = await this.scope.createNamespace(`${node.name}p${podIndex}`);
    const nodeDir = join(this.workDir, node.name);
    const attachment: Attachment = {
      nodeNs: node.ns,
      podNs: ns,
      containerId: `${ns}-container`,
      ifname: 'eth0',
      cniPath: this.cniPath,
      conflist: this.conflist,
      weftOverrides: { subnetFile: node.subnetFile, dataDir: join(nodeDir, 'cni-data'), ipamDataDir: join(nodeDir, 'ipam') },
    };
    const result = await chainAdd(attachment);
    const ips = resultAddresses(result);
    const pod: LabPod = { node, ns, ip: ips[0] ?? '', ips, attachment, result };
    this.pods.push(pod);
    return pod;
  }

  /** CNI DEL for the pod, then its namespace goes. */
  async removePod(pod: LabPod): Promise<void> {
    await chainDel(pod.attachment);
    this.pods.splice(this.pods.indexOf(pod), 1);
    await this.scope.deleteNamespace(pod.ns);
  }

  /**
   * A host on the underlay outside the pod network (192.0.2.99, no route to the pods): it can only
   * answer a pod whose traffic the node masqueraded.
   */
  /** A host on the underlay with no route to the pods; with an IPv6 lab it has an IPv6 address too. */
  async addOutsideHost(): Promise<{ ns: string; ip: string; ipv6: string | undefined }> {
    const ns = await this.scope.createNamespace('out');
    const ip = `${UNDERLAY_PREFIX}.99`;
    const ipv6 = this.ipv6 ? `${UNDERLAY6_PREFIX}99` : undefined;
    const hostSide = `${this.scope.prefix}out`.slice(0, 15);
    await this.scope.ipBatch(this.underlayNs, [`link add ${hostSide} type veth peer name eth0 netns ${ns}`, `link set ${hostSide} master br0 up`]);
    await this.scope.ipBatch(ns, [
      `addr add ${ip}/${UNDERLAY_PREFIX_LENGTH} dev eth0`,
      ...(ipv6 ? [`addr add ${ipv6}/${UNDERLAY6_PREFIX_LENGTH} dev eth0 nodad`] : []),
      'link set eth0 up',
    ]);
    return { ns, ip, ipv6 };
  }

  /** Sends `count` pings; returns the number received. */
  async ping(from: LabPod, toIp: string, count = 1, intervalS = 0.2, waitS = 1): Promise<number> {
    const result = await this.scope
      .exec(from.ns, 'ping', ['-n', '-q', '-c', String(count), '-i', String(intervalS), '-W', String(waitS), toIp])
      .catch((err: unknown) => ({ stdout: (err as { stdout?: string }).stdout ?? '' }));
    return Number(/(\d+) received/.exec(result.stdout)?.[1] ?? 0);
  }

  /** Every pod pings every address (one per family) of every other pod; returns rows of [from, to, ip, ok]. */
  async connectivityMatrix(): Promise<{ from: LabPod; to: LabPod; ip: string; ok: boolean }[]> {
    const rows: { from: LabPod; to: LabPod; ip: string; ok: boolean }[] = [];
    for (const from of this.pods) {
      const targets = this.pods.filter((p) => p !== from).flatMap((to) => to.ips.map((ip) => ({ to, ip })));
      const results = await Promise.all(targets.map(async ({ to, ip }) => ({ from, to, ip, ok: (await this.ping(from, ip, 2, 0.2, 1)) > 0 })));
      rows.push(...results);
    }
    return rows;
  }

  async nodeExec(node: LabNode, cmd: string, args: string[]): Promise<string> {
    return (await this.scope.exec(node.ns, cmd, args)).stdout;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const pod of [...this.pods]) await this.removePod(pod).catch(() => undefined);
    await Promise.all(this.nodes.map((n) => this.stopDaemon(n, 'SIGTERM')));
    await this.etcdBridge?.close();
    await this.stopEtcd();
    await this.kube?.server.dispose();
    await this.scope.dispose();
  }
}
