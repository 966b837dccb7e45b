// The weft CNI plugin, installed by its own installer, driving Debian's real bridge and host-local
// plugins on real namespaces: a node namespace (where bridge makes cni0) and pod namespaces.
// subnet.env is written by hand here; the end-to-end tests attach every lab pod through the plugin.
import { jest } from '@jest/globals';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { attachPodWithCni, CniCallError, detachPodWithCni, type CniAttachOptions } from '../lab/cni-attach.js';
import { callPlugin, installLabPlugin, type PluginCall } from '../lab/cni-runtime.js';
import { NetnsScope } from '../lab/netns.js';

jest.setTimeout(60_000);

const SUBNET_ENV = 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.7.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n';
const VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'];

describe('weft CNI plugin with the real bridge and host-local', () => {
  const scope = new NetnsScope();
  let dir: string;
  let nodeNs: string;
  let cniPath: string;
  let plugin: string;
  let subnetFile: string;
  let dataDir: string;
  let ipamDataDir: string;
  let pods = 0;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cni-'));
    cniPath = await installLabPlugin(join(dir, 'bin'), join(dir, 'net.d'));
    plugin = join(dir, 'bin', 'weft');
    subnetFile = join(dir, 'subnet.env');
    dataDir = join(dir, 'data');
    ipamDataDir = join(dir, 'ipam');
    await writeFile(subnetFile, SUBNET_ENV);
    nodeNs = await scope.createNamespace('cnode');
  });
  afterAll(async () => {
    await scope.dispose();
    await rm(dir, { recursive: true, force: true });
  });

  const conf = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ name: 'cbr0', cniVersion: '1.0.0', type: 'weft', subnetFile, dataDir, ipam: { dataDir: ipamDataDir }, delegate: { hairpinMode: true }, ...extra });

  async function newPod(): Promise<{ ns: string; id: string }> {
    pods += 1;
    const n = pods; // several pods may be made at once
    return { ns: await scope.createNamespace(`cp${n}`), id: `container-${n}` };
  }

  function call(command: string, pod: { ns: string; id: string } | undefined, stdin: string, env: Record<string, string> = {}): Promise<PluginCall> {
    return callPlugin(nodeNs, plugin, {
      CNI_COMMAND: command,
      ...(pod ? { CNI_CONTAINERID: pod.id, CNI_NETNS: `/var/run/netns/${pod.ns}`, CNI_IFNAME: 'eth0' } : {}),
      CNI_PATH: cniPath,
      ...env,
    }, stdin);
  }

  const allocations = async (): Promise<string[]> =>
    (await readdir(join(ipamDataDir, 'cbr0')).catch(() => [] as string[])).filter((f) => /^\d+\.\d+\.\d+\.\d+$/.test(f));
  const vethsOnNode = async (): Promise<string[]> =>
    (await scope.exec(nodeNs, 'ip', ['-o', 'link', 'show', 'type', 'veth'])).stdout.split('\n').filter((l) => l !== '');

  it('attaches a pod: address from the subnet, MTU from subnet.env, route to the Network; DEL removes it all', async () => {
    const pod = await newPod();
    const added = await call('ADD', pod, conf());
    expect(added.code).toBe(0);
    const result = JSON.parse(added.stdout) as { cniVersion: string; ips: { address: string; gateway: string }[] };
    expect(result.cniVersion).toBe('1.0.0');
    const address = result.ips[0]?.address ?? '';
    expect(address).toMatch(/^10\.244\.7\.\d+\/24$/);
    expect(result.ips[0]?.gateway).toBe('10.244.7.1');

    const link = JSON.parse((await scope.exec(pod.ns, 'ip', ['-j', 'addr', 'show', 'eth0'])).stdout) as { mtu: number }[];
    expect(link[0]?.mtu).toBe(1450);
    expect((await scope.exec(pod.ns, 'ip', ['route', 'show', '10.244.0.0/16'])).stdout.trim()).toBe('10.244.0.0/16 via 10.244.7.1 dev eth0');
    const saved = JSON.parse(await readFile(join(dataDir, `${pod.id}:eth0`), 'utf8')) as Record<string, unknown>;
    expect(saved).toMatchObject({
      type: 'bridge', name: 'cbr0', mtu: 1450, ipMasq: false, isGateway: true, hairpinMode: true,
      ipam: { type: 'host-local', dataDir: ipamDataDir, ranges: [[{ subnet: '10.244.7.0/24' }]], routes: [{ dst: '10.244.0.0/16', gw: '10.244.7.1' }] },
    });
    expect(await allocations()).toContain(address.split('/')[0]);

    const removed = await call('DEL', pod, conf());
    expect(removed).toEqual({ stdout: '', code: 0 });
    expect(existsSync(join(dataDir, `${pod.id}:eth0`))).toBe(false);
    expect(await allocations()).not.toContain(address.split('/')[0]);
    await expect(scope.exec(pod.ns, 'ip', ['link', 'show', 'eth0'])).rejects.toThrow();
    expect(await vethsOnNode()).toEqual([]);
  });

  it('lists its versions and answers ADD in each version\'s result format', async () => {
    const version = await call('VERSION', undefined, '{"cniVersion":"1.1.0"}');
    expect(JSON.parse(version.stdout)).toEqual({ cniVersion: '1.1.0', supportedVersions: VERSIONS });
    for (const cniVersion of VERSIONS) {
      const pod = await newPod();
      const added = await call('ADD', pod, conf({ cniVersion }));
      expect(added.code).toBe(0);
      const result = JSON.parse(added.stdout) as { cniVersion: string; ips?: Record<string, unknown>[]; interfaces?: unknown[]; ip4?: { ip: string } };
      expect(result.cniVersion).toBe(cniVersion);
      if (cniVersion === '0.1.0' || cniVersion === '0.2.0') {
        // The legacy format: ip4 {ip, gateway, routes}, no interfaces or ips.
        expect(result.ip4?.ip).toMatch(/^10\.244\.7\.\d+\/24$/);
        expect(result).not.toHaveProperty('ips');
      } else {
        expect(Array.isArray(result.interfaces)).toBe(true);
        // 0.3.x and 0.4.0 results carry ips[].version; 1.x results do not.
        if (cniVersion.startsWith('0.')) expect(result.ips?.[0]?.['version']).toBe('4');
        else expect(result.ips?.[0]).not.toHaveProperty('version');
      }
      if (['0.4.0', '1.0.0', '1.1.0'].includes(cniVersion)) {
        expect(await call('CHECK', pod, conf({ cniVersion, prevResult: result }))).toEqual({ stdout: '', code: 0 });
      } else {
        expect(JSON.parse((await call('CHECK', pod, conf({ cniVersion }))).stdout)).toMatchObject({ code: 1 });
      }
      expect((await call('DEL', pod, conf({ cniVersion }))).code).toBe(0);
    }
    expect(await allocations()).toEqual([]);
  });

  it.each([
    ['empty stdin', '', {}, 6, /no network configuration/],
    ['malformed JSON', '{"cniVersion": ', {}, 6, /not JSON/],
    ['delegate with a name', 'DELEGATE_NAME', {}, 7, /must not set "name"/],
    ['delegate with ipam', 'DELEGATE_IPAM', {}, 7, /must not set "ipam"/],
    ['an unknown cniVersion', 'VERSION_9', {}, 1, /cniVersion "9.9.9" is not supported/],
    ['a missing subnet.env', 'NO_SUBNET_ENV', {}, 11, /weftd may not be running/],
    ['a missing delegate binary', 'CONF', { CNI_PATH: '/nonexistent' }, 5, /"bridge" not found on CNI_PATH \(\/nonexistent\)/],
    ['a missing CNI_IFNAME', 'CONF', { CNI_IFNAME: '' }, 4, /CNI_IFNAME is not set/],
    ['a delegate that fails (netns gone)', 'CONF', { CNI_NETNS: '/var/run/netns/weft-no-such-ns' }, undefined, /bridge ADD failed/],
  ] as const)('refuses %s with a CNI error and leaves nothing behind', async (_what, input, env, code, message) => {
    const stdin = {
      DELEGATE_NAME: conf({ delegate: { name: 'x' } }),
      DELEGATE_IPAM: conf({ delegate: { ipam: { type: 'dhcp' } } }),
      VERSION_9: conf({ cniVersion: '9.9.9' }),
      NO_SUBNET_ENV: conf({ subnetFile: join(dir, 'missing.env') }),
      CONF: conf(),
    }[input as string] ?? input;
    const pod = await newPod();
    const answer = await call('ADD', pod, stdin, env);
    expect(answer.code).not.toBe(0);
    const error = JSON.parse(answer.stdout) as { cniVersion: string; code: number; msg: string };
    if (code !== undefined) expect(error.code).toBe(code);
    expect(typeof error.cniVersion).toBe('string');
    expect(error.msg).toMatch(message);
    expect(existsSync(join(dataDir, `${pod.id}:eth0`))).toBe(false);
    expect(await allocations()).toEqual([]);
    expect(await vethsOnNode()).toEqual([]);
  });

  it('succeeds on DEL for a container it never saw', async () => {
    expect(await call('DEL', { ns: 'unused', id: 'never-added' }, conf(), { CNI_NETNS: '' })).toEqual({ stdout: '', code: 0 });
  });

  it('gives ten pods added at once ten distinct addresses', async () => {
    const batch = await Promise.all(Array.from({ length: 10 }, () => newPod()));
    const answers = await Promise.all(batch.map((pod) => call('ADD', pod, conf())));
    expect(answers.filter((a) => a.code !== 0)).toEqual([]);
    const addresses = answers.map((a) => (JSON.parse(a.stdout) as { ips: { address: string }[] }).ips[0]?.address);
    expect(new Set(addresses).size).toBe(10);
    // Two of them talk to each other over the bridge.
    const [a] = batch as [{ ns: string; id: string }];
    const bIp = (addresses[1] ?? '').split('/')[0] ?? '';
    expect((await scope.exec(a.ns, 'ping', ['-c', '1', '-W', '2', bIp])).stdout).toContain('1 received');
    await Promise.all(batch.map((pod) => call('DEL', pod, conf())));
    expect(await allocations()).toEqual([]);
  });

  it('reports STATUS from subnet.env and garbage-collects attachments the runtime no longer has (1.1.0)', async () => {
    expect(await call('STATUS', undefined, conf({ cniVersion: '1.1.0' }))).toEqual({ stdout: '', code: 0 });
    const down = await call('STATUS', undefined, conf({ cniVersion: '1.1.0', subnetFile: join(dir, 'missing.env') }));
    expect(JSON.parse(down.stdout)).toMatchObject({ code: 50 });

    const [kept, stale] = [await newPod(), await newPod()];
    for (const pod of [kept, stale]) expect((await call('ADD', pod, conf({ cniVersion: '1.1.0' }))).code).toBe(0);
    const gc = await call('GC', undefined, conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: kept.id, ifname: 'eth0' }] }));
    expect(gc.code).toBe(0);
    expect(existsSync(join(dataDir, `${kept.id}:eth0`))).toBe(true);
    expect(existsSync(join(dataDir, `${stale.id}:eth0`))).toBe(false);
    expect(await allocations()).toHaveLength(1);
    expect((await call('DEL', kept, conf({ cniVersion: '1.1.0' }))).code).toBe(0);
  });
});

describe('test/lab/cni-attach (the lab\'s way to attach a pod through the plugin)', () => {
  const scope = new NetnsScope();
  let dir: string;
  afterAll(async () => {
    await scope.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('attaches two pods that ping each other, and detaches them leaving no allocation or saved config', async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-cni-attach-'));
    const subnetFile = join(dir, 'subnet.env');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.8.1/24\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=true\n');
    const nodeNs = await scope.createNamespace('anode');
    const pods = [await scope.createNamespace('ap1'), await scope.createNamespace('ap2')];
    const opts = pods.map((podNs, i) => ({ nodeNs, podNs, containerId: `attach-${i}`, subnetFile, dataDir: join(dir, 'state') }));
    const [a, b] = [await attachPodWithCni(opts[0] as CniAttachOptions), await attachPodWithCni(opts[1] as CniAttachOptions)];
    expect([a.ip, b.ip]).toEqual([expect.stringMatching(/^10\.244\.8\.\d+$/), expect.stringMatching(/^10\.244\.8\.\d+$/)]);
    expect(a.ip).not.toBe(b.ip);
    expect((a.result as { cniVersion: string }).cniVersion).toBe('0.4.0');
    expect((await scope.exec(pods[0] ?? '', 'ping', ['-c', '2', '-W', '2', b.ip])).stdout).toContain('2 received');
    expect((await readdir(join(dir, 'state', 'ipam', 'cbr0'))).filter((f) => f.startsWith('10.'))).toHaveLength(2);

    for (const o of opts) await detachPodWithCni(o);
    expect((await readdir(join(dir, 'state', 'ipam', 'cbr0'))).filter((f) => f.startsWith('10.'))).toEqual([]);
    expect(await readdir(join(dir, 'state', 'weft'))).toEqual([]);
    // DEL again is fine; a bad ADD surfaces the plugin's CNI error.
    await detachPodWithCni(opts[0] as CniAttachOptions);
    const failure = await attachPodWithCni({ ...(opts[0] as CniAttachOptions), subnetFile: join(dir, 'nope.env') }).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(CniCallError);
    expect(JSON.parse((failure as CniCallError).stdout)).toMatchObject({ code: 11 });
  });
});

describe('weft-cni-install', () => {
  it('puts the launcher, the plugin with its own Node.js, and the conflist in place', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'weft-install-'));
    try {
      const installer = fileURLToPath(new URL('../../cmd/weft-cni-install.js', import.meta.url));
      const conflist = join(dir, 'cni-conf.json');
      await writeFile(conflist, '{"name":"cbr0","cniVersion":"1.0.0","plugins":[{"type":"weft"},{"type":"portmap","capabilities":{"portMappings":true}}]}');
      await mkdir(join(dir, 'bin'));
      await writeFile(join(dir, 'bin', 'weft-0.0.1'), 'an older install');
      const { stdout } = await promisify(execFile)(process.execPath, [installer, '--bin-dir', join(dir, 'bin'), '--conf-dir', join(dir, 'net.d'), '--conflist', conflist]);
      expect(stdout).toContain(`installed ${join(dir, 'bin', 'weft')}`);
      expect(await readFile(join(dir, 'net.d', '10-weft.conflist'), 'utf8')).toBe(await readFile(conflist, 'utf8'));
      const entries = (await readdir(join(dir, 'bin'))).sort();
      expect(entries).toEqual(['weft', expect.stringMatching(/^weft-\d+\.\d+\.\d+$/)]);
      // The launcher runs the shipped node, not the host's.
      expect(await readFile(join(dir, 'bin', 'weft'), 'utf8')).toMatch(/exec "\$here\/weft-[\d.]+\/node"/);
      const version = await new Promise<string>((resolve, reject) => {
        const child = execFile(join(dir, 'bin', 'weft'), [], { env: { CNI_COMMAND: 'VERSION', PATH: '/nonexistent' } }, (err, out) => {
          if (err) reject(new Error(err.message));
          else resolve(out);
        });
        child.stdin?.end('{"cniVersion":"0.4.0"}');
      });
      expect(JSON.parse(version)).toEqual({ cniVersion: '0.4.0', supportedVersions: VERSIONS });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
