// The truth-table suite in the kernel: namespaces x, y, z with pods a, b, c (nine pod namespaces on
// one lab node), TCP and UDP on 80 and 81, and for each of the dozen policy cases the full 9 x 9
// matrix per port probed and compared with the case's hand-written truth table. The same cases
// (policy/testing/netpol-matrix.ts) run on real nodes with another prober.
import { jest } from '@jest/globals';
import { parseRange } from '../../policy/address-ranges.js';
import type { KubePod } from '../../policy/api-types.js';
import { NftWriter, nftRunner } from '../../policy/nft-writer.js';
import { compileNodePolicy } from '../../policy/policy-compiler.js';
import { PolicyEnforcer } from '../../policy/policy-enforcer.js';
import { makePod } from '../../policy/testing/fixtures.js';
import { checkMatrix, MATRIX_CASES, MATRIX_NAMED_PORTS, matrixNamespaces, matrixPodKeys, type Prober } from '../../policy/testing/netpol-matrix.js';
import { PolicyLab } from '../lab/policy-lab.js';

jest.setTimeout(600_000);

const labName = (key: string): string => key.replace('/', '');

describe('NetworkPolicy truth tables in the kernel (x/y/z, a/b/c, TCP/UDP 80/81)', () => {
  let lab: PolicyLab;
  let pods: KubePod[];
  let enforcer: PolicyEnforcer;

  beforeAll(async () => {
    lab = await PolicyLab.create(matrixPodKeys().map(labName));
    enforcer = new PolicyEnforcer(new NftWriter(nftRunner(['ip', 'netns', 'exec', lab.nodeNs, 'nft'])));
    pods = matrixPodKeys().map((key) => {
      const [namespace = '', name = ''] = key.split('/');
      return makePod(namespace, name, { ip: lab.pod(labName(key)).ip, node: 'n1', labels: { pod: name }, ports: MATRIX_NAMED_PORTS });
    });
  });
  afterAll(async () => {
    await lab.dispose();
  });

  /** All probes of one source run at once (the agent answers them concurrently). */
  const batchedProber = (): Prober => {
    const pending = new Map<string, Promise<boolean>>();
    return (from, to, protocol, port) => {
      const key = `${from} ${to} ${protocol} ${String(port)}`;
      if (!pending.has(key)) {
        for (const target of matrixPodKeys()) {
          const k = `${from} ${target} ${protocol} ${String(port)}`;
          pending.set(k, lab.probe(labName(from), protocol === 'TCP' ? 'tcp' : 'udp', lab.pod(labName(target)).ip, port, { timeoutMs: 300 }).then((r) => r.ok === 1));
        }
      }
      return pending.get(key) ?? Promise.resolve(false);
    };
  };

  it.each(MATRIX_CASES.map((c) => [c.name, c] as const))('%s', async (_name, matrixCase) => {
    const ips = new Map(pods.map((p) => [`${p.metadata?.namespace ?? ''}/${p.metadata?.name ?? ''}`, p.status?.podIP ?? '']));
    const world = { pods, namespaces: matrixNamespaces(), policies: matrixCase.policies(ips) };
    await enforcer.enforce(compileNodePolicy(world, 'n1'), { localSubnets: [parseRange('10.244.1.0/24')] });
    expect(await checkMatrix(matrixCase, batchedProber())).toEqual([]);
  });
});
