// One cgroup tree per lab node, in every cgroup v1 hierarchy of this machine (cgroup v1 hybrid):
// /<node> is the kubelet's cgroupRoot (it makes /<node>/kubepods under it) and /<node>/system holds
// the node's own processes (containerd and so its shims, kubelet, kube-proxy). Everything a node
// ran is therefore found by its cgroup, never by a process name, and killed by PID at teardown.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { waitFor } from '../netns.js';

const CGROUP_ROOT = '/sys/fs/cgroup';
/** The v1 hierarchies the kubelet's cgroupfs driver needs (plus systemd's named one, which it also joins). */
const HIERARCHIES = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'hugetlb'];

export class NodeCgroups {
  private constructor(
    /** The node's cgroupRoot, e.g. "/wk3a-n1". */
    readonly root: string,
    private readonly hierarchies: string[],
  ) {}

  /** Creates /<name> and /<name>/system in every mounted v1 hierarchy. */
  static async create(name: string): Promise<NodeCgroups> {
    if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`cgroup name ${name}: use lower-case letters, digits and dashes`);
    const hierarchies = HIERARCHIES.filter((h) => existsSync(join(CGROUP_ROOT, h, 'cgroup.procs')));
    if (!hierarchies.includes('pids')) throw new Error('no cgroup v1 pids hierarchy under /sys/fs/cgroup: the real-node lab needs cgroup v1 (hybrid)');
    const cgroups = new NodeCgroups(`/${name}`, hierarchies);
    for (const h of hierarchies) {
      for (const dir of [cgroups.root, `${cgroups.root}/system`]) {
        await mkdir(join(CGROUP_ROOT, h, dir), { recursive: true });
        // A new cpuset starts empty and cannot take tasks: inherit the parent's CPUs and memory nodes.
        if (h === 'cpuset') await copyCpuset(join(CGROUP_ROOT, h, dir));
      }
    }
    return cgroups;
  }

  /** The cgroup.procs files a process writes its PID to, to join /<node>/system everywhere. */
  get systemProcsFiles(): string[] {
    return this.hierarchies.map((h) => join(CGROUP_ROOT, h, this.root, 'system', 'cgroup.procs'));
  }

  /** Every PID anywhere under /<node> (pids hierarchy). */
  async pids(): Promise<number[]> {
    const found: number[] = [];
    const walk = async (dir: string): Promise<void> => {
      const procs = await readFile(join(dir, 'cgroup.procs'), 'utf8').catch(() => '');
      found.push(...procs.split('\n').filter(Boolean).map(Number));
      const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
      for (const e of entries) if (e.isDirectory()) await walk(join(dir, e.name));
    };
    await walk(join(CGROUP_ROOT, 'pids', this.root));
    return found;
  }

  /** SIGKILLs every process of the node until none is left, then removes the tree everywhere. */
  async destroy(): Promise<void> {
    await waitFor(`every process in cgroup ${this.root} to exit`, async () => {
      const pids = await this.pids();
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      return pids.length === 0 ? true : undefined;
    }, 20_000, 100);
    for (const h of this.hierarchies) await removeTree(join(CGROUP_ROOT, h, this.root));
  }
}

async function copyCpuset(dir: string): Promise<void> {
  for (const file of ['cpuset.cpus', 'cpuset.mems']) {
    const current = (await readFile(join(dir, file), 'utf8')).trim();
    if (current) continue;
    const parent = (await readFile(join(dir, '..', file), 'utf8')).trim();
    await writeFile(join(dir, file), parent);
  }
}

/** rmdir bottom-up (cgroup directories only ever hold control files, which rmdir ignores). */
async function removeTree(dir: string): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => undefined);
  if (!entries) return;
  for (const e of entries) if (e.isDirectory()) await removeTree(join(dir, e.name));
  await waitFor(`rmdir ${dir}`, () => rmdir(dir).then(() => true), 5000, 100);
}
