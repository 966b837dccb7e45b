// A lab node's machine: its own network namespace (from LabCluster: eth0 on the underlay bridge,
// default route via the underlay), plus its own private mount namespace and UTS namespace
// (hostname = node name), held by one long-lived "node init" process. Inside, /etc, /opt,
// /var/lib and /var/log are overlays over the host's (writes land in the node's upper dirs),
// /run is a fresh tmpfs, and the global sysctls the kubelet writes are per-node files bind-mounted
// over /proc/sys, so the host keeps its own values. Nothing is mounted in the host's namespace;
// every mount disappears with the node init process. Processes started here join the node's cgroup.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, stopProcess, waitFor, type ExecResult, type NetnsScope } from '../netns.js';
import type { LabNode } from '../cluster.js';
import { NodeCgroups } from './node-cgroups.js';

/** Overlaid over the host's directory of the same path. */
const OVERLAID = ['etc', 'opt', 'var/lib', 'var/log'];
/** The global (not per network namespace) sysctls kubelet v1.20 sets (setupKernelTunables). */
const KERNEL_TUNABLES = ['vm/overcommit_memory', 'vm/panic_on_oom', 'kernel/panic', 'kernel/panic_on_oops', 'kernel/keys/root_maxkeys', 'kernel/keys/root_maxbytes'];
/** Plain host directories bind-mounted over node paths (overlayfs cannot be an overlay snapshotter's upper). */
const PLAIN_DIRS = ['var/lib/containerd', 'var/lib/kubelet'];

export class NodeHost {
  private init: ChildProcess | undefined;

  private constructor(
    private readonly scope: NetnsScope,
    readonly lab: LabNode,
    /** Host-side directory holding this node's upper dirs, configs and logs. */
    readonly dir: string,
    readonly cgroups: NodeCgroups,
  ) {}

  get name(): string {
    return this.lab.name;
  }

  get ip(): string {
    return this.lab.underlayIp;
  }

  /** The node's IPv6 underlay address on a dual-stack lab. */
  get ipv6(): string | undefined {
    return this.lab.underlayIpv6;
  }

  /** PID of the node init process: `nsenter --target <pid> --mount --uts --net` enters the node. */
  get initPid(): number | undefined {
    return this.init?.pid;
  }

  /** A node path (e.g. /var/lib/cni) as written by the node, read from the host through its upper dir. */
  upperPath(nodePath: string): string {
    const rel = nodePath.replace(/^\/+/, '');
    const base = OVERLAID.find((d) => rel === d || rel.startsWith(`${d}/`));
    if (!base) throw new Error(`${nodePath} is not under an overlaid node directory (${OVERLAID.join(', ')})`);
    return join(this.dir, 'upper', rel);
  }

  /** Host-side path of a plain directory mounted into the node (e.g. /var/lib/containerd). */
  plainDir(nodePath: string): string {
    const rel = nodePath.replace(/^\/+/, '');
    if (!PLAIN_DIRS.includes(rel)) throw new Error(`${nodePath} is not one of ${PLAIN_DIRS.join(', ')}`);
    return join(this.dir, 'plain', rel.replaceAll('/', '_'));
  }

  /**
   * Makes the node's mount and UTS namespaces inside its network namespace and waits until the
   * mounts are in place. `cgroupName` is the node's cgroupRoot without the slash.
   */
  static async start(scope: NetnsScope, lab: LabNode, dir: string, cgroupName: string): Promise<NodeHost> {
    const cgroups = await NodeCgroups.create(cgroupName);
    const host = new NodeHost(scope, lab, dir, cgroups);
    scope.addCleanup(() => host.stop());
    await host.startInit();
    return host;
  }

  private async startInit(): Promise<void> {
    const d = this.dir;
    const lines = ['set -eu', `hostname ${this.name}`];
    for (const sub of OVERLAID) {
      const [upper, work] = [join(d, 'upper', sub), join(d, 'work', sub)];
      await mkdir(upper, { recursive: true });
      await mkdir(work, { recursive: true });
      lines.push(`mount -t overlay overlay -o lowerdir=/${sub},upperdir=${upper},workdir=${work} /${sub}`);
    }
    // Drop this namespace's copies of other namespaces' /run/netns mounts (they would keep those
    // namespaces alive), then give the node a /run of its own.
    lines.push('umount -R -l /run/netns 2>/dev/null || true', 'mount -t tmpfs -o mode=0755 tmpfs /run', 'mkdir -p /run/netns /run/lock');
    for (const sub of PLAIN_DIRS) {
      await mkdir(this.plainDir(sub), { recursive: true });
      lines.push(`mkdir -p /${sub}`, `mount --bind ${this.plainDir(sub)} /${sub}`);
    }
    for (const tunable of KERNEL_TUNABLES) {
      const file = join(d, 'sysctl', tunable.replaceAll('/', '.'));
      await mkdir(join(d, 'sysctl'), { recursive: true });
      await writeFile(file, await readFile(`/proc/sys/${tunable}`, 'utf8'));
      lines.push(`mount --bind ${file} /proc/sys/${tunable}`);
    }
    // The CNI bin dir holds Debian's plugins; weft's init container adds its own next to them.
    lines.push('mkdir -p /opt/cni/bin /etc/cni/net.d', 'cp -a /usr/lib/cni/. /opt/cni/bin/');
    lines.push('echo ready', 'exec sleep infinity');
    const init = spawn('nsenter', [`--net=/run/netns/${this.lab.ns}`, 'unshare', '--mount', '--uts', '--propagation', 'private',
      'sh', '-c', lines.join('\n')], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.scope.track(init);
    this.init = init;
    let stderr = '';
    init.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      init.once('exit', (code) => { reject(new Error(`node init for ${this.name} exited with ${code}: ${stderr.trim()}`)); });
      init.stdout.once('data', () => { resolve(); });
    });
  }

  private nsenterArgs(cmd: string, args: string[]): string[] {
    const pid = this.init?.pid;
    if (pid === undefined || this.init?.exitCode !== null) throw new Error(`node ${this.name} is not running`);
    // The shell joins the node's cgroup, then becomes the command (same PID, so stoppable by PID).
    const join = this.cgroups.systemProcsFiles.map((f) => `echo $$ > ${f}`).join('; ');
    return ['--target', String(pid), '--mount', '--uts', '--net', '--', 'sh', '-c', `${join}; exec "$@"`, 'sh', cmd, ...args];
  }

  /** Starts a long-running process inside the node, logging to <dir>/<logName>.log; stopped by PID. */
  spawn(logName: string, cmd: string, args: string[]): ChildProcess {
    const child = spawn('nsenter', this.nsenterArgs(cmd, args), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.scope.track(child);
    const log = createWriteStream(join(this.dir, `${logName}.log`), { flags: 'a' });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    return child;
  }

  /** Runs a command to completion inside the node (its mount, UTS and network namespaces). */
  async exec(cmd: string, args: string[], input?: string): Promise<ExecResult> {
    return run('nsenter', this.nsenterArgs(cmd, args), input);
  }

  async logTail(logName: string, lines = 20): Promise<string> {
    const text = await readFile(join(this.dir, `${logName}.log`), 'utf8').catch(() => '');
    return text.split('\n').slice(-lines).join('\n');
  }

  /** Kills everything the node ran (by its cgroup), then the node init, which takes every mount with it. */
  async stop(): Promise<void> {
    await this.cgroups.destroy();
    if (this.init) await stopProcess(this.init, 3000);
    this.init = undefined;
  }

  /** Fails with the log tail when a node process has exited. */
  static async assertRunning(host: NodeHost, child: ChildProcess, logName: string): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${logName} on ${host.name} exited (${child.exitCode ?? child.signalCode}): ${await host.logTail(logName)}`);
    }
  }

  /** Waits until a unix socket or file exists inside the node. */
  async waitForPath(path: string, timeoutMs: number, child?: ChildProcess, logName = ''): Promise<void> {
    await waitFor(`${path} on ${this.name}`, async () => {
      if (child) await NodeHost.assertRunning(this, child, logName);
      await this.exec('test', ['-e', path]);
      return true;
    }, timeoutMs, 200);
  }
}
