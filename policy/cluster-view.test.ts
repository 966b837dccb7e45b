// The cluster view reuses what it parsed from a pod object it has seen (the informers keep unchanged
// objects and replace changed ones), and a replaced object is parsed again.
import { buildClusterView } from './cluster-view.js';
import { makeNamespace, makePod } from './testing/fixtures.js';

const namespaces = [makeNamespace('x')];

describe('cluster view', () => {
  it('gives the same peer for the same pod object, and a new one for its replacement', () => {
    const a = makePod('x', 'a', { node: 'n1', ip: '10.244.1.10', labels: { app: 'web' } });
    const first = buildClusterView({ pods: [a], namespaces }).pods[0];
    expect(buildClusterView({ pods: [a], namespaces }).pods[0]).toBe(first);

    const moved = makePod('x', 'a', { node: 'n1', ip: '10.244.1.99', labels: { app: 'db' } });
    const second = buildClusterView({ pods: [moved], namespaces }).pods[0];
    expect(second).not.toBe(first);
    expect(second?.ips).toEqual(['10.244.1.99']);
    expect(second?.labels).toEqual({ app: 'db' });
  });

  it('keeps leaving out pods that are no peers, also when seen again', () => {
    const hostNetwork = makePod('x', 'h', { node: 'n1', ip: '192.0.2.11', hostNetwork: true });
    for (let i = 0; i < 2; i++) expect(buildClusterView({ pods: [hostNetwork], namespaces }).pods).toEqual([]);
  });

  it('sorts pods by namespace, then name, in code-point order', () => {
    const pods = ['b', 'a-2', 'a'].map((name) => makePod('x', name, { node: 'n1', ip: `10.244.1.${String(name.length + 10)}` }));
    expect(buildClusterView({ pods, namespaces }).pods.map((p) => p.name)).toEqual(['a', 'a-2', 'b']);
  });
});
