import winston from 'winston';
import { ConfigError } from './errors.js';
import {
  KubeApiError,
  ResourceExpiredError,
  type KubeNode,
  type KubeNodeClient,
  type KubePod,
  type NodeList,
  type NodeWatchEventType,
} from './kube-node-client.js';
import { KubeLeaseManager } from './kube-lease-manager.js';
import { resolveNodeName } from './kube-node-name.js';
import { leaseKey, type LeaseBatch, type SubnetPool } from './lease.js';
import { ip, net } from '../test/addresses.js';

const P = 'flannel.alpha.coreos.com';

const pool: SubnetPool = {
  network: net('10.244.0.0/16'),
  subnetLen: 24,
  subnetMin: ip('10.244.1.0'),
  subnetMax: ip('10.244.255.0'),
};
const vxlanAttrs = { publicIp: ip('192.0.2.10'), backendType: 'vxlan', backendData: { vni: 1, vtepMac: '12:c6:00:00:00:01' } };

let rvCounter = 100;
function makeNode(name: string, podCidr?: string, annotations: Record<string, string> = {}): KubeNode {
  return {
    metadata: { name, annotations, resourceVersion: String(++rvCounter) },
    spec: podCidr ? { podCIDR: podCidr, podCIDRs: [podCidr] } : {},
  };
}
function peerAnnotations(publicIp: string, mac: string): Record<string, string> {
  return {
    [`${P}/backend-type`]: 'vxlan',
    [`${P}/backend-data`]: JSON.stringify({ VNI: 1, VtepMAC: mac }),
    [`${P}/public-ip`]: publicIp,
    [`${P}/kube-subnet-manager`]: 'true',
  };
}

interface OpenWatch {
  resourceVersion: string;
  emit(type: NodeWatchEventType, node: KubeNode): void;
  end(err?: Error): void;
}

/** An in-memory API server: nodes by name, recorded patches, scripted failures, one open watch at a time. */
class FakeKubeClient implements KubeNodeClient {
  nodes = new Map<string, KubeNode>();
  patches: { name: string; patch: object }[] = [];
  pods = new Map<string, KubePod>();
  failNext: Error[] = [];
  listCalls = 0;
  watches: OpenWatch[] = [];
  listResourceVersion = '500';

  private takeFailure(): void {
    const failure = this.failNext.shift();
    if (failure) throw failure;
  }

  getNode(name: string): Promise<KubeNode> {
    this.takeFailure();
    const node = this.nodes.get(name);
    if (!node) return Promise.reject(new KubeApiError(404, `get node ${name}: HTTP 404`));
    return Promise.resolve(structuredClone(node));
  }

  patchNodeStatus(name: string, patch: object): Promise<void> {
    this.takeFailure();
    this.patches.push({ name, patch });
    const node = this.nodes.get(name);
    const annotations = (patch as { metadata?: { annotations?: Record<string, string> } }).metadata?.annotations;
    if (node && annotations) node.metadata = { ...node.metadata, annotations: { ...node.metadata?.annotations, ...annotations } };
    const conditions = (patch as { status?: { conditions?: { type: string; status: string }[] } }).status?.conditions;
    if (node && conditions) node.status = { conditions: [...(node.status?.conditions ?? []).filter((c) => !conditions.some((n) => n.type === c.type)), ...conditions] };
    return Promise.resolve();
  }

  listNodes(): Promise<NodeList> {
    this.listCalls++;
    this.takeFailure();
    return Promise.resolve({ nodes: [...this.nodes.values()].map((n) => structuredClone(n)), resourceVersion: this.listResourceVersion });
  }

  watchNodes(resourceVersion: string, onEvent: (type: NodeWatchEventType, node: KubeNode) => void, signal: AbortSignal): Promise<void> {
    this.takeFailure();
    return new Promise((resolve, reject) => {
      const watch: OpenWatch = {
        resourceVersion,
        emit: (type, node) => { onEvent(type, node); },
        end: (err) => {
          if (err) reject(err);
          else resolve();
        },
      };
      this.watches.push(watch);
      signal.addEventListener('abort', () => { resolve(); }, { once: true });
    });
  }

  getPod(namespace: string, name: string): Promise<KubePod> {
    const pod = this.pods.get(`${namespace}/${name}`);
    return pod ? Promise.resolve(pod) : Promise.reject(new KubeApiError(404, 'not found'));
  }

  get lastWatch(): OpenWatch {
    const watch = this.watches.at(-1);
    if (!watch) throw new Error('no watch opened');
    return watch;
  }
}

/** A logger whose lines ("level: message") are collected by its format; the transport stays silent. */
function memoryLogger(): { logger: winston.Logger; lines: string[] } {
  const lines: string[] = [];
  const collect = winston.format((info) => {
    lines.push(`${info.level}: ${String(info.message)}`);
    return info;
  });
  // winston types its transports as constructor variables, which this rule cannot see through.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  const logger = winston.createLogger({ level: 'debug', format: collect(), transports: [new winston.transports.Console({ silent: true })] });
  return { logger, lines };
}

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`never became true: ${what}`);
}

function setup(): {
  client: FakeKubeClient;
  manager: KubeLeaseManager;
  lines: string[];
  sleeps: number[];
  logger: winston.Logger;
  storeErrors: string[];
} {
  const storeErrors: string[] = [];
  const client = new FakeKubeClient();
  const { logger, lines } = memoryLogger();
  const sleeps: number[] = [];
  const manager = new KubeLeaseManager({
    client,
    nodeName: 'self',
    netConfigPath: '/etc/kube-flannel/net-conf.json',
    logger,
    backoff: { initialMs: 100, maxMs: 400 },
    onStoreError: (err) => storeErrors.push(err.message),
    sleep: async (ms, signal) => {
      sleeps.push(ms);
      await new Promise((resolve) => setImmediate(resolve));
      if (signal.aborted) throw signal.reason;
    },
    readFile: (path) => (path === '/etc/kube-flannel/net-conf.json' ? Promise.resolve('{"Network":"10.244.0.0/16"}') : Promise.reject(new Error('ENOENT'))),
  });
  return { client, manager, lines, sleeps, logger, storeErrors };
}

/** kubelet registers our Node again (after a deletion): the watch sees it ADDED. */
function registerAgain(ctx: ReturnType<typeof setup>, node: KubeNode): void {
  ctx.client.nodes.set('self', node);
  ctx.client.lastWatch.emit('ADDED', structuredClone(node));
}

describe('KubeLeaseManager.acquireLease', () => {
  it('takes the pod CIDR and writes exactly flannel annotations on nodes/status', async () => {
    const { client, manager } = setup();
    client.nodes.set('self', makeNode('self', '10.244.7.0/24'));
    const lease = await manager.acquireLease({ pool, attrs: vxlanAttrs }, new AbortController().signal);
    expect(lease.subnet?.toString()).toBe('10.244.7.0/24');
    expect(lease.publicIp).toEqual(ip('192.0.2.10'));
    expect(lease.expiresAt).toBeUndefined();
    expect(client.patches).toEqual([
      {
        name: 'self',
        patch: {
          metadata: {
            annotations: {
              [`${P}/backend-type`]: 'vxlan',
              [`${P}/backend-data`]: '{"VNI":1,"VtepMAC":"12:c6:00:00:00:01"}',
              [`${P}/public-ip`]: '192.0.2.10',
              [`${P}/kube-subnet-manager`]: 'true',
            },
          },
        },
      },
    ]);
  });

  it('does not patch when the annotations are already right', async () => {
    const { client, manager } = setup();
    client.nodes.set('self', makeNode('self', '10.244.7.0/24', peerAnnotations('192.0.2.10', '12:c6:00:00:00:01')));
    await manager.acquireLease({ pool, attrs: vxlanAttrs }, new AbortController().signal);
    expect(client.patches).toEqual([]);
  });

  it('says "pod cidr not assigned" and retries with growing delays until one is assigned', async () => {
    const { client, manager, lines, sleeps } = setup();
    client.nodes.set('self', makeNode('self'));
    const pending = manager.acquireLease({ pool, attrs: vxlanAttrs }, new AbortController().signal);
    await until('three retries', () => sleeps.length >= 3);
    client.nodes.set('self', makeNode('self', '10.244.9.0/24'));
    const lease = await pending;
    expect(lease.subnet?.toString()).toBe('10.244.9.0/24');
    expect(lines.filter((l) => l.includes('pod cidr not assigned')).length).toBeGreaterThanOrEqual(3);
    expect(lines[0]).toMatch(/^warn: node self pod cidr not assigned/);
    expect(sleeps.slice(0, 3)).toEqual([100, 200, 400]);
  });

  it('refuses a pod CIDR outside Network with a ConfigError that says what to fix', async () => {
    const { client, manager } = setup();
    client.nodes.set('self', makeNode('self', '10.9.1.0/24'));
    const result = manager.acquireLease({ pool, attrs: vxlanAttrs }, new AbortController().signal);
    await expect(result).rejects.toBeInstanceOf(ConfigError);
    await expect(result).rejects.toThrow(/pod CIDR 10\.9\.1\.0\/24, outside Network 10\.244\.0\.0\/16.*--cluster-cidr/);
    expect(client.patches).toEqual([]);
  });

  it('retries API errors and stops when aborted', async () => {
    const { client, manager, lines, storeErrors } = setup();
    client.failNext = [new KubeApiError(0, 'get node self: connect ECONNREFUSED')];
    client.nodes.set('self', makeNode('self', '10.244.7.0/24'));
    await manager.acquireLease({ pool, attrs: vxlanAttrs }, new AbortController().signal);
    expect(lines.some((l) => /read own node failed, retrying in 100 ms: get node self: connect ECONNREFUSED/.test(l))).toBe(true);
    expect(storeErrors).toEqual(['get node self: connect ECONNREFUSED']);

    const controller = new AbortController();
    client.nodes.clear();
    const pending = manager.acquireLease({ pool, attrs: vxlanAttrs }, controller.signal);
    await until('a retry', () => lines.some((l) => l.includes('HTTP 404')));
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });

  it('publishes public-ip-overwrite instead of our address but returns our own attributes', async () => {
    const { client, manager } = setup();
    client.nodes.set('self', makeNode('self', '10.244.7.0/24', { [`${P}/public-ip-overwrite`]: '198.51.100.9' }));
    const lease = await manager.acquireLease({ pool, attrs: vxlanAttrs }, new AbortController().signal);
    const annotations = (client.patches[0]?.patch as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
    expect(annotations[`${P}/public-ip`]).toBe('198.51.100.9');
    expect(lease.publicIp).toEqual(ip('192.0.2.10'));
  });

  it('writes backend-data null for host-gw', async () => {
    const { client, manager } = setup();
    client.nodes.set('self', makeNode('self', '10.244.7.0/24'));
    await manager.acquireLease({ pool, attrs: { publicIp: ip('192.0.2.10'), backendType: 'host-gw' } }, new AbortController().signal);
    const annotations = (client.patches[0]?.patch as { metadata: { annotations: Record<string, string> } }).metadata.annotations;
    expect(annotations[`${P}/backend-data`]).toBe('null');
    expect(annotations[`${P}/backend-type`]).toBe('host-gw');
  });
});

describe('KubeLeaseManager node hints, condition and config', () => {
  it('returns the earlier VTEP MAC and node-public-ip', async () => {
    const { client, manager } = setup();
    client.nodes.set('self', makeNode('self', '10.244.7.0/24', { ...peerAnnotations('192.0.2.10', '12:c6:aa:bb:cc:dd'), [`${P}/node-public-ip`]: '198.51.100.3' }));
    expect(await manager.readOwnNodeHints(new AbortController().signal)).toEqual({
      previousVtepMac: '12:c6:aa:bb:cc:dd',
      nodePublicIp: ip('198.51.100.3'),
    });
  });

  it('warns about malformed hints instead of failing', async () => {
    const { client, manager, lines } = setup();
    client.nodes.set('self', makeNode('self', '10.244.7.0/24', { [`${P}/backend-type`]: 'vxlan', [`${P}/backend-data`]: '{', [`${P}/node-public-ip`]: 'x' }));
    expect(await manager.readOwnNodeHints(new AbortController().signal)).toEqual({ previousVtepMac: undefined, nodePublicIp: undefined });
    expect(lines.some((l) => l.startsWith('warn: not reusing the earlier VTEP MAC'))).toBe(true);
    expect(lines.some((l) => l.startsWith('warn: ignoring node self: annotation flannel.alpha.coreos.com/node-public-ip "x"'))).toBe(true);
  });

  it('sets NetworkUnavailable=False with reason FlannelIsUp', async () => {
    const { client, manager } = setup();
    await manager.markNetworkAvailable(new AbortController().signal);
    const patch = client.patches[0]?.patch as { status: { conditions: Record<string, string>[] } };
    expect(patch.status.conditions).toHaveLength(1);
    expect(patch.status.conditions[0]).toMatchObject({ type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp' });
    expect(patch.status.conditions[0]?.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('reads net-conf.json from the configured path and names the flag when it cannot', async () => {
    const { manager, logger, client } = setup();
    expect(await manager.readNetworkConfig(new AbortController().signal)).toBe('{"Network":"10.244.0.0/16"}');
    const other = new KubeLeaseManager({ client, nodeName: 'self', netConfigPath: '/nope', logger, readFile: () => Promise.reject(new Error('ENOENT: no such file')) });
    await expect(other.readNetworkConfig(new AbortController().signal)).rejects.toThrow(/^--net-config-path: cannot read \/nope \(ENOENT/);
  });
});

describe('KubeLeaseManager.watchLeases', () => {
  function start(): ReturnType<typeof setup> & { batches: LeaseBatch[]; controller: AbortController; done: Promise<void> } {
    const ctx = setup();
    const batches: LeaseBatch[] = [];
    const controller = new AbortController();
    const done = ctx.manager.watchLeases({ onBatch: (b) => batches.push(b), onOwnLeaseChanged: () => undefined }, controller.signal);
    return { ...ctx, batches, controller, done };
  }
  const subnets = (batch: LeaseBatch | undefined): string[] => (batch?.leases ?? []).map(leaseKey).sort();

  it('lists managed peers as a snapshot, skipping ourselves, unmanaged and malformed nodes', async () => {
    const ctx = setup();
    ctx.client.nodes.set('self', makeNode('self', '10.244.1.0/24', peerAnnotations('192.0.2.10', '12:c6:00:00:00:01')));
    ctx.client.nodes.set('a', makeNode('a', '10.244.2.0/24', peerAnnotations('192.0.2.11', '12:c6:00:00:00:02')));
    ctx.client.nodes.set('plain', makeNode('plain', '10.244.3.0/24'));
    ctx.client.nodes.set('bad', makeNode('bad', '10.244.4.0/24', { ...peerAnnotations('192.0.2.13', 'x'), [`${P}/backend-data`]: 'nonsense' }));
    const batches: LeaseBatch[] = [];
    const controller = new AbortController();
    const done = ctx.manager.watchLeases({ onBatch: (b) => batches.push(b), onOwnLeaseChanged: () => undefined }, controller.signal);
    await until('watch opened', () => ctx.client.watches.length === 1);
    expect(batches).toHaveLength(1);
    expect(batches[0]?.kind).toBe('snapshot');
    expect(subnets(batches[0])).toEqual(['10.244.2.0/24']);
    expect(ctx.client.lastWatch.resourceVersion).toBe('500');
    expect(ctx.lines.filter((l) => l.startsWith('warn: skipping peer: node bad: backend-data "nonsense" is not JSON'))).toHaveLength(1);
    controller.abort();
    await done;
  });

  it('turns node events into added and removed batches and ignores no-op heartbeats', async () => {
    const ctx = start();
    await until('watch opened', () => ctx.client.watches.length === 1);
    const a = makeNode('a', '10.244.2.0/24', peerAnnotations('192.0.2.11', '12:c6:00:00:00:02'));
    ctx.client.lastWatch.emit('ADDED', a);
    ctx.client.lastWatch.emit('MODIFIED', { ...a, metadata: { ...a.metadata, resourceVersion: '900' } });
    ctx.client.lastWatch.emit('MODIFIED', makeNode('a', '10.244.2.0/24', peerAnnotations('192.0.2.11', '12:c6:00:00:00:99')));
    ctx.client.lastWatch.emit('ADDED', makeNode('self', '10.244.1.0/24', peerAnnotations('192.0.2.10', '12:c6:00:00:00:01')));
    ctx.client.lastWatch.emit('ADDED', makeNode('plain', '10.244.3.0/24'));
    ctx.client.lastWatch.emit('DELETED', a);
    expect(ctx.batches.map((b) => b.kind)).toEqual(['snapshot', 'added', 'added', 'removed']);
    expect(ctx.batches[2]?.leases[0]?.backendData?.vtepMac).toBe('12:c6:00:00:00:99');
    expect(subnets(ctx.batches[3])).toEqual(['10.244.2.0/24']);
    ctx.controller.abort();
    await ctx.done;
  });

  it('publishes its annotations again when its own Node is deleted and registered again', async () => {
    const ctx = setup();
    ctx.client.nodes.set('self', makeNode('self', '10.244.1.0/24'));
    await ctx.manager.acquireLease({ pool, attrs: vxlanAttrs }, new AbortController().signal);
    const published = ctx.client.nodes.get('self')?.metadata?.annotations;
    const owns: string[] = [];
    const controller = new AbortController();
    const done = ctx.manager.watchLeases({ onBatch: () => undefined, onOwnLeaseChanged: (l) => owns.push(leaseKey(l)) }, controller.signal);
    await until('watch opened', () => ctx.client.watches.length === 1);
    ctx.client.lastWatch.emit('MODIFIED', structuredClone(ctx.client.nodes.get('self') as KubeNode)); // a heartbeat: nothing to do
    expect(ctx.client.patches).toHaveLength(1);

    ctx.client.nodes.delete('self');
    ctx.client.lastWatch.emit('DELETED', makeNode('self', '10.244.1.0/24', published));
    expect(ctx.lines.filter((l) => l.includes('own node self was deleted'))).toHaveLength(1);
    registerAgain(ctx, makeNode('self', '10.244.1.0/24')); // without our annotations
    await until('annotations published again', () => ctx.client.patches.length === 2);
    expect(ctx.client.nodes.get('self')?.metadata?.annotations).toEqual(published);
    expect(owns).toEqual([]); // same pod CIDR: the lease is unchanged

    // Registered again with another pod CIDR: that becomes our lease.
    registerAgain(ctx, makeNode('self', '10.244.9.0/24'));
    await until('the new lease', () => owns.length === 1);
    expect(owns).toEqual(['10.244.9.0/24']);
    expect(ctx.client.nodes.get('self')?.metadata?.annotations).toEqual(published);
    controller.abort();
    await done;
    await ctx.manager.close();
  });

  it('sets NetworkUnavailable=False again on its re-created Node once it had set it', async () => {
    const ctx = setup();
    ctx.client.nodes.set('self', makeNode('self', '10.244.1.0/24'));
    await ctx.manager.acquireLease({ pool, attrs: vxlanAttrs }, new AbortController().signal);
    await ctx.manager.markNetworkAvailable(new AbortController().signal);
    const controller = new AbortController();
    const done = ctx.manager.watchLeases({ onBatch: () => undefined, onOwnLeaseChanged: () => undefined }, controller.signal);
    await until('watch opened', () => ctx.client.watches.length === 1);
    ctx.client.lastWatch.emit('MODIFIED', structuredClone(ctx.client.nodes.get('self') as KubeNode)); // condition present: nothing to do
    expect(ctx.client.patches).toHaveLength(2);

    ctx.client.lastWatch.emit('DELETED', structuredClone(ctx.client.nodes.get('self') as KubeNode));
    const recreated = makeNode('self', '10.244.1.0/24');
    ctx.client.nodes.set('self', recreated);
    ctx.client.lastWatch.emit('ADDED', structuredClone(recreated));
    await until('annotations and condition set again', () => ctx.client.patches.length === 4);
    const conditions = ctx.client.nodes.get('self')?.status?.conditions;
    expect(conditions).toEqual([expect.objectContaining({ type: 'NetworkUnavailable', status: 'False', reason: 'FlannelIsUp' })]);

    // Annotations kept but the condition gone (e.g. a Node restored from a backup without status): set it again.
    const noCondition = structuredClone(ctx.client.nodes.get('self') as KubeNode);
    delete noCondition.status;
    ctx.client.nodes.set('self', noCondition);
    ctx.client.lastWatch.emit('MODIFIED', structuredClone(noCondition));
    await until('condition set again', () => ctx.client.patches.length === 5);
    expect(ctx.client.patches[4]?.patch).toMatchObject({ status: { conditions: [{ type: 'NetworkUnavailable', status: 'False' }] } });
    controller.abort();
    await done;
    await ctx.manager.close();
  });

  it('removes a peer whose annotations become malformed, warning once per distinct problem', async () => {
    const ctx = start();
    await until('watch opened', () => ctx.client.watches.length === 1);
    ctx.client.lastWatch.emit('ADDED', makeNode('a', '10.244.2.0/24', peerAnnotations('192.0.2.11', '12:c6:00:00:00:02')));
    const broken = makeNode('a', '10.244.2.0/24', { ...peerAnnotations('192.0.2.11', 'x'), [`${P}/public-ip`]: 'nope' });
    ctx.client.lastWatch.emit('MODIFIED', broken);
    ctx.client.lastWatch.emit('MODIFIED', broken);
    expect(ctx.batches.map((b) => b.kind)).toEqual(['snapshot', 'added', 'removed']);
    expect(ctx.lines.filter((l) => l.includes('skipping peer: node a'))).toHaveLength(1);
    ctx.controller.abort();
    await ctx.done;
  });

  it('resumes from the last resourceVersion after an error, with backoff', async () => {
    const ctx = start();
    await until('watch opened', () => ctx.client.watches.length === 1);
    ctx.client.lastWatch.emit('ADDED', { ...makeNode('a', '10.244.2.0/24', peerAnnotations('192.0.2.11', '12:c6:00:00:00:02')), metadata: { name: 'a', resourceVersion: '777', annotations: peerAnnotations('192.0.2.11', '12:c6:00:00:00:02') } });
    ctx.client.lastWatch.emit('BOOKMARK', { metadata: { resourceVersion: '800' } });
    ctx.client.failNext = [new KubeApiError(0, 'watch nodes: connect ECONNREFUSED')];
    ctx.client.lastWatch.end(new KubeApiError(0, 'watch nodes: socket hang up'));
    await until('watch reopened', () => ctx.client.watches.length === 2);
    expect(ctx.client.lastWatch.resourceVersion).toBe('800');
    expect(ctx.client.listCalls).toBe(1);
    expect(ctx.sleeps).toEqual([100, 200]);
    expect(ctx.lines.some((l) => l.startsWith('warn: node watch failed, retrying in 100 ms: watch nodes: socket hang up'))).toBe(true);
    ctx.controller.abort();
    await ctx.done;
  });

  it('lists again after 410 and delivers a fresh snapshot', async () => {
    const ctx = start();
    await until('watch opened', () => ctx.client.watches.length === 1);
    ctx.client.nodes.set('b', makeNode('b', '10.244.5.0/24', peerAnnotations('192.0.2.15', '12:c6:00:00:00:05')));
    ctx.client.listResourceVersion = '9000';
    ctx.client.lastWatch.end(new ResourceExpiredError(410, 'watch nodes: too old resource version'));
    await until('watch reopened', () => ctx.client.watches.length === 2);
    expect(ctx.client.listCalls).toBe(2);
    expect(ctx.batches.map((b) => b.kind)).toEqual(['snapshot', 'snapshot']);
    expect(subnets(ctx.batches[1])).toEqual(['10.244.5.0/24']);
    expect(ctx.client.lastWatch.resourceVersion).toBe('9000');
    ctx.controller.abort();
    await ctx.done;
  });

  it('survives a watcher that throws', async () => {
    const ctx = setup();
    const controller = new AbortController();
    let calls = 0;
    const done = ctx.manager.watchLeases({
      onBatch: () => {
        calls++;
        throw new Error('boom');
      },
      onOwnLeaseChanged: () => undefined,
    }, controller.signal);
    await until('watch opened', () => ctx.client.watches.length === 1);
    ctx.client.lastWatch.emit('ADDED', makeNode('a', '10.244.2.0/24', peerAnnotations('192.0.2.11', '12:c6:00:00:00:02')));
    expect(calls).toBe(2);
    expect(ctx.lines.filter((l) => l.startsWith('error: lease watcher failed'))).toHaveLength(2);
    controller.abort();
    await done;
  });

  it('ends when the manager is closed', async () => {
    const ctx = start();
    await until('watch opened', () => ctx.client.watches.length === 1);
    await ctx.manager.close();
    await ctx.done;
  });
});

describe('resolveNodeName', () => {
  const signal = new AbortController().signal;
  it('prefers NODE_NAME, else asks the pod', async () => {
    const client = new FakeKubeClient();
    client.pods.set('kube-flannel/weft-abc', { spec: { nodeName: 'worker-3' } });
    expect(await resolveNodeName({ nodeName: 'n1', podName: 'weft-abc', podNamespace: 'kube-flannel' }, client, signal)).toBe('n1');
    expect(await resolveNodeName({ podName: 'weft-abc', podNamespace: 'kube-flannel' }, client, signal)).toBe('worker-3');
  });

  it('explains what to set when nothing identifies the node', async () => {
    const client = new FakeKubeClient();
    await expect(resolveNodeName({ podName: 'p' }, client, signal)).rejects.toThrow(/^NODE_NAME: is not set, and neither are POD_NAME and POD_NAMESPACE/);
    client.pods.set('ns/p', { spec: {} });
    await expect(resolveNodeName({ podName: 'p', podNamespace: 'ns' }, client, signal)).rejects.toThrow(/no spec.nodeName/);
  });
});

// IPv6 only (EnableIPv4 false): spec.podCIDR is the IPv6 one; flannel writes no IPv4 annotations for vxlan.
describe('KubeLeaseManager with an IPv6-only network', () => {
  const ipv6Pool: SubnetPool = { network: net('fd00:10:244::/56'), subnetLen: 64, subnetMin: ip('fd00:10:244:1::'), subnetMax: ip('fd00:10:244:ff::') };
  const v6Attrs = { publicIpv6: ip('2001:db8::10'), backendType: 'vxlan', backendV6Data: { vni: 1, vtepMac: '12:c6:00:00:06:01' } };
  const v6Annotations = {
    [`${P}/backend-type`]: 'vxlan',
    [`${P}/backend-v6-data`]: '{"VNI":1,"VtepMAC":"12:c6:00:00:06:01"}',
    [`${P}/public-ipv6`]: '2001:db8::10',
    [`${P}/kube-subnet-manager`]: 'true',
  };

  it("takes the IPv6 pod CIDR (ignoring an IPv4 one) and writes exactly flannel's IPv6-only annotations", async () => {
    const { client, manager } = setup();
    client.nodes.set('self', { metadata: { name: 'self', annotations: {} }, spec: { podCIDR: '10.244.7.0/24', podCIDRs: ['10.244.7.0/24', 'fd00:10:244:7::/64'] } });
    const lease = await manager.acquireLease({ ipv6Pool, attrs: v6Attrs }, new AbortController().signal);
    expect([lease.subnet, lease.publicIp, lease.ipv6Subnet?.toString(), lease.publicIpv6?.toString()]).toEqual([undefined, undefined, 'fd00:10:244:7::/64', '2001:db8::10']);
    expect(client.patches).toEqual([{ name: 'self', patch: { metadata: { annotations: v6Annotations } } }]);
  });

  it('waits for the IPv6 pod CIDR, refuses one outside IPv6Network, and takes a new one of a re-created Node as the new lease', async () => {
    const { client, manager, lines } = setup();
    client.nodes.set('self', makeNode('self'));
    const acquiring = manager.acquireLease({ ipv6Pool, attrs: v6Attrs }, new AbortController().signal);
    await until('a wait for the pod CIDR', () => lines.some((l) => l.includes('node self IPv6 pod cidr not assigned')));
    client.nodes.set('self', makeNode('self', 'fd00:10:244:8::/64'));
    expect((await acquiring).ipv6Subnet?.toString()).toBe('fd00:10:244:8::/64');

    client.nodes.set('self', makeNode('self', 'fd00:99::/64'));
    await expect(manager.acquireLease({ ipv6Pool, attrs: v6Attrs }, new AbortController().signal)).rejects.toThrow(/IPv6Network: node self has pod CIDR fd00:99::\/64, outside IPv6Network/);
  });

  it('re-publishes on a re-created Node and reports its new IPv6 pod CIDR as our new lease', async () => {
    const ctx = setup();
    ctx.client.nodes.set('self', makeNode('self', 'fd00:10:244:1::/64'));
    await ctx.manager.acquireLease({ ipv6Pool, attrs: v6Attrs }, new AbortController().signal);
    const owns: string[] = [];
    const controller = new AbortController();
    const done = ctx.manager.watchLeases({ onBatch: () => undefined, onOwnLeaseChanged: (l) => owns.push(leaseKey(l)) }, controller.signal);
    await until('watch opened', () => ctx.client.watches.length === 1);
    registerAgain(ctx, makeNode('self', 'fd00:10:244:9::/64')); // without our annotations, with another pod CIDR
    await until('the new lease', () => owns.length === 1);
    expect(owns).toEqual(['fd00:10:244:9::/64']);
    expect(ctx.client.patches).toHaveLength(2);
    expect(ctx.client.nodes.get('self')?.metadata?.annotations).toEqual(v6Annotations);
    controller.abort();
    await done;
    await ctx.manager.close();
  });

  it('lists IPv6-only peers keyed by their IPv6 pod CIDR, and removes them when deleted', async () => {
    const ctx = setup();
    const peer = makeNode('peer', 'fd00:10:244:2::/64', { ...v6Annotations, [`${P}/public-ipv6`]: '2001:db8::2' });
    ctx.client.nodes.set('peer', peer);
    const batches: LeaseBatch[] = [];
    const controller = new AbortController();
    const done = ctx.manager.watchLeases({ onBatch: (b) => batches.push(b), onOwnLeaseChanged: () => undefined }, controller.signal);
    await until('watch opened', () => ctx.client.watches.length === 1);
    ctx.client.lastWatch.emit('DELETED', peer);
    await until('the removal', () => batches.length === 2);
    expect(batches.map((b) => [b.kind, b.leases.map(leaseKey)])).toEqual([['snapshot', ['fd00:10:244:2::/64']], ['removed', ['fd00:10:244:2::/64']]]);
    expect(batches[0]?.leases[0]?.publicIpv6?.toString()).toBe('2001:db8::2');
    controller.abort();
    await done;
    await ctx.manager.close();
  });
});
