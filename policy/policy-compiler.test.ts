// The compiler against the API's rules, as truth tables: 9 pods (namespaces x, y, z; pods a, b, c)
// on two nodes, one grid per case, rows = from, columns = to, "." allowed and "X" denied.
import type { KubeNetworkPolicy } from './api-types.js';
import { compileNodePolicy } from './policy-compiler.js';
import { modelAllows } from './model-evaluator.js';
import type { Protocol } from './policy-model.js';
import { makeNamespace, makePod, makePolicy } from './testing/fixtures.js';

const NAMESPACES = ['x', 'y', 'z'];
const NAMES = ['a', 'b', 'c'];
/** x and z on n1, y on n2; a and b name their ports, c does not. */
function ipOf(ns: string, name: string): string {
  const node = ns === 'y' ? 2 : 1;
  return `10.244.${String(node)}.${String(10 * (NAMESPACES.indexOf(ns) + 1) + NAMES.indexOf(name) + 1)}`;
}
const pods = NAMESPACES.flatMap((ns) => NAMES.map((name) => makePod(ns, name, {
  labels: { pod: name, ...(name === 'c' ? {} : { named: 'yes' }) },
  node: ns === 'y' ? 'n2' : 'n1',
  ip: ipOf(ns, name),
  ports: name === 'c' ? {} : { 'serve-80-tcp': '80', 'serve-81-udp': '81/UDP' },
})));
const namespaces = NAMESPACES.map((ns) => makeNamespace(ns, { ns, ...(ns === 'z' ? {} : { team: 'xy' }) }));
const ALL = NAMESPACES.flatMap((ns) => NAMES.map((name) => ({ ns, name, ip: ipOf(ns, name) })));

function grid(policies: KubeNetworkPolicy[], protocol: Protocol = 'TCP', port = 80): string[] {
  const world = { pods, namespaces, policies };
  const models = ['n1', 'n2'].map((node) => compileNodePolicy(world, node));
  return ALL.map((from) => ALL.map((to) => (modelAllows(models, { src: from.ip, dst: to.ip, protocol, port }) ? '.' : 'X')).join(''));
}

const OPEN = Array<string>(9).fill('.........');
const ingress = (namespace: string, name: string, spec: object): KubeNetworkPolicy =>
  makePolicy(namespace, name, { policyTypes: ['Ingress'], ...spec });
const egress = (namespace: string, name: string, spec: object): KubeNetworkPolicy =>
  makePolicy(namespace, name, { policyTypes: ['Egress'], ...spec });

describe('compiler truth tables', () => {
  it('allows everything with no policy', () => {
    expect(grid([])).toEqual(OPEN);
  });

  it('default deny ingress (podSelector {}) isolates every pod of its namespace only', () => {
    // columns 1-3 (x/*) closed except each pod to itself
    expect(grid([ingress('x', 'deny', { podSelector: {} })])).toEqual([
      '.XX......', 'X.X......', 'XX.......',
      'XXX......', 'XXX......', 'XXX......',
      'XXX......', 'XXX......', 'XXX......',
    ]);
  });

  it('an empty ingress rule {} allows all; `from: []` is the same as no from', () => {
    expect(grid([ingress('x', 'all', { ingress: [{}] })])).toEqual(OPEN);
    expect(grid([ingress('x', 'all', { ingress: [{ from: [] }] })])).toEqual(OPEN);
    // ports alone: every source, port 80 only
    const port80 = [ingress('x', 'p80', { ingress: [{ from: [], ports: [{ port: 80 }] }] })];
    expect(grid(port80, 'TCP', 80)).toEqual(OPEN);
    expect(grid(port80, 'TCP', 81)[3]).toBe('XXX......');
    expect(grid(port80, 'UDP', 80)[3]).toBe('XXX......');
  });

  it('podSelector peer: pods of the policy namespace only', () => {
    const g = grid([ingress('x', 'from-b', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] })]);
    expect(g.map((row) => row[0])).toEqual(['.', '.', 'X', 'X', 'X', 'X', 'X', 'X', 'X']);
    expect(g.map((row) => row.slice(1)).every((rest) => rest === '........')).toBe(true);
  });

  it('namespaceSelector {} alone selects every pod in every namespace, but no other address', () => {
    const policies = [ingress('x', 'all-ns', { ingress: [{ from: [{ namespaceSelector: {} }] }] })];
    expect(grid(policies)).toEqual(OPEN);
    const models = [compileNodePolicy({ pods, namespaces, policies }, 'n1')];
    expect(modelAllows(models, { src: '192.0.2.11', dst: ipOf('x', 'a'), protocol: 'TCP', port: 80 })).toBe(false);
  });

  it('namespaceSelector and podSelector in one peer AND, in two peers OR', () => {
    const toA = (from: object[]): string =>
      grid([ingress('x', 'p', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from }] })]).map((row) => row[0]).join('');
    expect(toA([{ namespaceSelector: { matchLabels: { ns: 'y' } }, podSelector: { matchLabels: { pod: 'b' } } }])).toBe('.XXX.XXXX');
    expect(toA([{ namespaceSelector: { matchLabels: { ns: 'y' } } }, { podSelector: { matchLabels: { pod: 'b' } } }])).toBe('..X...XXX');
  });

  it('matchExpressions: In, NotIn, Exists, DoesNotExist on namespaces and pods', () => {
    const toA = (from: object): string =>
      grid([ingress('x', 'expr', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [from] }] })]).map((row) => row[0]).join('');
    const ns = (key: string, operator: string, values?: string[]): object =>
      ({ namespaceSelector: { matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] } });
    const pod = (key: string, operator: string, values?: string[]): object =>
      ({ namespaceSelector: {}, podSelector: { matchExpressions: [{ key, operator, ...(values ? { values } : {}) }] } });
    expect(toA(ns('ns', 'In', ['y', 'z']))).toBe('.XX......');
    expect(toA(ns('ns', 'NotIn', ['y']))).toBe('...XXX...');
    expect(toA(ns('team', 'Exists'))).toBe('......XXX');
    expect(toA(ns('team', 'DoesNotExist'))).toBe('.XXXXX...');
    expect(toA(pod('named', 'DoesNotExist'))).toBe('.X.XX.XX.');
    expect(toA(pod('named', 'Exists'))).toBe('..X..X..X');
    expect(toA(pod('pod', 'In', ['a']))).toBe('.XX.XX.XX');
    expect(toA(pod('pod', 'NotIn', ['a', 'b']))).toBe('.X.XX.XX.');
    // matchLabels and matchExpressions AND
    expect(toA({ namespaceSelector: { matchLabels: { team: 'xy' }, matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['x'] }] } })).toBe('.XX...XXX');
  });

  it('ipBlock with except, for pods and other addresses', () => {
    const policies = [ingress('x', 'cidr', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [
      { ipBlock: { cidr: '10.244.2.0/24', except: ['10.244.2.22/32'] } },
      { ipBlock: { cidr: '192.0.2.0/24' } },
    ] }] })];
    expect(grid(policies).map((row) => row[0]).join('')).toBe('.XX.X.XXX');
    const models = [compileNodePolicy({ pods, namespaces, policies }, 'n1')];
    const from = (src: string): boolean => modelAllows(models, { src, dst: ipOf('x', 'a'), protocol: 'TCP', port: 80 });
    expect([from('192.0.2.11'), from('198.51.100.1'), from('10.244.2.22'), from('10.244.2.200')]).toEqual([true, false, false, true]);
  });

  it('ports by number and protocol, and by name resolved on the destination pod', () => {
    const byName = [ingress('x', 'named', { ingress: [{ ports: [{ port: 'serve-81-udp', protocol: 'UDP' }] }] })];
    // x/a and x/b name the port; x/c does not, so nothing reaches it
    expect(grid(byName, 'UDP', 81).map((row) => row.slice(0, 3)).join(' ')).toBe('..X ..X ... ..X ..X ..X ..X ..X ..X');
    expect(grid(byName, 'TCP', 81)[3]).toBe('XXX......');
    // a name with the wrong protocol matches nothing
    const wrongProtocol = [ingress('x', 'named', { ingress: [{ ports: [{ port: 'serve-81-udp', protocol: 'TCP' }] }] })];
    expect(grid(wrongProtocol, 'UDP', 81)[3]).toBe('XXX......');
    expect(grid([ingress('x', 'udp', { ingress: [{ ports: [{ protocol: 'UDP' }] }] })], 'UDP', 9999)).toEqual(OPEN);
    expect(grid([ingress('x', 'sctp', { ingress: [{ ports: [{ protocol: 'SCTP', port: 80 }] }] })], 'SCTP', 80)).toEqual(OPEN);
  });

  it('egress: default deny, then allowed destinations, ports and named ports of peer pods', () => {
    const denyAll = egress('x', 'deny', {});
    expect(grid([denyAll])).toEqual([
      '.XXXXXXXX', 'X.XXXXXXX', 'XX.XXXXXX',
      '.........', '.........', '.........', '.........', '.........', '.........',
    ]);
    const toY81 = egress('x', 'to-y', { egress: [{ to: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 81, protocol: 'UDP' }] }] });
    expect(grid([denyAll, toY81], 'UDP', 81)[0]).toBe('.XX...XXX');
    expect(grid([denyAll, toY81], 'TCP', 81)[0]).toBe('.XXXXXXXX');
    // a named egress port resolves on each destination pod: c has no such name
    const named = egress('x', 'named', { egress: [{ ports: [{ port: 'serve-80-tcp' }] }] });
    expect(grid([named], 'TCP', 80)[0]).toBe('..X..X..X');
  });

  it('policyTypes defaulting: Ingress always, Egress only when there are egress rules', () => {
    const onlyIngress = makePolicy('x', 'implicit', { podSelector: {} });
    expect(grid([onlyIngress])[0]).toBe('.XX......');
    expect(grid([onlyIngress])[3]).toBe('XXX......');
    const withEgress = makePolicy('x', 'implicit', { podSelector: {}, egress: [{ ports: [{ port: 81 }] }] });
    expect(grid([withEgress], 'TCP', 80)[0]).toBe('.XXXXXXXX');
    expect(grid([withEgress], 'TCP', 81)[0]).toBe('.XX......');
    // Egress only: ingress stays open
    expect(grid([egress('x', 'e', {})])[3]).toBe('.........');
  });

  it('policies add up, and never apply outside their namespace', () => {
    const fromB = ingress('x', 'b', { ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'b' } } }] }] });
    const fromY = ingress('x', 'y', { ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }] }] });
    expect(grid([fromB, fromY]).map((row) => row[0]).join('')).toBe('..X...XXX');
    // selectors in y's policy only pick y's pods, even with labels x's pods share
    expect(grid([ingress('y', 'deny', { podSelector: { matchLabels: { pod: 'a' } } })]).map((row) => row.charAt(0) + row.charAt(3)).join(' ')).toBe('.X .X .X .. .X .X .X .X .X');
  });

  it('leaves host-network pods alone and does not count them as peers', () => {
    const hostPod = makePod('x', 'h', { node: 'n1', ip: '192.0.2.11', hostNetwork: true, labels: { pod: 'a' } });
    const policies = [ingress('x', 'from-a', { ingress: [{ from: [{ podSelector: { matchLabels: { pod: 'a' } } }] }] })];
    const model = compileNodePolicy({ pods: [...pods, hostPod], namespaces, policies }, 'n1');
    expect(model.pods.map((p) => `${p.namespace}/${p.name}`)).not.toContain('x/h');
    expect(modelAllows([model], { src: '192.0.2.11', dst: ipOf('x', 'b'), protocol: 'TCP', port: 80 })).toBe(false);
    expect(modelAllows([model], { src: ipOf('x', 'a'), dst: ipOf('x', 'b'), protocol: 'TCP', port: 80 })).toBe(true);
  });

  it('leaves finished pods and pods without an address out of rules and peers', () => {
    const done = makePod('x', 'done', { node: 'n1', ip: '10.244.1.99', phase: 'Succeeded' });
    const pending = makePod('x', 'pending', { node: 'n1' });
    const model = compileNodePolicy({ pods: [...pods, done, pending], namespaces, policies: [ingress('x', 'deny', {})] }, 'n1');
    expect(model.pods.map((p) => p.name)).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);
  });
});

describe('policies that cannot be enforced as written', () => {
  const compile = (policy: KubeNetworkPolicy): ReturnType<typeof compileNodePolicy> =>
    compileNodePolicy({ pods, namespaces, policies: [policy] }, 'n1');

  it('a bad podSelector isolates the whole namespace and is reported', () => {
    const model = compile(ingress('x', 'bad', { podSelector: { matchExpressions: [{ key: 'pod', operator: 'Near', values: ['a'] }] }, ingress: [{}] }));
    expect(model.problems).toEqual([{ policy: 'x/bad', reason: expect.stringContaining('unknown operator "Near"') as unknown }]);
    expect(model.pods.filter((p) => p.namespace === 'x').every((p) => p.ingress?.allows.length === 0)).toBe(true);
  });

  it('a bad peer or port matches nothing (never everything) and is reported', () => {
    const badPeer = compile(ingress('x', 'peer', { ingress: [{ from: [{ ipBlock: { cidr: 'not-a-cidr' } }] }] }));
    expect(badPeer.problems[0]?.reason).toContain('not-a-cidr');
    expect(badPeer.pods[0]?.ingress?.allows).toEqual([]);
    const badPort = compile(ingress('x', 'port', { ingress: [{ ports: [{ protocol: 'ICMP', port: 80 }] }] }));
    expect(badPort.problems[0]?.reason).toContain('ICMP');
    expect(badPort.pods[0]?.ingress?.allows).toEqual([]);
    const emptyPeer = compile(ingress('x', 'empty', { ingress: [{ from: [{}] }] }));
    expect(emptyPeer.problems[0]?.reason).toContain('matches nothing');
    expect(emptyPeer.pods[0]?.ingress?.allows).toEqual([]);
  });

  it('endPort (Kubernetes 1.21+) is reported and only the port itself is allowed', () => {
    const model = compile(ingress('x', 'range', { ingress: [{ ports: [{ port: 80, endPort: 90 }] }] }));
    expect(model.problems[0]?.reason).toContain('endPort');
    expect(model.pods[0]?.ingress?.allows[0]?.ports).toEqual([{ protocol: 'TCP', port: 80 }]);
  });

  it('a selector naming a missing namespace or label allows nothing from it', () => {
    const model = compile(ingress('x', 'ghost', { ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'nope' } } }] }] }));
    expect(model.problems).toEqual([]);
    expect(model.pods[0]?.ingress?.allows).toEqual([]);
  });
});
