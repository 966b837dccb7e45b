import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from './errors.js';
import { loadKubeConfig } from './kubeconfig.js';

describe('loadKubeConfig', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-kubeconfig-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it.each([
    ['a missing file', () => join(dir, 'missing'), /^--kubeconfig-file: cannot read .*missing \(ENOENT\); give the path of a valid kubeconfig/],
    ['a directory', () => dir, /^--kubeconfig-file: cannot read .* \(EISDIR\)/],
    ['malformed YAML', () => file('bad.yaml', 'clusters: [x\n'), /^--kubeconfig-file: cannot read .*bad.yaml \(not valid YAML: [^\n]*\); give/],
    ['YAML without a cluster', () => file('empty.yaml', 'apiVersion: v1\nkind: Config\n'), /^--kubeconfig-file: .*empty.yaml has no cluster for its current-context/],
  ])('refuses %s with one line naming --kubeconfig-file', (_what, path, message) => {
    const load = (): unknown => loadKubeConfig({ kubeconfigFile: path() });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(message);
  });

  it('reads a kubeconfig and lets --kube-api-url replace its server', () => {
    const path = file('ok.yaml', [
      'apiVersion: v1', 'kind: Config', 'current-context: c',
      'clusters: [{name: k, cluster: {server: "https://192.0.2.1:6443"}}]',
      'users: [{name: u, user: {token: t}}]',
      'contexts: [{name: c, context: {cluster: k, user: u}}]', '',
    ].join('\n'));
    expect(loadKubeConfig({ kubeconfigFile: path }).getCurrentCluster()?.server).toBe('https://192.0.2.1:6443');
    expect(loadKubeConfig({ kubeconfigFile: path, apiUrl: 'https://192.0.2.9:6443' }).getCurrentCluster()?.server).toBe('https://192.0.2.9:6443');
  });
});
