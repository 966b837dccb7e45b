// GC and STATUS with a fake delegate: what is passed on to a delegate that speaks 1.1.0, what weft
// does itself for one that does not (Debian's), and how full host-local's range may get.
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostLocalCapacity, inSubnet } from './cidr.js';
import type { DelegateRunner } from './delegate.js';
import { runPlugin } from './weft-plugin.js';

interface Call {
  command: string;
  config: Record<string, unknown>;
  overrides: Record<string, string>;
}

function fakeDelegate(speaks: string[]): { calls: Call[]; runDelegate: DelegateRunner } {
  const calls: Call[] = [];
  return {
    calls,
    runDelegate: (command, config, _env, overrides = {}) => {
      calls.push({ command, config, overrides });
      return Promise.resolve(command === 'VERSION' ? JSON.stringify({ cniVersion: '1.1.0', supportedVersions: speaks }) : '');
    },
  };
}

describe('host-local range arithmetic', () => {
  it.each([['10.244.7.0/24', 253n], ['10.244.12.0/29', 5n], ['10.244.0.0/30', 1n], ['10.244.0.0/32', 0n], ['fd00:0:0:3::/120', 254n]])(
    '%s holds %d pods', (subnet, pods) => { expect(hostLocalCapacity(subnet)).toBe(pods); },
  );

  it('tells which subnet an address is in', () => {
    expect(inSubnet('10.244.7.254', '10.244.7.0/24')).toBe(true);
    expect(inSubnet('10.244.8.1', '10.244.7.0/24')).toBe(false);
    expect(inSubnet('fd00:0:0:3::5', '10.244.7.0/24')).toBe(false);
  });
});

describe('GC and STATUS', () => {
  let dir: string;
  let ipamDir: string;
  const env = { CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' };
  const conf = (extra: Record<string, unknown> = {}): string => JSON.stringify({
    name: 'cbr0', cniVersion: '1.1.0', type: 'weft', subnetFile: join(dir, 'subnet.env'), dataDir: join(dir, 'data'), ipam: { dataDir: join(dir, 'ipam') }, ...extra,
  });
  const reserve = async (ip: string, owner: string): Promise<void> => { await writeFile(join(ipamDir, ip), owner); };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-gc-unit-'));
    ipamDir = join(dir, 'ipam', 'cbr0');
    await mkdir(ipamDir, { recursive: true });
    await mkdir(join(dir, 'data'));
    await writeFile(join(dir, 'subnet.env'), 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('passes GC with the valid attachments to a delegate that speaks 1.1.0, after releasing stale saved configs', async () => {
    await writeFile(join(dir, 'data', 'a:eth0'), '{"type":"bridge","cniVersion":"1.0.0"}');
    await writeFile(join(dir, 'data', 'b:net1'), '{"type":"bridge","cniVersion":"1.0.0"}');
    const deps = fakeDelegate(['1.0.0', '1.1.0']);
    const valid = [{ containerID: 'a', ifname: 'eth0' }];
    expect(await runPlugin(env, conf({ 'cni.dev/valid-attachments': valid }), deps)).toEqual({ stdout: '', exitCode: 0 });
    expect(deps.calls.map((c) => c.command)).toEqual(['DEL', 'VERSION', 'GC']);
    expect(deps.calls[0]?.overrides).toEqual({ CNI_CONTAINERID: 'b', CNI_IFNAME: 'net1', CNI_NETNS: '' });
    expect(deps.calls[2]?.config).toMatchObject({ type: 'bridge', cniVersion: '1.1.0', 'cni.dev/valid-attachments': valid, ipam: { type: 'host-local' } });
    expect(await readdir(join(dir, 'data'))).toEqual(['a:eth0']);
  });

  it('for a delegate from before GC, DELs each host-local reservation no valid attachment holds, matching container and interface', async () => {
    await reserve('10.244.3.2', 'a\r\neth0');
    await reserve('10.244.3.3', 'a\r\nnet1');
    await reserve('10.244.3.4', 'b\r\neth0');
    await reserve('10.244.3.5', 'c'); // host-local before 0.9: the container ID alone
    await writeFile(join(ipamDir, 'last_reserved_ip.0'), '10.244.3.5');
    const deps = fakeDelegate(['0.4.0', '1.0.0']);
    const answer = await runPlugin(env, conf({ 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0' }, { containerID: 'c', ifname: 'eth0' }] }), deps);
    expect(answer).toEqual({ stdout: '', exitCode: 0 });
    const dels = deps.calls.filter((c) => c.command === 'DEL').map((c) => c.overrides).sort((x, y) => (x['CNI_CONTAINERID'] ?? '').localeCompare(y['CNI_CONTAINERID'] ?? ''));
    expect(dels).toEqual([{ CNI_CONTAINERID: 'a', CNI_IFNAME: 'net1', CNI_NETNS: '' }, { CNI_CONTAINERID: 'b', CNI_IFNAME: 'eth0', CNI_NETNS: '' }]);
  });

  it('goes on past a DEL that fails and reports it, with the request\'s version', async () => {
    await reserve('10.244.3.2', 'a\r\neth0');
    await reserve('10.244.3.3', 'b\r\neth0');
    const deps = fakeDelegate([]);
    const failing: DelegateRunner = async (command, config, e, overrides = {}) => {
      if (command === 'DEL' && overrides['CNI_CONTAINERID'] === 'a') throw new Error('bridge DEL failed: busy');
      return deps.runDelegate(command, config, e, overrides);
    };
    const answer = await runPlugin(env, conf(), { runDelegate: failing });
    expect(answer.exitCode).toBe(1);
    expect(JSON.parse(answer.stdout)).toMatchObject({ cniVersion: '1.1.0', msg: expect.stringMatching(/10\.244\.3\.2 \(container a\): bridge DEL failed: busy/) as unknown });
    expect(deps.calls.filter((c) => c.command === 'DEL').map((c) => c.overrides['CNI_CONTAINERID'])).toEqual(['b']);
  });

  it('STATUS asks a delegate that speaks 1.1.0, and answers 50 once host-local has handed out all 253 addresses of a /24', async () => {
    const status = { CNI_COMMAND: 'STATUS', CNI_PATH: '/opt/cni/bin' };
    const deps = fakeDelegate(['1.1.0']);
    for (let i = 2; i <= 253; i++) await reserve(`10.244.3.${i}`, `c${i}\r\neth0`);
    expect(await runPlugin(status, conf(), deps)).toEqual({ stdout: '', exitCode: 0 });
    expect(deps.calls.map((c) => c.command)).toEqual(['VERSION', 'STATUS']);
    await reserve('10.244.3.254', 'last\r\neth0');
    const full = await runPlugin(status, conf(), deps);
    expect(JSON.parse(full.stdout)).toEqual({
      cniVersion: '1.1.0', code: 50, msg: 'no address left for a new pod in 10.244.3.0/24: 253 of 253 in use', details: expect.any(String) as unknown,
    });
  });
});
