// The truth-table NetworkPolicy suite (the shape of Kubernetes 1.21's Netpol tests, which the 1.20
// tree lacks): namespaces x, y, z, pods a, b, c in each (label pod=<name>, namespace label ns=<name>,
// named ports serve-80-tcp, serve-81-tcp, serve-80-udp, serve-81-udp), TCP and UDP on ports 80 and
// 81, and the full reachability matrix per policy case. Each case states its expected answer by
// hand, from the API's rules (as 1.21's suite writes its Reachability tables), so the compiler is
// checked against it rather than against itself; a lab supplies `probe` (e.g. kubectl exec agnhost
// connect) and gets every cell compared, not a sample.
import type { KubeNetworkPolicy, KubePod } from '../api-types.js';
import { modelAllows } from '../model-evaluator.js';
import { compileNodePolicy } from '../policy-compiler.js';
import type { Protocol } from '../policy-model.js';
import { makeNamespace, makePolicy } from './fixtures.js';

export const MATRIX_NAMESPACES = ['x', 'y', 'z'] as const;
export const MATRIX_PODS = ['a', 'b', 'c'] as const;
export const MATRIX_PORTS: readonly { protocol: Protocol; port: number }[] = [
  { protocol: 'TCP', port: 80 }, { protocol: 'TCP', port: 81 }, { protocol: 'UDP', port: 80 }, { protocol: 'UDP', port: 81 },
];
export const MATRIX_NAMED_PORTS = { 'serve-80-tcp': '80', 'serve-81-tcp': '81', 'serve-80-udp': '80/UDP', 'serve-81-udp': '81/UDP' };

/** One cell of the matrix: pods as "x/a". */
export interface MatrixCell {
  from: string;
  to: string;
  protocol: Protocol;
  port: number;
}

export interface MatrixCase {
  name: string;
  /** The policies, given the pods' addresses ("x/a" -> IP) for ipBlock cases. */
  policies: (ips: ReadonlyMap<string, string>) => KubeNetworkPolicy[];
  /**
   * Whether the API allows the cell, written by hand per case. A pod reaching itself is always
   * allowed (it never leaves the pod: 1.21's AllowLoopback) and is answered by `expectedAllowed`.
   */
  allows: (cell: MatrixCell) => boolean;
}

const nsOf = (pod: string): string => pod.split('/')[0] ?? '';
const nameOf = (pod: string): string => pod.split('/')[1] ?? '';
const is = (protocol: Protocol, port: number) => (cell: MatrixCell): boolean => cell.protocol === protocol && cell.port === port;

const a = { matchLabels: { pod: 'a' } };
const ns = (name: string): { matchLabels: Record<string, string> } => ({ matchLabels: { ns: name } });

export const MATRIX_CASES: readonly MatrixCase[] = [
  { name: 'deny all ingress in x', policies: () => [makePolicy('x', 'deny', { policyTypes: ['Ingress'] })], allows: (c) => nsOf(c.to) !== 'x' },
  { name: 'allow all ingress in x', policies: () => [makePolicy('x', 'allow', { policyTypes: ['Ingress'], ingress: [{}] })], allows: () => true },
  { name: 'deny all egress in x', policies: () => [makePolicy('x', 'deny', { policyTypes: ['Egress'] })], allows: (c) => nsOf(c.from) !== 'x' },
  { name: 'x/a from namespace y', policies: () => [makePolicy('x', 'p', { podSelector: a, ingress: [{ from: [{ namespaceSelector: ns('y') }] }] })], allows: (c) => c.to !== 'x/a' || nsOf(c.from) === 'y' },
  { name: 'x/a from pods b in any namespace', policies: () => [makePolicy('x', 'p', { podSelector: a, ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { pod: 'b' } } }] }] })], allows: (c) => c.to !== 'x/a' || nameOf(c.from) === 'b' },
  { name: 'x/a from y/b only (selectors combined)', policies: () => [makePolicy('x', 'p', { podSelector: a, ingress: [{ from: [{ namespaceSelector: ns('y'), podSelector: { matchLabels: { pod: 'b' } } }] }] })], allows: (c) => c.to !== 'x/a' || c.from === 'y/b' },
  { name: 'x/a on TCP 81 only', policies: () => [makePolicy('x', 'p', { podSelector: a, ingress: [{ ports: [{ port: 81, protocol: 'TCP' }] }] })], allows: (c) => c.to !== 'x/a' || is('TCP', 81)(c) },
  { name: 'x/a on named port serve-80-udp', policies: () => [makePolicy('x', 'p', { podSelector: a, ingress: [{ ports: [{ port: 'serve-80-udp', protocol: 'UDP' }] }] })], allows: (c) => c.to !== 'x/a' || is('UDP', 80)(c) },
  { name: 'x/a egress to z on UDP 81 only', policies: () => [makePolicy('x', 'p', { podSelector: a, policyTypes: ['Egress'], egress: [{ to: [{ namespaceSelector: ns('z') }], ports: [{ port: 81, protocol: 'UDP' }] }] })], allows: (c) => c.from !== 'x/a' || (nsOf(c.to) === 'z' && is('UDP', 81)(c)) },
  { name: 'x/a from namespaces NotIn y', policies: () => [makePolicy('x', 'p', { podSelector: a, ingress: [{ from: [{ namespaceSelector: { matchExpressions: [{ key: 'ns', operator: 'NotIn', values: ['y'] }] } }] }] })], allows: (c) => c.to !== 'x/a' || nsOf(c.from) !== 'y' },
  {
    name: 'x/a from an ipBlock (y/b excepted)',
    policies: (ips) => [makePolicy('x', 'p', { podSelector: a, ingress: [{ from: [{ ipBlock: { cidr: cidrOf(ips.get('y/b')), except: [`${ips.get('y/b') ?? ''}/32`] } }] }] })],
    allows: (c) => c.to !== 'x/a' || c.from !== 'y/b',
  },
  {
    name: 'policies add up: deny all in x, then allow from z',
    policies: () => [makePolicy('x', 'deny', { policyTypes: ['Ingress'] }), makePolicy('x', 'from-z', { ingress: [{ from: [{ namespaceSelector: ns('z') }] }] })],
    allows: (c) => nsOf(c.to) !== 'x' || nsOf(c.from) === 'z',
  },
];

/** A /8 around an address: wide enough to cover every pod of a lab. */
function cidrOf(ip: string | undefined): string {
  return `${(ip ?? '10.0.0.0').split('.')[0] ?? '10'}.0.0.0/8`;
}

export const matrixNamespaces = (): ReturnType<typeof makeNamespace>[] => MATRIX_NAMESPACES.map((name) => makeNamespace(name));

/** "x/a" for every pod, in matrix order. */
export const matrixPodKeys = (): string[] => MATRIX_NAMESPACES.flatMap((n) => MATRIX_PODS.map((p) => `${n}/${p}`));

/** The hand-written answer for a cell, with a pod reaching itself always allowed. */
export function expectedAllowed(matrixCase: MatrixCase, cell: MatrixCell): boolean {
  return cell.from === cell.to || matrixCase.allows(cell);
}

/** Reachability, from -> to, for one protocol and port, as the compiler's rules for these pods predict. */
export function compiledMatrix(pods: readonly KubePod[], policies: readonly KubeNetworkPolicy[], protocol: Protocol, port: number): Map<string, boolean> {
  const world = { pods, namespaces: matrixNamespaces(), policies };
  const nodes = [...new Set(pods.map((p) => p.spec?.nodeName ?? ''))];
  const models = nodes.map((node) => compileNodePolicy(world, node));
  const ipOf = new Map<string, string>(pods.map((p) => [`${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`, p.status?.podIP ?? ''] as const));
  const out = new Map<string, boolean>();
  for (const from of matrixPodKeys()) {
    for (const to of matrixPodKeys()) {
      out.set(`${from}->${to}`, modelAllows(models, { src: ipOf.get(from) ?? '', dst: ipOf.get(to) ?? '', protocol, port }));
    }
  }
  return out;
}

export type Prober = (from: string, to: string, protocol: Protocol, port: number) => Promise<boolean>;

/** Probes every cell of every port and returns the cells that differ from the case's hand-written answer. */
export async function checkMatrix(matrixCase: MatrixCase, probe: Prober): Promise<string[]> {
  const wrong: string[] = [];
  for (const { protocol, port } of MATRIX_PORTS) {
    for (const from of matrixPodKeys()) {
      for (const to of matrixPodKeys()) {
        const allowed = expectedAllowed(matrixCase, { from, to, protocol, port });
        const actual = await probe(from, to, protocol, port);
        if (actual !== allowed) wrong.push(`${matrixCase.name}: ${protocol}/${String(port)} ${from}->${to} expected ${allowed ? 'allowed' : 'denied'}, got ${actual ? 'allowed' : 'denied'}`);
      }
    }
  }
  return wrong;
}

/** The matrix as 9 rows of 9 cells ("." allowed, "X" denied), rows = from, columns = to. */
export function matrixText(matrix: ReadonlyMap<string, boolean>): string[] {
  const keys = matrixPodKeys();
  return keys.map((from) => keys.map((to) => (matrix.get(`${from}->${to}`) ? '.' : 'X')).join(''));
}
