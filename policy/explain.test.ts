import { explainPod } from './explain.js';
import { makeNamespace, makePod, makePolicy } from './testing/fixtures.js';

const world = {
  namespaces: [makeNamespace('x'), makeNamespace('y')],
  pods: [
    makePod('x', 'a', { ip: '10.244.1.11', node: 'n1', ports: { http: '8080' } }),
    makePod('y', 'b', { ip: '10.244.2.12', node: 'n2' }),
    makePod('x', 'host', { ip: '192.0.2.11', hostNetwork: true }),
  ],
  policies: [
    makePolicy('x', 'web', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ from: [{ namespaceSelector: { matchLabels: { ns: 'y' } } }], ports: [{ port: 'http' }] }] }),
    makePolicy('x', 'no-egress', { policyTypes: ['Egress'] }),
    makePolicy('y', 'elsewhere', {}),
  ],
};

describe('weftctl policy explanation', () => {
  it('names the selecting policies and what they allow, with pod names for addresses', () => {
    expect(explainPod(world, 'x', 'a').text).toEqual([
      'pod x/a (10.244.1.11) on node n1',
      'ingress: isolated by x/web',
      '  allow from 10.244.2.12 (y/b) on TCP 8080   [x/web rule 0]',
      'egress: isolated by x/no-egress',
      '  nothing allowed (replies to its own connections pass)',
    ]);
  });

  it('says when a pod is not isolated, not subject to policy, or missing', () => {
    expect(explainPod(world, 'y', 'b').text[1]).toBe('ingress: isolated by y/elsewhere');
    expect(explainPod(world, 'y', 'b').text[3]).toBe('egress: not isolated (no policy selects it for egress): everything allowed');
    expect(explainPod(world, 'x', 'host').text).toEqual(['pod x/host: not subject to NetworkPolicy: host network, finished, or no address yet']);
    expect(explainPod(world, 'x', 'ghost').rules).toBeUndefined();
  });
});
