// The etcd fixture itself: inside a network namespace (as the local cluster runs it, on an underlay
// address plus an extra loopback URL), and in the host namespace; stopped by PID, data dir removed.
import { access, readlink } from 'node:fs/promises';
import { EtcdServer } from '../lab/etcd-server.js';
import { NetnsScope, run } from '../lab/netns.js';

const T = 60_000;
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const exists = (path: string): Promise<boolean> => access(path).then(() => true, () => false);

describe('EtcdServer fixture', () => {
  it('runs etcd inside a namespace on an underlay address and an extra URL, and stops it by PID', async () => {
    const scope = new NetnsScope();
    let server: EtcdServer | undefined;
    try {
      const ns = await scope.createNamespace('etcd');
      await scope.exec(ns, 'ip', ['addr', 'add', '192.0.2.1/32', 'dev', 'lo']);
      server = await EtcdServer.start({ scope, ns, host: '192.0.2.1', clientPort: 2379, peerPort: 2380, extraClientUrls: ['http://127.0.0.1:4001'] });
      expect(server.endpoint).toBe('http://192.0.2.1:2379');
      const pid = server.pid ?? 0;
      expect(alive(pid)).toBe(true);
      // The process is in the namespace, not in ours.
      expect(await readlink(`/proc/${pid}/ns/net`)).not.toBe(await readlink('/proc/self/ns/net'));
      await server.etcdctl(['put', '/k', 'v']);
      const viaExtra = await scope.exec(ns, 'etcdctl', ['--endpoints', 'http://127.0.0.1:4001', 'get', '/k', '--print-value-only']);
      expect(viaExtra.stdout.trim()).toBe('v');
      // Unreachable from the host namespace.
      await expect(run('etcdctl', ['--endpoints', 'http://192.0.2.1:2379', '--dial-timeout', '1s', '--command-timeout', '2s', 'get', '/k'])).rejects.toThrow();

      await server.stop();
      expect(alive(pid)).toBe(false);
      await server.start(); // same data dir: the key survived
      expect((await server.etcdctl(['get', '/k', '--print-value-only'])).trim()).toBe('v');
      const workDir = server.workDir;
      await server.dispose();
      server = undefined;
      expect(await exists(workDir)).toBe(false);
    } finally {
      await server?.dispose();
      await scope.dispose();
    }
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(scope.prefix);
  }, T);

  it('runs etcd in the host namespace on free 127.0.0.1 ports', async () => {
    const a = await EtcdServer.start();
    const b = await EtcdServer.start();
    try {
      expect(a.clientPort).not.toBe(b.clientPort);
      await a.etcdctl(['put', '/only-in-a', '1']);
      expect((await b.etcdctl(['get', '/only-in-a', '--print-value-only'])).trim()).toBe('');
    } finally {
      await a.dispose();
      await b.dispose();
    }
    expect(a.running || b.running).toBe(false);
  }, T);
});
