// A real Debian etcd (3.4) for tests: its own temp data dir, free ports, started either in the host
// namespace on 127.0.0.1 or inside a NetnsScope namespace; stopped by PID; data dir deleted on dispose.
// stop() + start() restarts it on the same ports with the same data, to test outages.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, stopProcess, waitFor, type NetnsScope } from './netns.js';

export interface EtcdServerOptions {
  /** Run inside this namespace (created by `scope`); the host namespace otherwise. */
  scope?: NetnsScope | undefined;
  ns?: string | undefined;
  /** Address to listen on: 127.0.0.1 unless told (inside a namespace, e.g. the underlay gateway). */
  host?: string | undefined;
  /** Free ports are chosen unless given (a namespace has all its ports free). */
  clientPort?: number | undefined;
  peerPort?: number | undefined;
  /** More client URLs to listen on, e.g. http://127.0.0.1:2379 inside the namespace. */
  extraClientUrls?: string[] | undefined;
  /** Where the data dir and log go; a fresh temp dir otherwise (deleted by dispose()). */
  workDir?: string | undefined;
  /** "https" when `extraArgs` turn on client TLS (--cert-file ...). */
  scheme?: 'http' | 'https' | undefined;
  /** More etcd flags (TLS, auth ...), and the etcdctl flags that then go with them. */
  extraArgs?: string[] | undefined;
  etcdctlArgs?: string[] | undefined;
  /** As one member of a cluster (test/lab/etcd-cluster.ts); a cluster of one otherwise. */
  member?: { name: string; initialCluster: string; state: 'new' | 'existing' } | undefined;
}

export class EtcdServer {
  private child: ChildProcess | undefined;
  private log: WriteStream | undefined;

  private constructor(
    private readonly opts: EtcdServerOptions,
    readonly host: string,
    readonly clientPort: number,
    readonly peerPort: number,
    readonly workDir: string,
    private readonly ownsWorkDir: boolean,
  ) {}

  /** Starts etcd and waits until `etcdctl endpoint health` answers. */
  static async start(opts: EtcdServerOptions = {}): Promise<EtcdServer> {
    if ((opts.ns === undefined) !== (opts.scope === undefined)) throw new Error('give both scope and ns, or neither');
    const host = opts.host ?? '127.0.0.1';
    const inHost = opts.ns === undefined;
    const clientPort = opts.clientPort ?? (inHost ? await freePort(host) : 20000 + Math.floor(Math.random() * 20000));
    let peerPort = opts.peerPort ?? (inHost ? await freePort(host) : clientPort + 1);
    if (peerPort === clientPort) peerPort = inHost ? await freePort(host) : clientPort + 1;
    const ownsWorkDir = opts.workDir === undefined;
    const workDir = opts.workDir ?? (await mkdtemp(join(tmpdir(), 'weft-etcd-')));
    const server = new EtcdServer(opts, host, clientPort, peerPort, workDir, ownsWorkDir);
    try {
      await server.start();
    } catch (err) {
      await server.dispose();
      throw err;
    }
    return server;
  }

  /** The client URL (as seen from where etcd runs). */
  get endpoint(): string {
    return `${this.opts.scheme ?? 'http'}://${this.host}:${this.clientPort}`;
  }

  get peerUrl(): string {
    return `http://${this.host}:${this.peerPort}`;
  }

  get dataDir(): string {
    return join(this.workDir, 'data');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** (Re)starts etcd on the same ports and data dir. */
  async start(): Promise<void> {
    if (this.running) return;
    const peerUrl = this.peerUrl;
    const clientUrls = [this.endpoint, ...(this.opts.extraClientUrls ?? [])].join(',');
    const member = this.opts.member ?? { name: 'weft-test', initialCluster: `weft-test=${peerUrl}`, state: 'new' };
    const args = [
      '--name', member.name, '--data-dir', this.dataDir,
      '--listen-client-urls', clientUrls, '--advertise-client-urls', this.endpoint,
      '--listen-peer-urls', peerUrl, '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', member.initialCluster, '--initial-cluster-state', member.state,
      '--log-level', 'warn',
      ...(this.opts.extraArgs ?? []),
    ];
    const child =
      this.opts.scope && this.opts.ns
        ? this.opts.scope.spawn(this.opts.ns, 'etcd', args)
        : spawn('etcd', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.log ??= createWriteStream(join(this.workDir, 'etcd.log'), { flags: 'a' });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.child = child;
    await waitFor(
      `etcd on ${this.endpoint} to be healthy`,
      async () => {
        if (!this.running) throw new Error(`etcd exited (${child.exitCode ?? child.signalCode}): ${await this.logTail()}`);
        await this.etcdctl(['endpoint', 'health']);
        return true;
      },
      20_000,
      100,
    );
  }

  /** Stops etcd by PID (SIGTERM, SIGKILL after 5 s); the data dir stays for start(). */
  async stop(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child) await stopProcess(child, 5000);
  }

  /** Stops etcd and deletes its data (and the work dir when it made it). */
  async dispose(): Promise<void> {
    await this.stop();
    this.log?.end();
    this.log = undefined;
    await rm(this.ownsWorkDir ? this.workDir : this.dataDir, { recursive: true, force: true });
  }

  /** Runs etcdctl against this server, from where it runs. */
  async etcdctl(args: string[], input?: string): Promise<string> {
    const full = ['--endpoints', this.endpoint, '--command-timeout', '5s', ...(this.opts.etcdctlArgs ?? []), ...args];
    const { stdout } =
      this.opts.scope && this.opts.ns ? await this.opts.scope.exec(this.opts.ns, 'etcdctl', full, input) : await run('etcdctl', full, input);
    return stdout;
  }

  async logTail(lines = 20): Promise<string> {
    const text = await readFile(join(this.workDir, 'etcd.log'), 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }
}

/** A TCP port that nothing listens on right now. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => {
        resolve(port);
      });
    });
  });
}
