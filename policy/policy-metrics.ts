// The policy controller's Prometheus figures, in a registry of its own, served on its /metrics.
// Gauges mirror the last pass; drops are read from the nftables counters when scraped.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodePolicyModel } from './policy-model.js';
import type { RulesetSize } from './nft-ruleset.js';
import type { DropCounts } from './policy-enforcer.js';

export class PolicyMetrics {
  readonly registry = new Registry();
  private readonly policies: Gauge;
  private readonly selected: Gauge<'direction'>;
  private readonly size: Gauge<'kind'>;
  private readonly latency: Histogram;
  private readonly failures: Counter;
  private readonly problems: Gauge;

  constructor(readDrops: () => Promise<DropCounts>, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.policies = new Gauge({ name: 'weft_policy_policies', help: 'NetworkPolicies in the cluster', registers });
    this.selected = new Gauge({ name: 'weft_policy_selected_pods', help: 'Pods on this node isolated by policy, by direction', labelNames: ['direction'], registers });
    this.size = new Gauge({ name: 'weft_policy_ruleset_size', help: 'Size of the nftables table weft-policy: chains, rules, set elements', labelNames: ['kind'], registers });
    this.latency = new Histogram({
      name: 'weft_policy_sync_seconds',
      help: 'From an API change (pod, namespace, policy) to its rules being in the kernel',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.failures = new Counter({ name: 'weft_policy_write_failures_total', help: 'nft transactions that failed (and were retried)', registers });
    this.problems = new Gauge({ name: 'weft_policy_problems', help: 'Policy parts that cannot be enforced as written (enforced narrower; see the log)', registers });
    const drops: Gauge<'pod' | 'direction'> = new Gauge({
      name: 'weft_policy_dropped_packets',
      help: 'Packets dropped by policy (nft counters; per pod and direction; pod "" = address not yet known)',
      labelNames: ['pod', 'direction'],
      registers,
      collect: async () => {
        drops.reset();
        for (const [label, packets] of await readDrops()) {
          const [pod = '', direction = 'any'] = label === 'pending' ? ['', 'any'] : label.split(' ');
          drops.set({ pod, direction }, packets);
        }
      },
    });
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  recordPass(model: NodePolicyModel, size: RulesetSize): void {
    this.policies.set(model.policyCount);
    this.selected.set({ direction: 'ingress' }, model.pods.filter((p) => p.ingress !== undefined).length);
    this.selected.set({ direction: 'egress' }, model.pods.filter((p) => p.egress !== undefined).length);
    this.size.set({ kind: 'chains' }, size.chains);
    this.size.set({ kind: 'rules' }, size.rules);
    this.size.set({ kind: 'set_elements' }, size.setElements);
    this.problems.set(model.problems.length);
  }

  recordSync(seconds: number): void {
    this.latency.observe(seconds);
  }

  recordFailure(): void {
    this.failures.inc();
  }
}
