// A real kube-apiserver (v1.20.2, built by test/lab/build-kube.sh) on a real etcd, for tests.
// Both run either in the host namespace on 127.0.0.1 (free ports) or inside a lab namespace on one of
// its addresses (then reached from the host through a port bridge). Certificates, the service-account
// key pair and the static token file are made fresh per instance under its work directory.
// Every process is started through the NetnsScope, so it is stopped by PID even when a test fails.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { freePort } from './etcd-server.js';
import { apiServerArgs, writeApiServerCredentials, type KubeUser } from './kube-apiserver-files.js';
import { run, stopProcess, waitFor, type NetnsScope } from './netns.js';
import { httpsJsonRequest, type ApiResponse } from './kube-request.js';
import { bridgePort, type PortBridge } from './port-bridge.js';


/** Where test/lab/build-kube.sh caches the v1.20.2 binaries. */
export const KUBE_BIN_DIR = process.env.WEFT_KUBE_BIN_DIR ?? `${process.env.WEFT_KUBE_CACHE ?? '/var/cache/weft'}/kube-v1.20.2`;
export const KUBE_APISERVER_BINARY = process.env.WEFT_KUBE_APISERVER ?? `${KUBE_BIN_DIR}/kube-apiserver`;
/** The tree's own kubectl (v1.20), not whatever newer one the machine has. */
export const KUBECTL_BINARY = `${KUBE_BIN_DIR}/kubectl`;

/** What tests read from a Node. */
export interface NodeObject {
  metadata: { name: string; annotations?: Record<string, string>; resourceVersion: string };
  spec: { podCIDR?: string; podCIDRs?: string[] };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

export interface KubeApiServerOptions {
  scope: NetnsScope;
  /** Run etcd and the API server inside this namespace (created by `scope`), listening on `bindAddress`. */
  ns?: string | undefined;
  /** Default 127.0.0.1; in a namespace, one of its addresses (or 127.0.0.1 of that namespace). */
  bindAddress?: string | undefined;
  securePort?: number | undefined;
  authorizationMode?: 'AlwaysAllow' | 'RBAC' | 'Node,RBAC' | undefined;
  /** Default 10.96.0.0/24. */
  serviceClusterIpRange?: string | undefined;
  /** Default none; "lease" keeps the `kubernetes` Service's endpoints (pods reach the API through it). */
  endpointReconciler?: 'none' | 'lease' | undefined;
  /** More names and addresses in the serving certificate (e.g. the `kubernetes` Service's VIP). */
  extraSans?: string[] | undefined;
  /** More kube-apiserver flags. */
  extraArgs?: string[] | undefined;
  /** Static-token users besides the admin (who is in system:masters). */
  extraUsers?: KubeUser[] | undefined;
  /** Use this etcd instead of starting one (must be reachable from where the API server runs). */
  etcdServers?: string | undefined;
  binary?: string | undefined;
}

export class KubeApiServer {
  readonly adminToken = randomBytes(16).toString('hex');
  private apiserver: ChildProcess | undefined;
  private etcd: ChildProcess | undefined;
  private bridge: PortBridge | undefined;
  private etcdUrl = '';
  private hostUrlValue = '';

  private constructor(
    private readonly opts: KubeApiServerOptions,
    readonly workDir: string,
    readonly bindAddress: string,
    readonly securePort: number,
  ) {}

  /** Starts etcd (unless given) and the API server and waits until /readyz answers ok. */
  static async start(opts: KubeApiServerOptions): Promise<KubeApiServer> {
    const binary = opts.binary ?? KUBE_APISERVER_BINARY;
    if (!existsSync(binary)) {
      throw new Error(`${binary} is missing: run test/lab/build-kube.sh first (about 10 minutes, cached)`);
    }
    const workDir = await mkdtemp(join(tmpdir(), 'weft-kube-'));
    opts.scope.trackDirectory(workDir);
    const bindAddress = opts.bindAddress ?? '127.0.0.1';
    const securePort = opts.securePort ?? (opts.ns ? 6443 : await freePort());
    const server = new KubeApiServer(opts, workDir, bindAddress, securePort);
    try {
      const users: KubeUser[] = [{ token: server.adminToken, name: 'weft-admin', groups: ['system:masters'] }, ...(opts.extraUsers ?? [])];
      await writeApiServerCredentials(workDir, { addresses: ['127.0.0.1', bindAddress], extraSans: opts.extraSans ?? [], users });
      await server.startEtcd();
      await server.startApiServer();
      return server;
    } catch (err) {
      await server.dispose();
      throw err;
    }
  }

  /** The URL where the server listens (inside its namespace when it runs in one). */
  get url(): string {
    return `https://${this.bindAddress}:${this.securePort}`;
  }

  /** The URL reachable from the host namespace (the test process). */
  get hostUrl(): string {
    return this.hostUrlValue;
  }

  /** The etcd this server stores into (pass it as `etcdServers` to start a second server on it). */
  get etcdServers(): string {
    return this.etcdUrl;
  }

  get caFile(): string {
    return join(this.workDir, 'ca.crt');
  }

  /** The service-account signing key (the controller-manager's token controller needs it). */
  get serviceAccountKeyFile(): string {
    return join(this.workDir, 'sa.key');
  }

  /** Writes a kubeconfig for `token` (admin when omitted); `server` defaults to hostUrl. */
  async writeKubeconfig(token: string = this.adminToken, path?: string, server: string = this.hostUrl): Promise<string> {
    const file = path ?? join(this.workDir, `kubeconfig-${token.slice(0, 8)}`);
    const ca = (await readFile(this.caFile)).toString('base64');
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'lab', cluster: { server, 'certificate-authority-data': ca } }],
      users: [{ name: 'lab-user', user: { token } }],
      contexts: [{ name: 'lab', context: { cluster: 'lab', user: 'lab-user' } }],
      'current-context': 'lab',
    };
    await writeFile(file, JSON.stringify(config, null, 2), { mode: 0o600 });
    return file;
  }

  /** A client-node KubeConfig for `token` (admin when omitted), talking to hostUrl. */
  async kubeConfig(token: string = this.adminToken): Promise<KubeConfig> {
    const kc = new KubeConfig();
    kc.loadFromFile(await this.writeKubeconfig(token));
    return kc;
  }

  /**
   * One raw API request from the host as `token` (admin when omitted); resolves with the status and the
   * parsed body whatever the status, so tests can assert refusals.
   */
  async request(method: string, path: string, body?: unknown, options: { token?: string; contentType?: string } = {}): Promise<ApiResponse> {
    return httpsJsonRequest({
      url: `${this.hostUrl}${path}`,
      ca: await readFile(this.caFile),
      token: options.token ?? this.adminToken,
      method,
      body,
      contentType: options.contentType,
    });
  }

  /** Like request(), but throws unless the status is 2xx. */
  async requestOk(method: string, path: string, body?: unknown, options: { token?: string; contentType?: string } = {}): Promise<unknown> {
    const res = await this.request(method, path, body, options);
    if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }

  /** Runs the tree's kubectl (v1.20) as the admin against this server. */
  async kubectl(args: string[], input?: string): Promise<string> {
    const kubeconfig = await this.writeKubeconfig();
    const { stdout } = await run(KUBECTL_BINARY, ['--kubeconfig', kubeconfig, ...args], input);
    return stdout;
  }

  /** Creates a Node with an optional pod CIDR and annotations (pod CIDR can only be set at creation). */
  /** A Node with one pod CIDR, or a dual-stack node's two (spec.podCIDR is the first). */
  async createNode(name: string, podCidr?: string | string[], annotations: Record<string, string> = {}): Promise<void> {
    const podCidrs = podCidr === undefined ? [] : [podCidr].flat();
    await this.requestOk('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, annotations },
      spec: podCidrs.length > 0 ? { podCIDR: podCidrs[0], podCIDRs: podCidrs } : {},
    });
  }

  async deleteNode(name: string): Promise<void> {
    await this.requestOk('DELETE', `/api/v1/nodes/${name}`);
  }

  async getNode(name: string): Promise<NodeObject> {
    return (await this.requestOk('GET', `/api/v1/nodes/${name}`)) as NodeObject;
  }

  /** Sets (string) or removes (null) annotations with a merge patch, as another node's flannel would. */
  async annotateNode(name: string, annotations: Record<string, string | null>): Promise<void> {
    await this.requestOk('PATCH', `/api/v1/nodes/${name}`, { metadata: { annotations } }, { contentType: 'application/merge-patch+json' });
  }

  /**
   * A real service-account token (TokenRequest API) for `namespace/name`, creating the account first.
   * RBAC subjects of kind ServiceAccount match it.
   */
  async serviceAccountToken(namespace: string, name: string): Promise<string> {
    const created = await this.request('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name } });
    if (created.status !== 201 && created.status !== 409) throw new Error(`create service account: HTTP ${created.status}`);
    const answer = (await this.requestOk('POST', `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    })) as { status?: { token?: string } };
    const token = answer.status?.token;
    if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
    return token;
  }

  /** Creates a ClusterRole with `rules` and binds it to the service account namespace/name. */
  async bindClusterRole(
    roleName: string,
    rules: { apiGroups: string[]; resources: string[]; verbs: string[] }[],
    account: { namespace: string; name: string },
  ): Promise<void> {
    const rbac = '/apis/rbac.authorization.k8s.io/v1';
    await this.requestOk('POST', `${rbac}/clusterroles`, { metadata: { name: roleName }, rules });
    await this.requestOk('POST', `${rbac}/clusterrolebindings`, {
      metadata: { name: roleName },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: roleName },
      subjects: [{ kind: 'ServiceAccount', namespace: account.namespace, name: account.name }],
    });
  }

  /** Stops the API server only (etcd keeps its data); start() brings it back on the same port. */
  async stop(): Promise<void> {
    if (this.apiserver) await stopProcess(this.apiserver, 5000);
    this.apiserver = undefined;
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.startApiServer();
  }

  get pid(): number | undefined {
    return this.apiserver?.pid;
  }

  /** Stops everything this instance started and removes its work directory. */
  async dispose(): Promise<void> {
    await this.stop();
    await this.bridge?.close();
    this.bridge = undefined;
    if (this.etcd) await stopProcess(this.etcd, 5000);
    this.etcd = undefined;
    await rm(this.workDir, { recursive: true, force: true });
  }

  private spawnHere(cmd: string, args: string[]): ChildProcess {
    const { scope, ns } = this.opts;
    if (ns) return scope.spawn(ns, cmd, args);
    const child = spawn(cmd, args, { stdio: 'pipe' });
    scope.track(child);
    return child;
  }

  private logTo(child: ChildProcess, name: string): void {
    const log = createWriteStream(join(this.workDir, `${name}.log`), { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
  }

  /** Last lines of a log, for error messages. */
  async logTail(name: 'kube-apiserver' | 'etcd', lines = 20): Promise<string> {
    const text = await readFile(join(this.workDir, `${name}.log`), 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  private async startEtcd(): Promise<void> {
    if (this.opts.etcdServers) {
      this.etcdUrl = this.opts.etcdServers;
      return;
    }
    const host = '127.0.0.1';
    const clientPort = this.opts.ns ? 2379 : await freePort();
    const peerPort = this.opts.ns ? 2380 : await freePort();
    this.etcdUrl = `http://${host}:${clientPort}`;
    const peerUrl = `http://${host}:${peerPort}`;
    const etcd = this.spawnHere('etcd', [
      '--name', 'kube-lab', '--data-dir', join(this.workDir, 'etcd-data'),
      '--listen-client-urls', this.etcdUrl, '--advertise-client-urls', this.etcdUrl,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', `kube-lab=${peerUrl}`, '--log-level', 'warn',
    ]);
    this.logTo(etcd, 'etcd');
    this.etcd = etcd;
    await waitFor('etcd for kube-apiserver to answer', async () => {
      if (etcd.exitCode !== null) throw new Error(`etcd exited with ${etcd.exitCode}: ${await this.logTail('etcd')}`);
      const args = ['--endpoints', this.etcdUrl, 'endpoint', 'health'];
      if (this.opts.ns) await this.opts.scope.exec(this.opts.ns, 'etcdctl', args);
      else await run('etcdctl', args);
      return true;
    }, 20_000, 200);
  }

  private async startApiServer(): Promise<void> {
    const d = this.workDir;
    const args = apiServerArgs(d, {
      etcdServers: this.etcdUrl,
      bindAddress: this.bindAddress,
      securePort: this.securePort,
      serviceClusterIpRange: this.opts.serviceClusterIpRange ?? '10.96.0.0/24',
      authorizationMode: this.opts.authorizationMode ?? 'AlwaysAllow',
      endpointReconciler: this.opts.endpointReconciler ?? 'none',
      extraArgs: this.opts.extraArgs ?? [],
    });
    const child = this.spawnHere(this.opts.binary ?? KUBE_APISERVER_BINARY, args);
    this.logTo(child, 'kube-apiserver');
    this.apiserver = child;
    if (this.opts.ns && !this.bridge) {
      this.bridge = await bridgePort(this.opts.scope, this.opts.ns, { host: this.bindAddress, port: this.securePort }, d);
    }
    this.hostUrlValue = this.bridge ? `https://127.0.0.1:${this.bridge.port}` : this.url;
    await waitFor('kube-apiserver /readyz', async () => {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`kube-apiserver exited (${child.exitCode ?? child.signalCode}): ${await this.logTail('kube-apiserver')}`);
      }
      const res = await this.request('GET', '/readyz');
      return res.status === 200 ? true : undefined;
    }, 60_000, 250);
  }
}
