// Three (or more) real Debian etcd members in one lab namespace, each on its own ports, for drills an
// operator meets with a real cluster: a member stopped and started again (leader or follower),
// compaction and defragmentation, a member whose data is lost and that re-joins (member remove/add).
// Members are EtcdServer processes, stopped by PID; their data lives under the given work dir.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { EtcdServer } from './etcd-server.js';
import type { NetnsScope } from './netns.js';

export interface EtcdClusterOptions {
  scope: NetnsScope;
  ns: string;
  /** The address every member listens on, inside `ns`. */
  host: string;
  workDir: string;
  size?: number | undefined;
  /** Member i listens for clients on basePort + i and for peers on basePort + 100 + i. */
  basePort?: number | undefined;
}

export class EtcdCluster {
  private constructor(
    private readonly opts: EtcdClusterOptions & { size: number; basePort: number },
    private readonly members: (EtcdServer | undefined)[],
  ) {}

  static async start(options: EtcdClusterOptions): Promise<EtcdCluster> {
    const opts = { ...options, size: options.size ?? 3, basePort: options.basePort ?? 22379 };
    const cluster = new EtcdCluster(opts, Array.from({ length: opts.size }, () => undefined));
    try {
      // All at once: each waits for a quorum before it reports healthy.
      await Promise.all(cluster.members.map((_m, i) => cluster.startMember(i, 'new')));
    } catch (err) {
      await cluster.dispose();
      throw err;
    }
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((_m, i) => `http://${this.opts.host}:${this.opts.basePort + i}`);
  }

  name(i: number): string {
    return `e${i}`;
  }

  /** Runs etcdctl inside the namespace against every member (or the ones given). */
  async etcdctl(args: string[], endpoints: string[] = this.endpoints): Promise<string> {
    const { stdout } = await this.opts.scope.exec(this.opts.ns, 'etcdctl', ['--endpoints', endpoints.join(','), '--command-timeout', '5s', ...args]);
    return stdout;
  }

  /** Index of the member that leads now (asked of the running members). */
  async leader(): Promise<number> {
    const running = this.members.flatMap((m, i) => (m?.running ? [i] : []));
    // Simple output ("endpoint, id, version, db size, is leader, ..."): the JSON form's 64-bit IDs lose digits in JSON.parse.
    const lines = (await this.etcdctl(['endpoint', 'status'], running.map((i) => this.endpoints[i] ?? ''))).split('\n');
    const leader = lines.map((l) => l.split(', ')).find((fields) => fields[4] === 'true')?.[0];
    const index = leader === undefined ? -1 : this.endpoints.indexOf(leader);
    if (index < 0) throw new Error(`no leader among members ${running.join(', ')}`);
    return index;
  }

  async stop(i: number): Promise<void> {
    await this.members[i]?.stop();
  }

  /** Starts a stopped member again on its data. */
  async restart(i: number): Promise<void> {
    await this.members[i]?.start();
  }

  /**
   * The member's data is lost: it is removed from the cluster, its data deleted, added back as a new
   * member and started empty; it catches up from the others (etcd's documented replacement procedure).
   */
  async replaceWithEmpty(i: number): Promise<void> {
    const others = this.endpoints.filter((_e, j) => j !== i);
    // Simple output ("id, status, name, peer urls, ..."), hex IDs as `member remove` takes them.
    const lines = (await this.etcdctl(['member', 'list'], others)).split('\n');
    const id = lines.map((l) => l.split(', ')).find((fields) => fields[2] === this.name(i))?.[0];
    if (id === undefined) throw new Error(`member ${this.name(i)} is not in the cluster`);
    await this.removeMember(id, others);
    await this.members[i]?.dispose(); // stops it (a removed member exits by itself) and deletes its data
    this.members[i] = undefined;
    await this.etcdctl(['member', 'add', this.name(i), `--peer-urls=${this.peerUrl(i)}`], others);
    await this.startMember(i, 'existing');
  }

  /**
   * etcd's strict reconfiguration check answers "unhealthy cluster" until every remaining member has
   * been connected for a few seconds (a member restarted by the drill before this one); that answer
   * is retried, bounded, anything else is thrown.
   */
  private async removeMember(id: string, endpoints: string[]): Promise<void> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await this.etcdctl(['member', 'remove', id], endpoints);
        return;
      } catch (err) {
        // Not `instanceof Error`: under jest, child_process errors come from another realm.
        const unhealthy = String((err as { message?: unknown } | undefined)?.message).includes('unhealthy cluster');
        if (!unhealthy || Date.now() >= deadline) throw err;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  async dispose(): Promise<void> {
    await Promise.all(this.members.map((m) => m?.dispose() ?? Promise.resolve()));
  }

  private peerUrl(i: number): string {
    return `http://${this.opts.host}:${this.opts.basePort + 100 + i}`;
  }

  private async startMember(i: number, state: 'new' | 'existing'): Promise<void> {
    const workDir = join(this.opts.workDir, `etcd-${this.name(i)}`);
    await mkdir(workDir, { recursive: true });
    const initialCluster = this.members.map((_m, j) => `${this.name(j)}=${this.peerUrl(j)}`).join(',');
    this.members[i] = await EtcdServer.start({
      scope: this.opts.scope, ns: this.opts.ns, host: this.opts.host, workDir,
      clientPort: this.opts.basePort + i, peerPort: this.opts.basePort + 100 + i,
      member: { name: this.name(i), initialCluster, state },
    });
  }
}
