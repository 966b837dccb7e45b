// The plugin, installed by its own installer, driven by the reference libcni through the shipped
// conflist (weft, then portmap) with Debian's bridge, host-local and portmap: ADD, CHECK (from
// 0.4.0) and DEL at every version each libcni speaks, each leaving nothing behind. Two libcnis:
// Debian's 1.1.2 (what Debian's containerd 1.6 is built with) and Kubernetes 1.20's vendored 0.8.0
// (its kubelet's dockershim); the shipped conflist's version must work with both.
import { jest } from '@jest/globals';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BUNDLED_CONFLIST, CniNode, type Pod } from '../lab/cni-runtime.js';
import { NetnsScope } from '../lab/netns.js';
import { buildLibcniClient, kubeletLibcni, libcniVersions, runLibcni, type LibcniCall } from '../libcni/client.js';

jest.setTimeout(300_000);

describe('weft through the reference libcni', () => {
  const scope = new NetnsScope();
  let node: CniNode;
  let debian: string;
  let kubelet: string;
  let cacheDir: string;

  beforeAll(async () => {
    debian = await buildLibcniClient();
    kubelet = await buildLibcniClient(await kubeletLibcni());
    node = await CniNode.create(scope, 'clib', 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.13.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    cacheDir = join(node.dir, 'libcni-cache');
    await mkdir(cacheDir);
  });
  afterAll(async () => {
    await scope.dispose();
  });

  /** The shipped conflist at `cniVersion`, its weft entry pointed at this node's files. */
  async function conflist(cniVersion: string | undefined): Promise<string> {
    const shipped = JSON.parse(await readFile(BUNDLED_CONFLIST, 'utf8')) as { cniVersion: string; plugins: Record<string, unknown>[] };
    const version = cniVersion ?? shipped.cniVersion;
    const plugins = shipped.plugins.map((p) => (p['type'] === 'weft' ? { ...p, subnetFile: node.subnetFile, dataDir: node.dataDir, ipam: { dataDir: node.ipamDataDir } } : p));
    const path = join(node.dir, `weft-${version}.conflist`);
    await writeFile(path, JSON.stringify({ ...shipped, cniVersion: version, plugins }));
    return path;
  }

  const call = (op: 'add' | 'check' | 'del', list: string, pod: Pod, client = debian): Promise<LibcniCall> =>
    runLibcni(client, op, { nodeNs: node.nodeNs, conflist: list, containerId: pod.id, podNs: pod.ns, ifname: 'eth0', cniPath: node.cniPath, cacheDir });

  async function expectNothingLeft(): Promise<void> {
    expect(await node.allocations()).toEqual([]);
    expect(await node.vethsOnNode()).toEqual([]);
    expect(await node.savedConfigs()).toEqual([]);
    // libcni forgets an attachment (its cached result) on DEL.
    expect(await readdir(join(cacheDir, 'results')).catch(() => [])).toEqual([]);
  }

  it.each([
    ['Debian\'s libcni 1.1.2', (): string => debian, ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0']],
    ['Kubernetes 1.20\'s libcni 0.8.0', (): string => kubelet, ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0']],
  ])('%s: ADD, CHECK (0.4.0 on) and DEL at every version it speaks, and the shipped conflist as it is', async (_name, client, expected) => {
    const versions = await libcniVersions(client());
    expect(versions).toEqual(expected);
    const shipped = (JSON.parse(await readFile(BUNDLED_CONFLIST, 'utf8')) as { cniVersion: string }).cniVersion;
    expect(versions).toContain(shipped);
    for (const version of [...versions, undefined]) {
      const list = await conflist(version);
      const pod = await node.newPod();
      const added = await call('add', list, pod, client());
      expect({ version, code: added.code, stderr: added.stderr }).toEqual({ version, code: 0, stderr: '' });
      const result = JSON.parse(added.stdout) as { cniVersion: string; ips?: { address: string }[]; ip4?: { ip: string } };
      expect(result.cniVersion).toBe(version ?? shipped);
      const address = result.ips?.[0]?.address ?? result.ip4?.ip ?? '';
      expect(address).toMatch(/^10\.244\.13\.\d+\/24$/);
      expect((await scope.exec(pod.ns, 'ip', ['-o', '-4', 'addr', 'show', 'eth0'])).stdout).toContain(address);
      if (['0.4.0', '1.0.0'].includes(version ?? shipped)) expect(await call('check', list, pod, client())).toMatchObject({ code: 0, stderr: '' });
      expect(await call('del', list, pod, client())).toMatchObject({ code: 0, stderr: '' });
      await expectNothingLeft();
    }
  });

  it('cannot ADD with a 1.0.0 conflist through Kubernetes 1.20\'s libcni (it stops at 0.4.0); DEL still cleans up', async () => {
    const list = await conflist('1.0.0');
    const pod = await node.newPod();
    expect(await call('add', list, pod, kubelet)).toMatchObject({ code: 1, stderr: expect.stringMatching(/1\.0\.0/) as unknown });
    expect(await call('del', list, pod, kubelet)).toMatchObject({ code: 0, stderr: '' });
    await expectNothingLeft();
  });

  it('cannot use a 1.1.0 conflist with Debian\'s libcni 1.1.2 and plugins: ADD fails (1.1.0 result) and so does every DEL (portmap refuses 1.1.0)', async () => {
    const list = await conflist('1.1.0');
    const pod = await node.newPod();
    const added = await call('add', list, pod);
    expect(added).toMatchObject({ code: 1, stderr: expect.stringMatching(/unsupported CNI result version "1\.1\.0"/) as unknown });
    const deleted = await call('del', list, pod);
    expect(deleted).toMatchObject({ code: 1, stderr: expect.stringMatching(/portmap.*incompatible CNI versions; config is "1\.1\.0"/) as unknown });
    // The pod would be stuck; the shipped conflist releases it.
    expect(await call('del', await conflist(undefined), pod)).toMatchObject({ code: 0, stderr: '' });
    await expectNothingLeft();
  });
});
