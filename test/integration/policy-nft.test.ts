// The rule writer in the kernel: compiled policies written to nftables in a node namespace with a
// bridge and pod namespaces, checked with real TCP and UDP traffic (IPv4 and IPv6), drop counters,
// the unknown-address guard, and a rewrite storm that must never open a denied port.
import { jest } from '@jest/globals';
import { parseRange } from '../../policy/address-ranges.js';
import type { KubeNetworkPolicy, KubePod } from '../../policy/api-types.js';
import { NftWriter, nftRunner } from '../../policy/nft-writer.js';
import { compileNodePolicy } from '../../policy/policy-compiler.js';
import { PolicyEnforcer } from '../../policy/policy-enforcer.js';
import { makeNamespace, makePod, makePolicy } from '../../policy/testing/fixtures.js';
import { PolicyLab } from '../lab/policy-lab.js';

jest.setTimeout(120_000);

const LOCAL_SUBNETS = [parseRange('10.244.1.0/24'), parseRange('fd00:1::/64')];
const NAMED = { 'serve-80-tcp': '80', 'serve-81-udp': '81/UDP' };

describe('policy rules in nftables, with real traffic', () => {
  let lab: PolicyLab;
  let enforcer: PolicyEnforcer;
  let writer: NftWriter;
  let allPods: KubePod[];

  const ip = (name: string): string => lab.pod(name).ip;
  const ip6 = (name: string): string => lab.pod(name).ip6;
  const apply = async (policies: KubeNetworkPolicy[], pods: KubePod[] = allPods): Promise<void> => {
    const world = { pods, namespaces: [makeNamespace('x'), makeNamespace('y')], policies };
    await enforcer.enforce(compileNodePolicy(world, 'n1'), { localSubnets: LOCAL_SUBNETS });
  };
  const nft = (args: string[]): Promise<string> => nftRunner(['ip', 'netns', 'exec', lab.nodeNs, 'nft'])(args);

  beforeAll(async () => {
    lab = await PolicyLab.create(['a', 'b', 'c', 'd']);
    writer = new NftWriter(nftRunner(['ip', 'netns', 'exec', lab.nodeNs, 'nft']));
    enforcer = new PolicyEnforcer(writer);
    const pod = (ns: string, name: string, ports: Record<string, string>): KubePod =>
      makePod(ns, name, { ips: [ip(name), ip6(name)], node: 'n1', ports });
    allPods = [pod('x', 'a', NAMED), pod('x', 'b', NAMED), pod('x', 'c', {}), pod('y', 'd', NAMED)];
  });
  afterAll(async () => {
    await lab.dispose();
  });

  it('writes an empty table and lets everything through when there is no policy', async () => {
    await apply([]);
    expect(await nft(['list', 'table', 'inet', 'weft-policy'])).not.toContain('chain');
    expect(await lab.reaches('b', 'tcp', ip('a'), 80)).toBe(true);
    expect(await lab.reaches('d', 'udp', ip('c'), 81)).toBe(true);
    expect(await lab.reaches('outside', 'tcp', ip('a'), 81)).toBe(true);
  });

  it('default deny ingress: others are refused, replies to the pod and the node itself are not', async () => {
    await apply([makePolicy('x', 'deny', { policyTypes: ['Ingress'] })]);
    expect(await lab.reaches('b', 'tcp', ip('a'), 80)).toBe(false);
    expect(await lab.reaches('d', 'udp', ip('a'), 81)).toBe(false);
    expect(await lab.reaches('outside', 'tcp', ip('a'), 80)).toBe(false);
    expect(await lab.reaches('d', 'tcp', ip6('a'), 80)).toBe(false);
    expect(await lab.reaches('a', 'tcp', ip('d'), 80)).toBe(true); // y is not isolated; the reply comes back
    expect(await lab.reaches('a', 'udp', ip('d'), 81)).toBe(true);
    expect(await lab.reaches('node', 'tcp', ip('a'), 80)).toBe(true); // kubelet probes
    const drops = await enforcer.dropCounts();
    expect(drops.get('x/a ingress')).toBeGreaterThanOrEqual(3);
  });

  it('allows a pod peer on one port and protocol only, in both address families', async () => {
    await apply([makePolicy('x', 'from-b', {
      policyTypes: ['Ingress'],
      podSelector: { matchLabels: { pod: 'a' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 80 }] }],
    })]);
    expect(await lab.reaches('b', 'tcp', ip('a'), 80)).toBe(true);
    expect(await lab.reaches('b', 'tcp', ip6('a'), 80)).toBe(true);
    expect(await lab.reaches('b', 'tcp', ip('a'), 81)).toBe(false);
    expect(await lab.reaches('b', 'udp', ip('a'), 80)).toBe(false);
    expect(await lab.reaches('c', 'tcp', ip('a'), 80)).toBe(false);
    expect(await lab.reaches('c', 'tcp', ip6('a'), 80)).toBe(false);
    expect(await lab.reaches('c', 'tcp', ip('b'), 80)).toBe(true); // b is not selected
  });

  it('ipBlock with and without except, for traffic from outside the pod network', async () => {
    const block = (except: string[]): KubeNetworkPolicy => makePolicy('x', 'cidr', {
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ ipBlock: { cidr: '192.0.2.0/24', except } }] }],
    });
    await apply([block([])]);
    expect(await lab.reaches('outside', 'tcp', ip('a'), 80)).toBe(true);
    expect(await lab.reaches('b', 'tcp', ip('a'), 80)).toBe(false);
    await apply([block(['192.0.2.0/30'])]);
    expect(await lab.reaches('outside', 'tcp', ip('a'), 80)).toBe(false);
  });

  it('resolves a named UDP port on each destination pod', async () => {
    await apply([makePolicy('x', 'named', { policyTypes: ['Ingress'], ingress: [{ ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] }] })]);
    expect(await lab.reaches('d', 'udp', ip('a'), 81)).toBe(true);
    expect(await lab.reaches('d', 'udp', ip('a'), 80)).toBe(false);
    expect(await lab.reaches('d', 'tcp', ip('a'), 81)).toBe(false);
    expect(await lab.reaches('d', 'udp', ip('c'), 81)).toBe(false); // c does not name the port
  });

  it('egress: only the allowed destination and port, also towards the node', async () => {
    await apply([makePolicy('x', 'egress', {
      policyTypes: ['Egress'],
      podSelector: { matchLabels: { pod: 'c' } },
      egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 81, protocol: 'UDP' }] }],
    })]);
    expect(await lab.reaches('c', 'udp', ip('d'), 81)).toBe(true);
    expect(await lab.reaches('c', 'udp', ip6('d'), 81)).toBe(true);
    expect(await lab.reaches('c', 'tcp', ip('d'), 80)).toBe(false);
    expect(await lab.reaches('c', 'tcp', ip('a'), 80)).toBe(false);
    expect(await lab.reaches('c', 'tcp', '10.244.1.1', 8080)).toBe(false); // the node, through the input hook
    expect(await lab.reaches('d', 'tcp', ip('c'), 80)).toBe(true); // ingress is open; the reply is allowed
    expect((await enforcer.dropCounts()).get('x/c egress')).toBeGreaterThanOrEqual(3);
  });

  it('holds a local pod address that is not known yet while any policy exists', async () => {
    const withoutD = allPods.filter((p) => p.metadata?.name !== 'd');
    await apply([makePolicy('x', 'deny', { policyTypes: ['Ingress'], podSelector: { matchLabels: { pod: 'a' } } })], withoutD);
    expect(await lab.reaches('d', 'tcp', ip('b'), 80)).toBe(false);
    expect(await lab.reaches('b', 'tcp', ip('d'), 80)).toBe(false);
    expect((await enforcer.dropCounts()).get('pending')).toBeGreaterThanOrEqual(2);
    await apply([makePolicy('x', 'deny', { policyTypes: ['Ingress'], podSelector: { matchLabels: { pod: 'a' } } })]);
    expect(await lab.reaches('d', 'tcp', ip('b'), 80)).toBe(true);
  });

  it('never opens a denied port while the table is rewritten again and again', async () => {
    const only81 = makePolicy('x', 'only-81', {
      policyTypes: ['Ingress'],
      podSelector: { matchLabels: { pod: 'a' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }], ports: [{ port: 81 }] }],
    });
    const churn = (i: number): KubeNetworkPolicy => makePolicy('x', `churn-${String(i % 2)}`, {
      policyTypes: ['Ingress', 'Egress'], podSelector: { matchLabels: { pod: 'c' } }, ingress: [{ ports: [{ port: 1000 + i }] }],
    });
    await apply([only81]);
    const denied = lab.probe('b', 'tcp', ip('a'), 80, { count: 60, timeoutMs: 150, intervalMs: 10 });
    const allowed = lab.probe('b', 'tcp', ip('a'), 81, { count: 60, timeoutMs: 2000, intervalMs: 100 });
    let rewrites = 0;
    const state = { probing: true };
    void Promise.all([denied, allowed]).then(() => { state.probing = false; });
    while (state.probing && rewrites < 500) {
      await apply([only81, churn(rewrites)]);
      rewrites++;
    }
    const [deniedResult, allowedResult] = await Promise.all([denied, allowed]);
    expect(rewrites).toBeGreaterThanOrEqual(10); // each swap is ~0.5 s on a busy 2-core machine
    expect(deniedResult).toEqual({ ok: 0, failed: 60 });
    expect(allowedResult).toEqual({ ok: 60, failed: 0 });
  });

  it('removes every rule with the last policy', async () => {
    await apply([]);
    expect(await nft(['list', 'table', 'inet', 'weft-policy'])).not.toContain('chain');
    expect(await lab.reaches('b', 'tcp', ip('a'), 80)).toBe(true);
    expect(await lab.reaches('c', 'tcp', ip('d'), 80)).toBe(true);
  });
});
