// Issue 12: the plugin as runtimes and meta-plugins (Multus) use it beyond one interface per pod,
// and in the verbs containerd 2.x and CRI-O call (GC, STATUS), with Debian's real bridge and
// host-local in namespaces. Every test ends by checking that nothing leaked: no host-local
// reservation, no veth on the node, no saved config.
import { jest } from '@jest/globals';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CniNode, type Pod } from '../lab/cni-runtime.js';
import { NetnsScope } from '../lab/netns.js';

jest.setTimeout(120_000);

const subnetEnv = (subnet: string, extra = 'FLANNEL_IPMASQ=true\n'): string =>
  `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${subnet}\nFLANNEL_MTU=1450\n${extra}`;

describe('weft CNI attachments (container ID, interface name), GC, STATUS, hostile environments', () => {
  const scope = new NetnsScope();
  let node: CniNode;

  beforeAll(async () => {
    node = await CniNode.create(scope, 'catt', subnetEnv('10.244.11.1/24'));
  });
  afterAll(async () => {
    await scope.dispose();
  });

  async function expectNothingLeft(): Promise<void> {
    expect(await node.allocations()).toEqual([]);
    expect(await node.vethsOnNode()).toEqual([]);
    expect(await node.savedConfigs()).toEqual([]);
  }

  async function add(pod: Pod, ifname = 'eth0', extra: Record<string, unknown> = {}): Promise<string> {
    const answer = await node.call('ADD', pod, node.conf(extra), { CNI_IFNAME: ifname });
    expect(answer).toMatchObject({ code: 0 });
    return ((JSON.parse(answer.stdout) as { ips: { address: string }[] }).ips[0]?.address ?? '').split('/')[0] ?? '';
  }

  const del = (pod: Pod, ifname = 'eth0'): Promise<unknown> => node.call('DEL', pod, node.conf(), { CNI_IFNAME: ifname });
  const linksIn = async (pod: Pod): Promise<string[]> =>
    (JSON.parse((await scope.exec(pod.ns, 'ip', ['-j', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname).sort();

  it('keeps two interfaces of one pod (one container ID) apart: DEL of each removes its own', async () => {
    const pod = await node.newPod();
    const eth0 = await add(pod, 'eth0');
    const net1 = await add(pod, 'net1');
    expect(eth0).not.toBe(net1);
    expect(await linksIn(pod)).toEqual(['eth0', 'lo', 'net1']);

    expect(await del(pod, 'eth0')).toEqual({ stdout: '', code: 0 });
    expect(await linksIn(pod)).toEqual(['lo', 'net1']);
    expect((await node.allocations()).map((a) => a.split(' ')[0])).toEqual([net1]);

    expect(await del(pod, 'net1')).toEqual({ stdout: '', code: 0 });
    expect(await linksIn(pod)).toEqual(['lo']);
    await expectNothingLeft();
  });

  it('reads and deletes a saved config written by flannel\'s plugin (keyed by container ID alone) after an upgrade', async () => {
    const pod = await node.newPod();
    await add(pod, 'eth0');
    // What flannel's plugin (or an older weft) leaves: the same delegate config under dataDir/<containerID>.
    const [saved] = await node.savedConfigs();
    await rename(join(node.dataDir, saved ?? ''), join(node.dataDir, pod.id));
    // The upgraded plugin then attaches a second interface to the same pod.
    await add(pod, 'net1');
    expect(await del(pod, 'eth0')).toEqual({ stdout: '', code: 0 });
    expect(await linksIn(pod)).toEqual(['lo', 'net1']);
    expect(await del(pod, 'net1')).toEqual({ stdout: '', code: 0 });
    await expectNothingLeft();
  });

  it('DEL with a corrupt saved config rebuilds the delegate config, releases everything and succeeds', async () => {
    const pod = await node.newPod();
    await add(pod);
    for (const name of await node.savedConfigs()) await writeFile(join(node.dataDir, name), '{"type": "bri');
    expect(await del(pod)).toEqual({ stdout: '', code: 0 });
    expect(await linksIn(pod)).toEqual(['lo']);
    await expectNothingLeft();
  });

  it('GC (1.1.0) keeps the valid attachments, continues past a corrupt file and one it cannot remove, releases host-local reservations without a saved config, and reports the rest', async () => {
    const [kept, stale, corrupt, unsaved] = [await node.newPod(), await node.newPod(), await node.newPod(), await node.newPod()];
    const keptAddresses = [await add(kept, 'eth0'), await add(kept, 'net1')];
    const keptFiles = await node.savedConfigs();
    await add(stale, 'eth0');
    await add(stale, 'net1');
    const before = new Set(await node.savedConfigs());
    await add(corrupt);
    for (const name of await node.savedConfigs()) if (!before.has(name)) await writeFile(join(node.dataDir, name), 'not json');
    const withoutUnsaved = new Set(await node.savedConfigs());
    await add(unsaved);
    for (const name of await node.savedConfigs()) if (!withoutUnsaved.has(name)) await rename(join(node.dataDir, name), join(node.dir, `moved-${name}`));
    // Something in the way that GC cannot remove: a directory where a saved config would be.
    await mkdir(join(node.dataDir, 'in-the-way'));

    const valid = [{ containerID: kept.id, ifname: 'eth0' }, { containerID: kept.id, ifname: 'net1' }];
    const gc = await node.call('GC', undefined, node.conf({ cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid }));
    expect(gc.code).not.toBe(0);
    expect(JSON.parse(gc.stdout)).toMatchObject({ cniVersion: '1.1.0', msg: expect.stringMatching(/in-the-way/) as unknown });
    expect((await node.allocations()).map((a) => a.split(' ')[0]).sort()).toEqual([...keptAddresses].sort());
    expect(await node.savedConfigs()).toEqual(['in-the-way', ...keptFiles].sort());
    expect(await linksIn(kept)).toEqual(['eth0', 'lo', 'net1']);

    await writeFile(join(node.dataDir, 'in-the-way', 'x'), '');
    await scope.exec(node.nodeNs, 'rm', ['-r', join(node.dataDir, 'in-the-way')]);
    for (const pod of [stale, corrupt, unsaved]) await scope.deleteNamespace(pod.ns); // the runtime removed these sandboxes
    expect(await del(kept, 'eth0')).toEqual({ stdout: '', code: 0 });
    expect(await del(kept, 'net1')).toEqual({ stdout: '', code: 0 });
    await expectNothingLeft();
  });

  it('refuses a subnet.env without FLANNEL_IPMASQ as flannel\'s plugin does, touching nothing', async () => {
    const pod = await node.newPod();
    const other = join(node.dir, 'no-ipmasq.env');
    await writeFile(other, subnetEnv('10.244.11.1/24', ''));
    const answer = await node.call('ADD', pod, node.conf({ subnetFile: other }));
    expect(answer.code).not.toBe(0);
    expect(JSON.parse(answer.stdout)).toMatchObject({ cniVersion: '1.0.0', code: 7, msg: expect.stringMatching(/FLANNEL_IPMASQ/) as unknown });
    await expectNothingLeft();
  });

  it('treats a config without cniVersion as 0.1.0, as the reference skel does', async () => {
    const pod = await node.newPod();
    const conf = JSON.parse(node.conf()) as Record<string, unknown>;
    delete conf['cniVersion'];
    const added = await node.call('ADD', pod, JSON.stringify(conf));
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ cniVersion: '0.1.0', ip4: { ip: expect.stringMatching(/^10\.244\.11\.\d+\/24$/) as unknown } });
    expect(await node.call('DEL', pod, JSON.stringify(conf))).toEqual({ stdout: '', code: 0 });
    await expectNothingLeft();
  });

  it('answers errors raised before the config is parsed in the request\'s cniVersion', async () => {
    const badCommand = await node.call('FROB', undefined, node.conf({ cniVersion: '0.3.1' }));
    expect(JSON.parse(badCommand.stdout)).toMatchObject({ cniVersion: '0.3.1', code: 4 });
    const badDelegate = await node.call('ADD', await node.newPod(), node.conf({ cniVersion: '0.4.0', delegate: { name: 'x' } }));
    expect(JSON.parse(badDelegate.stdout)).toMatchObject({ cniVersion: '0.4.0', code: 7 });
  });

  it('runs the same whatever NODE_* variables the runtime passes (the launcher clears them)', async () => {
    const hostile = {
      NODE_OPTIONS: '--require /nonexistent/hook.js --max-old-space-size=1',
      NODE_EXTRA_CA_CERTS: join(node.dir, 'no-such-ca.pem'),
      NODE_DEBUG: 'child_process,fs,net',
      NODE_PATH: '/nonexistent',
      NODE_CHANNEL_FD: '3',
      NODE_V8_COVERAGE: join(node.dir, 'coverage'),
      OPENSSL_CONF: join(node.dir, 'no-such-openssl.cnf'),
    };
    const pod = await node.newPod();
    const added = await node.call('ADD', pod, node.conf(), hostile);
    expect(added.code).toBe(0);
    expect(JSON.parse(added.stdout)).toMatchObject({ cniVersion: '1.0.0', ips: [{ address: expect.stringMatching(/^10\.244\.11\./) as unknown }] });
    expect(await node.call('DEL', pod, node.conf(), hostile)).toEqual({ stdout: '', code: 0 });
    const unknown = await node.call('FROB', undefined, node.conf(), hostile);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ code: 4 });
    await expectNothingLeft();
  });
});

describe('weft CNI STATUS when the address range is full', () => {
  const scope = new NetnsScope();
  afterAll(async () => {
    await scope.dispose();
  });

  it('answers STATUS 50 once host-local has no address left, and 0 again after a DEL', async () => {
    // A /29 as host-local hands it out: .1 (gateway) to .6, so five pods fill it.
    const node = await CniNode.create(scope, 'cfull', subnetEnv('10.244.12.1/29'));
    const status = (): Promise<{ stdout: string; code: number }> => node.call('STATUS', undefined, node.conf({ cniVersion: '1.1.0' }));
    expect(await status()).toEqual({ stdout: '', code: 0 });
    const pods = [];
    for (let i = 0; i < 5; i++) {
      const pod = await node.newPod();
      expect((await node.call('ADD', pod, node.conf())).code).toBe(0);
      pods.push(pod);
    }
    const sixth = await node.call('ADD', await node.newPod(), node.conf());
    expect(sixth.code).not.toBe(0); // host-local agrees that the range is full
    const full = await status();
    expect(full.code).not.toBe(0);
    expect(JSON.parse(full.stdout)).toMatchObject({ cniVersion: '1.1.0', code: 50, msg: expect.stringMatching(/10\.244\.12\.0\/29.*5 of 5/) as unknown });

    expect((await node.call('DEL', pods[0], node.conf())).code).toBe(0);
    expect(await status()).toEqual({ stdout: '', code: 0 });
    for (const pod of pods.slice(1)) expect((await node.call('DEL', pod, node.conf())).code).toBe(0);
    expect(await node.allocations()).toEqual([]);
  });
});
