// The policy controller (cmd/weft-policy.js) against a real kube-apiserver with the manifest's RBAC:
// it runs in a node namespace with the manifest's service-account token, watches real Pods (status
// set by the test), Namespaces and NetworkPolicies, and writes the expected nftables table there.
// Also: exactly the RBAC it needs, a 20 s API server outage and a controller restart keep the rules.
import { jest } from '@jest/globals';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeNamespace, makePod, makePolicy } from '../../policy/testing/fixtures.js';
import { KubeApiServer } from '../lab/kube-apiserver.js';
import { NetnsScope, stopProcess, waitFor } from '../lab/netns.js';

jest.setTimeout(180_000);

const MANIFEST = fileURLToPath(new URL('../../../manifests/weft.yaml', import.meta.url));
const CONTROLLER = fileURLToPath(new URL('../../cmd/weft-policy.js', import.meta.url));

describe('weft-policy against a real kube-apiserver', () => {
  let scope: NetnsScope;
  let ns: string;
  let server: KubeApiServer;
  let token: string;
  let kubeconfig: string;
  let subnetFile: string;
  let controller: ChildProcess | undefined;

  const table = async (): Promise<string> =>
    (await scope.exec(ns, 'nft', ['list', 'table', 'inet', 'weft-policy']).catch(() => ({ stdout: '' }))).stdout;
  /** The table without counter values, which change with traffic. */
  const rules = async (): Promise<string> => (await table()).replace(/packets \d+ bytes \d+/g, '');
  const create = async (path: string, body: unknown): Promise<void> => { await server.requestOk('POST', path, body); };
  const createPod = async (namespace: string, name: string, node: string, ip: string, labels: Record<string, string>): Promise<void> => {
    const pod = makePod(namespace, name, { node, labels, ports: { 'serve-80-tcp': '80' } });
    // No token volume: there is no controller-manager here to make service-account secrets.
    await create(`/api/v1/namespaces/${namespace}/pods`, { ...pod, spec: { ...pod.spec, automountServiceAccountToken: false }, status: undefined });
    await server.requestOk('PATCH', `/api/v1/namespaces/${namespace}/pods/${name}/status`,
      { status: { phase: 'Running', podIP: ip, podIPs: [{ ip }] } }, { contentType: 'application/merge-patch+json' });
  };
  const startController = (): ChildProcess => {
    const child = scope.spawn(ns, process.execPath, [
      CONTROLLER, '--kubeconfig-file', kubeconfig, '--node-name', 'n1', '--subnet-file', subnetFile,
      '--metrics-ip', '127.0.0.1', '--metrics-port', '10268', '--debounce-ms', '50', '--log-level', 'debug',
    ]);
    const log = createWriteStream(join(server.workDir, 'weft-policy.log'), { flags: 'a' });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    controller = child;
    return child;
  };
  const waitForTable = (what: string, check: (text: string) => boolean, timeoutMs = 30_000): Promise<string> =>
    waitFor(what, async () => { const text = await table(); return check(text) ? text : undefined; }, timeoutMs, 100);

  beforeAll(async () => {
    scope = new NetnsScope();
    ns = await scope.createNamespace('pkube');
    server = await KubeApiServer.start({ scope, ns, bindAddress: '127.0.0.1', authorizationMode: 'RBAC' });
    await server.kubectl(['apply', '-f', MANIFEST]);
    token = await server.serviceAccountToken('kube-weft', 'weft');
    kubeconfig = await server.writeKubeconfig(token, join(server.workDir, 'weft-policy.kubeconfig'), `https://127.0.0.1:${String(server.securePort)}`);
    subnetFile = join(server.workDir, 'subnet.env');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n');
    for (const name of ['x', 'y']) {
      await create('/api/v1/namespaces', makeNamespace(name));
      await create(`/api/v1/namespaces/${name}/serviceaccounts`, { metadata: { name: 'default' } });
    }
    await createPod('x', 'a', 'n1', '10.244.1.11', { pod: 'a' });
    await createPod('x', 'b', 'n1', '10.244.1.12', { pod: 'b' });
    await createPod('y', 'b', 'n2', '10.244.2.12', { pod: 'b' });
    startController();
    // Its first table (no policy yet: empty) says it has listed everything; Node.js and the client
    // take seconds to start on a loaded machine.
    await waitForTable('the first table', (t) => t.includes('table inet weft-policy'), 90_000);
  });
  afterAll(async () => {
    if (process.env['WEFT_KEEP_LAB_LOGS']) process.stderr.write(`weft-policy log: ${join(server.workDir, 'weft-policy.log')}\n`);
    await scope.dispose();
    await server.dispose();
  });

  it('grants the service account exactly get/list/watch on pods, namespaces and networkpolicies', async () => {
    const as = { token };
    for (const path of ['/api/v1/pods', '/api/v1/namespaces', '/apis/networking.k8s.io/v1/networkpolicies', '/api/v1/namespaces/x/pods/a']) {
      expect([path, (await server.request('GET', path, undefined, as)).status]).toEqual([path, 200]);
    }
    const refused = [
      ['POST', '/apis/networking.k8s.io/v1/namespaces/x/networkpolicies', makePolicy('x', 'nope', {})],
      ['DELETE', '/api/v1/namespaces/x/pods/a', undefined],
      ['POST', '/api/v1/namespaces', makeNamespace('nope')],
      ['GET', '/api/v1/namespaces/x/secrets', undefined],
      ['GET', '/api/v1/services', undefined],
    ] as const;
    for (const [method, path, body] of refused) {
      expect([method, path, (await server.request(method, path, body, as)).status]).toEqual([method, path, 403]);
    }
  });

  it('writes the rules for the pods of its node when a policy appears, and only for them', async () => {
    await create('/apis/networking.k8s.io/v1/namespaces/x/networkpolicies', makePolicy('x', 'from-y-b', {
      podSelector: { matchLabels: { pod: 'a' } },
      ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 'serve-80-tcp' }] }],
    }));
    const text = await waitForTable('x/a isolated', (t) => t.includes('x/a ingress'));
    expect(text).toContain('10.244.1.11 : jump ing_0');
    expect(text).toContain('elements = { 10.244.2.12 }'); // y/b, the only peer
    // The named port, resolved, in a named set of ports.
    expect(text).toMatch(/set ports_0 \{\s+type inet_proto \. inet_service\s+elements = \{ tcp \. 80 \}/);
    expect(text).toContain('meta l4proto . th dport @ports_0 accept');
    expect(text).not.toContain('x/b ingress');
    // The unknown-address guard covers this node's subnet but its bridge address (.1), from which
    // kube-proxy's hairpin masquerade forwards.
    expect(text).toContain('elements = { 10.244.1.0, 10.244.1.2-10.244.1.255 }');
    const metrics = await scope.exec(ns, process.execPath, ['-e', "fetch('http://127.0.0.1:10268/metrics').then(r => r.text()).then(t => process.stdout.write(t))"]);
    expect(metrics.stdout).toMatch(/weft_policy_policies 1/);
    expect(metrics.stdout).toMatch(/weft_policy_selected_pods\{direction="ingress"\} 1/);
    expect(metrics.stdout).toMatch(/weft_policy_sync_seconds_count [1-9]/);
  });

  it('follows pods: a new peer address and a new local pod', async () => {
    await createPod('y', 'b2', 'n2', '10.244.2.13', { pod: 'b' });
    await waitForTable('the new peer', (t) => t.includes('elements = { 10.244.2.12/31 }')); // nft prints the merged pair as a prefix
    await createPod('x', 'a2', 'n1', '10.244.1.13', { pod: 'a' });
    const text = await waitForTable('the new local pod', (t) => t.includes('10.244.1.13 : jump'));
    expect(text).toContain('x/a2 ingress');
  });

  it('keeps the rules through a 20 s API server outage, then follows changes again', async () => {
    const before = await rules();
    await server.stop();
    const samples: string[] = [];
    for (let i = 0; i < 10; i++) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      samples.push(await rules());
    }
    expect(samples.every((s) => s === before)).toBe(true);
    expect(controller?.exitCode).toBeNull();
    await server.restart();
    await create('/apis/networking.k8s.io/v1/namespaces/x/networkpolicies', makePolicy('x', 'deny-b', { podSelector: { matchLabels: { pod: 'b' } } }));
    await waitForTable('x/b isolated after the outage', (t) => t.includes('x/b ingress'), 60_000);
  });

  it('keeps the rules in force across a controller restart, with no moment without them', async () => {
    const before = await rules();
    const watching = { on: true, missing: 0, samples: 0 };
    const watcher = (async () => {
      while (watching.on && watching.samples < 2000) {
        if (!(await table()).includes('x/a ingress')) watching.missing++;
        watching.samples++;
      }
    })();
    if (controller) await stopProcess(controller, 5000);
    startController();
    await waitFor('the restarted controller to write', async () =>
      ((await readFile(join(server.workDir, 'weft-policy.log'), 'utf8')).split('NetworkPolicy controller started').length > 2 ? true : undefined), 20_000, 100);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    watching.on = false;
    await watcher;
    expect(watching.samples).toBeGreaterThan(5);
    expect(watching.missing).toBe(0);
    const after = await rules();
    if (after !== before) process.stderr.write(`BEFORE:\n${before}\nAFTER:\n${after}\n`);
    expect(after).toBe(before);
  });

  it('removes the rules with the last policy', async () => {
    for (const name of ['from-y-b', 'deny-b']) {
      await server.requestOk('DELETE', `/apis/networking.k8s.io/v1/namespaces/x/networkpolicies/${name}`);
    }
    const text = await waitForTable('an empty table', (t) => t !== '' && !t.includes('chain'));
    expect(text).not.toContain('10.244.1.11');
  });
});
