// The rendered transaction's shape where it matters for the kernel's cost: port matches are named
// sets shared by every rule with the same ports, never an anonymous set per rule.
import { parseRange } from './address-ranges.js';
import { renderRuleset } from './nft-ruleset.js';
import { compileNodePolicy } from './policy-compiler.js';
import { makeNamespace, makePod, makePolicy } from './testing/fixtures.js';

const pods = ['a', 'b', 'c'].map((name, i) => makePod('x', name, { node: 'n1', ip: `10.244.1.${String(i + 10)}`, labels: { pod: name } }));
const namespaces = [makeNamespace('x')];
const render = (policies: ReturnType<typeof makePolicy>[]): string =>
  renderRuleset(compileNodePolicy({ pods, namespaces, policies }, 'n1'), { localSubnets: [parseRange('10.244.1.0/24')] }).script;
const ruleLines = (script: string): string[] => script.split('\n').filter((l) => l.startsWith('    ') && !l.trim().startsWith('type ') && !l.trim().startsWith('comment '));

describe('nft rule set: port sets', () => {
  it('gives every rule with the same ports (in any order) one named set, and other ports another', () => {
    const script = render([
      makePolicy('x', 'p1', { podSelector: { matchLabels: { pod: 'a' } }, ingress: [{ ports: [{ port: 80 }, { port: 81, protocol: 'UDP' }] }] }),
      makePolicy('x', 'p2', { podSelector: { matchLabels: { pod: 'b' } }, ingress: [{ ports: [{ port: 81, protocol: 'UDP' }, { port: 80 }] }] }),
      makePolicy('x', 'p3', { podSelector: { matchLabels: { pod: 'c' } }, ingress: [{ ports: [{ port: 443 }] }] }),
    ]);
    expect(script).toContain('set ports_0 { type inet_proto . inet_service; elements = { tcp . 80, udp . 81 } }');
    expect(script).toContain('set ports_1 { type inet_proto . inet_service; elements = { tcp . 443 } }');
    expect(script).not.toContain('ports_2');
    const portRules = ruleLines(script).filter((l) => l.includes('th dport'));
    expect(portRules).toHaveLength(3);
    expect(portRules.filter((l) => l.includes('th dport @ports_0 accept'))).toHaveLength(2);
  });

  it('matches whole protocols through a named set too, and writes no anonymous set in any rule', () => {
    const script = render([
      makePolicy('x', 'p1', { podSelector: {}, ingress: [{ ports: [{ protocol: 'UDP' }, { protocol: 'TCP' }] }] }),
    ]);
    expect(script).toContain('set protocols_0 { type inet_proto; elements = { tcp, udp } }');
    // Only the base chains' fixed ICMPv6 types stay an anonymous set.
    expect(ruleLines(script).filter((l) => l.includes('{') && !l.includes('icmpv6 type'))).toEqual([]);
  });
});
