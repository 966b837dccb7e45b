// The plugin's protocol and bookkeeping with a fake delegate: what it hands the delegate, what it
// saves, what it answers, and what it undoes. Files go to a temp dir; no plugin binary runs.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CniError } from './cni-error.js';
import { runPlugin, type PluginDeps } from './weft-plugin.js';

interface Call {
  command: string;
  config: Record<string, unknown>;
}

const bridgeResult = (cniVersion: string): string => JSON.stringify({
  cniVersion,
  interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/p' }],
  ips: [{ interface: 0, address: '10.244.3.2/24', gateway: '10.244.3.1' }],
  dns: {},
});

function fakeDelegate(fail: Partial<Record<string, CniError>> = {}): PluginDeps & { calls: Call[] } {
  const calls: Call[] = [];
  return {
    calls,
    runDelegate: (command, config) => {
      calls.push({ command, config });
      const failure = fail[command];
      if (failure) return Promise.reject(failure);
      return Promise.resolve(command === 'ADD' ? bridgeResult(String(config['cniVersion'])) : '');
    },
  };
}

describe('runPlugin', () => {
  let dir: string;
  let subnetFile: string;
  let dataDir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-plugin-unit-'));
    subnetFile = join(dir, 'subnet.env');
    dataDir = join(dir, 'data');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.3.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const env = (command: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv => ({
    CNI_COMMAND: command, CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/p', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin', ...extra,
  });
  const conf = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ name: 'cbr0', cniVersion: '1.0.0', type: 'weft', subnetFile, dataDir, ...extra });

  it('ADD saves the delegate config (0600) before calling the delegate and answers its result', async () => {
    const deps = fakeDelegate();
    let savedWhenCalled = false;
    const spying: PluginDeps = {
      runDelegate: async (command, config, e) => {
        savedWhenCalled = existsSync(join(dataDir, 'c1:eth0'));
        return deps.runDelegate(command, config, e);
      },
    };
    const out = await runPlugin(env('ADD'), conf(), spying);
    expect(out.exitCode).toBe(0);
    expect(savedWhenCalled).toBe(true);
    expect(JSON.parse(out.stdout)).toEqual(JSON.parse(bridgeResult('1.0.0')));
    expect((await stat(join(dataDir, 'c1:eth0'))).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(join(dataDir, 'c1:eth0'), 'utf8'))).toEqual(deps.calls[0]?.config);
  });

  it('ADD with 1.1.0 delegates as 1.0.0 and answers 1.1.0; with 0.3.1 adds ips[].version', async () => {
    const deps = fakeDelegate();
    const v110 = JSON.parse((await runPlugin(env('ADD'), conf({ cniVersion: '1.1.0' }), deps)).stdout) as { cniVersion: string };
    expect(deps.calls[0]?.config['cniVersion']).toBe('1.0.0');
    expect(v110.cniVersion).toBe('1.1.0');
    const v031 = JSON.parse((await runPlugin(env('ADD', { CNI_CONTAINERID: 'c2' }), conf({ cniVersion: '0.3.1' }), deps)).stdout) as { ips: unknown[] };
    expect(v031.ips[0]).toMatchObject({ version: '4', address: '10.244.3.2/24' });
  });

  it('ADD that the delegate fails: DEL with the same config, no saved file, the delegate\'s error', async () => {
    const deps = fakeDelegate({ ADD: new CniError(11, 'bridge ADD failed: busy') });
    const out = await runPlugin(env('ADD'), conf(), deps);
    expect(out.exitCode).toBe(1);
    expect(JSON.parse(out.stdout)).toEqual({ cniVersion: '1.0.0', code: 11, msg: 'bridge ADD failed: busy' });
    expect(deps.calls.map((c) => c.command)).toEqual(['ADD', 'DEL']);
    expect(deps.calls[1]?.config).toEqual(deps.calls[0]?.config);
    expect(existsSync(join(dataDir, 'c1:eth0'))).toBe(false);
  });

  it('ADD whose delegate prints garbage is rolled back too (code 6)', async () => {
    const deps: PluginDeps & { commands: string[] } = {
      commands: [],
      runDelegate(command) { this.commands.push(command); return Promise.resolve(command === 'ADD' ? 'oops' : ''); },
    };
    const out = await runPlugin(env('ADD'), conf(), deps);
    expect(JSON.parse(out.stdout)).toMatchObject({ code: 6 });
    expect(deps.commands).toEqual(['ADD', 'DEL']);
    expect(existsSync(join(dataDir, 'c1:eth0'))).toBe(false);
  });

  it('DEL replays the saved config even after subnet.env changed, then forgets it; a second DEL is a no-op', async () => {
    const deps = fakeDelegate();
    await runPlugin(env('ADD'), conf(), deps);
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.99.0.0/16\nFLANNEL_SUBNET=10.99.1.1/24\nFLANNEL_MTU=1400\n');
    expect(await runPlugin(env('DEL'), conf(), deps)).toEqual({ stdout: '', exitCode: 0 });
    expect(deps.calls[1]).toEqual({ command: 'DEL', config: deps.calls[0]?.config });
    expect(existsSync(join(dataDir, 'c1:eth0'))).toBe(false);
    expect(await runPlugin(env('DEL'), conf(), deps)).toEqual({ stdout: '', exitCode: 0 });
    expect(deps.calls).toHaveLength(2);
  });

  it('DEL whose delegate fails keeps the saved config so the runtime can retry', async () => {
    const ok = fakeDelegate();
    await runPlugin(env('ADD'), conf(), ok);
    const out = await runPlugin(env('DEL'), conf(), fakeDelegate({ DEL: new CniError(5, 'bridge DEL failed: x') }));
    expect(out.exitCode).toBe(1);
    expect(existsSync(join(dataDir, 'c1:eth0'))).toBe(true);
  });

  it('CHECK replays the saved config with prevResult in the delegate\'s version; unknown container is code 3', async () => {
    const deps = fakeDelegate();
    const added = JSON.parse((await runPlugin(env('ADD'), conf({ cniVersion: '1.1.0' }), deps)).stdout) as Record<string, unknown>;
    expect(await runPlugin(env('CHECK'), conf({ cniVersion: '1.1.0', prevResult: added }), deps)).toEqual({ stdout: '', exitCode: 0 });
    expect(deps.calls[1]?.command).toBe('CHECK');
    expect(deps.calls[1]?.config['prevResult']).toMatchObject({ cniVersion: '1.0.0' });
    const unknown = await runPlugin(env('CHECK', { CNI_CONTAINERID: 'other' }), conf(), deps);
    expect(JSON.parse(unknown.stdout)).toMatchObject({ code: 3 });
  });

  it.each([
    ['VERSION', '{"cniVersion":"0.4.0"}', 0, { cniVersion: '0.4.0', supportedVersions: ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] }],
    ['', '{}', 1, { code: 4 }],
    ['FROB', '{}', 1, { code: 4 }],
    ['CHECK', '{"name":"n","cniVersion":"0.3.1"}', 1, { cniVersion: '0.3.1', code: 1 }],
    ['STATUS', '{"name":"n","cniVersion":"1.0.0"}', 1, { code: 1 }],
  ])('CNI_COMMAND %j answers %j', async (command, stdin, exitCode, answer) => {
    const out = await runPlugin(env(command), stdin, fakeDelegate());
    expect(out.exitCode).toBe(exitCode);
    expect(JSON.parse(out.stdout)).toMatchObject(answer);
  });

  it('ADD without CNI_NETNS or with a path-like container ID is code 4 and touches nothing', async () => {
    const deps = fakeDelegate();
    for (const extra of [{ CNI_NETNS: '' }, { CNI_CONTAINERID: '../../etc/passwd' }]) {
      const out = await runPlugin(env('ADD', extra), conf(), deps);
      expect(JSON.parse(out.stdout)).toMatchObject({ code: 4 });
    }
    expect(deps.calls).toEqual([]);
    expect(existsSync(dataDir)).toBe(false);
  });
});
