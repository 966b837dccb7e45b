// The controller's loop with fake sources and a fake nft: nothing is written before every kind is
// listed, changes are written together after the debounce, a failed write is retried and the
// problem of a policy is logged once.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import winston from 'winston';
import Transport from 'winston-transport';
import type { PolicySources } from './kube-sources.js';
import type { PolicyWorld } from './cluster-view.js';
import { NftWriter, NftError, type NftRunner } from './nft-writer.js';
import { PolicyController } from './policy-controller.js';
import { PolicyEnforcer } from './policy-enforcer.js';
import { PolicyMetrics } from './policy-metrics.js';
import { makeNamespace, makePod, makePolicy } from './testing/fixtures.js';

class FakeSources implements PolicySources {
  listed = false;
  current: PolicyWorld = { pods: [], namespaces: [], policies: [] };
  private listener: () => void = () => undefined;
  synced(): boolean { return this.listed; }
  world(): PolicyWorld { return this.current; }
  onChange(listener: () => void): void { this.listener = listener; }
  start(): void { /* the test drives changes */ }
  stop(): Promise<void> { return Promise.resolve(); }
  change(world: Partial<PolicyWorld>, listed = true): void {
    this.current = { ...this.current, ...world };
    this.listed = listed;
    this.listener();
  }
}

class Lines extends Transport {
  readonly messages: string[] = [];
  override log(info: { message: string; policy?: string }, next: () => void): void {
    this.messages.push(`${info.message}${info.policy ? ` ${info.policy}` : ''}`);
    next();
  }
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
/** Polls (bounded: 10 s) so that a slow, shared machine does not fail the test. */
async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await wait(50);
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

describe('policy controller loop', () => {
  let scripts: string[];
  let failNext: number;
  let sources: FakeSources;
  let lines: Lines;
  let abort: AbortController;
  let running: Promise<void>;

  beforeEach(async () => {
    scripts = [];
    failNext = 0;
    const nft: NftRunner = (args, input) => {
      if (args[0] === '-f') {
        if (failNext > 0) {
          failNext--;
          return Promise.reject(new NftError('-f -', 1, 'Error: Could not process rule'));
        }
        scripts.push(input ?? '');
      }
      return Promise.resolve('{"nftables": []}');
    };
    const dir = await mkdtemp(join(tmpdir(), 'weft-policy-test-'));
    const subnetFile = join(dir, 'subnet.env');
    await writeFile(subnetFile, 'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n');
    sources = new FakeSources();
    lines = new Lines();
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- winston's own transport type
    const logger = winston.createLogger({ level: 'debug', transports: [lines] });
    const enforcer = new PolicyEnforcer(new NftWriter(nft));
    const metrics = new PolicyMetrics(() => enforcer.dropCounts(), { processMetrics: false });
    const controller = new PolicyController({ nodeName: 'n1', subnetFile, debounceMs: 30, resyncMs: 60_000 }, sources, enforcer, metrics, logger);
    abort = new AbortController();
    running = controller.run(abort.signal);
  });
  afterEach(async () => {
    abort.abort();
    await running;
  });

  const world = {
    pods: [makePod('x', 'a', { ip: '10.244.1.11', node: 'n1' })],
    namespaces: [makeNamespace('x')],
    policies: [makePolicy('x', 'deny', {})],
  };

  it('writes nothing until every kind is listed, then one transaction for a burst of changes', async () => {
    sources.change(world, false);
    await wait(150);
    expect(scripts).toEqual([]);
    sources.change({}, true);
    sources.change({ pods: [...world.pods, makePod('x', 'b', { ip: '10.244.1.12', node: 'n1' })] });
    await until('the first write', () => scripts.length > 0);
    await wait(200);
    expect(scripts).toHaveLength(1);
    expect(scripts[0]).toContain('10.244.1.12 : jump ing_1');
    // The unknown-address guard covers the node's pod subnet but not its bridge (the node itself).
    expect(scripts[0]).toContain('set local_v4 { type ipv4_addr; flags interval; elements = { 10.244.1.0, 10.244.1.2-10.244.1.255 } }');
  });

  it('writes a change made after a burst at once, not at the next resync (a late wake-up of the burst must not swallow it)', async () => {
    for (const name of ['b', 'c', 'd']) {
      sources.change({ ...world, pods: [...world.pods, makePod('x', name, { ip: '10.244.1.20', node: 'n1' })] });
      await wait(10);
    }
    await until('the burst to be written', () => scripts.length > 0);
    await wait(100);
    const written = scripts.length;
    sources.change({ pods: [...world.pods, makePod('x', 'e', { ip: '10.244.1.21', node: 'n1' })] });
    // resyncMs is 60 s: only the change itself can bring this write within the 2 s.
    for (let i = 0; i < 40 && scripts.length === written; i++) await wait(50);
    expect(scripts.length).toBe(written + 1);
    expect(scripts.at(-1)).toContain('10.244.1.21');
  });

  it('retries a failed write and logs a problem once', async () => {
    failNext = 2;
    const bad = makePolicy('x', 'bad', { ingress: [{ from: [{ ipBlock: { cidr: 'nonsense' } }] }] });
    sources.change({ ...world, policies: [bad] });
    await until('a write after two failures', () => scripts.length > 0);
    expect(scripts).toHaveLength(1);
    sources.change({ pods: [...world.pods] });
    await wait(300);
    expect(lines.messages.filter((m) => m.startsWith('writing policy rules failed'))).toHaveLength(2);
    expect(lines.messages.filter((m) => m === 'NetworkPolicy cannot be enforced as written x/bad')).toHaveLength(1);
  });
});
