// The compiler against the truth tables: for every matrix case, the reachability its rules predict
// (pods spread over two nodes, as on real nodes) equals the answer written by hand from the API.
import { makePod } from './fixtures.js';
import { compiledMatrix, expectedAllowed, MATRIX_CASES, MATRIX_NAMED_PORTS, MATRIX_PORTS, matrixPodKeys } from './netpol-matrix.js';

const pods = matrixPodKeys().map((key, i) => {
  const [namespace = '', name = ''] = key.split('/');
  const node = i % 2 === 0 ? 'n1' : 'n2';
  return makePod(namespace, name, { ip: `10.244.${i % 2 === 0 ? 1 : 2}.${10 + i}`, node, ports: MATRIX_NAMED_PORTS });
});
const ips = new Map(pods.map((p) => [`${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`, p.status?.podIP ?? '']));

describe.each(MATRIX_CASES.map((c) => [c.name, c] as const))('%s', (_name, matrixCase) => {
  it.each(MATRIX_PORTS.map((p) => [p.protocol, p.port] as const))('%s/%i: compiled rules = truth table', (protocol, port) => {
    const compiled = compiledMatrix(pods, matrixCase.policies(ips), protocol, port);
    const differences = [...compiled].filter(([cell, allowed]) => {
      const [from = '', to = ''] = cell.split('->');
      return allowed !== expectedAllowed(matrixCase, { from, to, protocol, port });
    }).map(([cell, allowed]) => `${cell} compiled ${allowed ? 'allowed' : 'denied'}`);
    expect(differences).toEqual([]);
  });
});

it('every case but allow-all denies at least one cell', () => {
  const denying = MATRIX_CASES.filter((c) => MATRIX_PORTS.some(({ protocol, port }) =>
    matrixPodKeys().some((from) => matrixPodKeys().some((to) => !expectedAllowed(c, { from, to, protocol, port })))));
  expect(MATRIX_CASES.length - denying.length).toBe(1);
});
