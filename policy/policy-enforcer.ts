// Turns a compiled model into kernel state: renders it, skips the write when the text is unchanged,
// and keeps drop counts monotonic across rewrites (each rewrite starts the table's counters at zero,
// so what they held is added to running totals just before the swap).
import type { NodePolicyModel } from './policy-model.js';
import { renderRuleset, type CounterMeaning, type RenderOptions, type RulesetSize } from './nft-ruleset.js';
import type { NftWriter } from './nft-writer.js';

export interface EnforceResult {
  /** False when the rules were already in place. */
  written: boolean;
  size: RulesetSize;
}

/** Dropped packets by what the counter stands for: "ns/pod ingress", "ns/pod egress" or "pending". */
export type DropCounts = Map<string, number>;

export class PolicyEnforcer {
  private lastScript: string | undefined;
  private meanings = new Map<string, CounterMeaning>();
  private readonly totals: DropCounts = new Map();
  private lastSize: RulesetSize = { chains: 0, rules: 0, setElements: 0 };

  constructor(private readonly writer: NftWriter) {}

  /** `force` writes even an unchanged table (a resync repairs a table someone removed). */
  async enforce(model: NodePolicyModel, options: RenderOptions, force = false): Promise<EnforceResult> {
    const rendered = renderRuleset(model, options);
    if (rendered.script === this.lastScript && !force) return { written: false, size: rendered.size };
    await this.harvest();
    await this.writer.apply(rendered.script);
    this.lastScript = rendered.script;
    this.meanings = rendered.counters;
    this.lastSize = rendered.size;
    return { written: true, size: rendered.size };
  }

  get size(): RulesetSize {
    return this.lastSize;
  }

  /** Totals so far plus what the live counters hold. */
  async dropCounts(): Promise<DropCounts> {
    const out = new Map(this.totals);
    for (const [label, packets] of await this.liveCounts()) out.set(label, (out.get(label) ?? 0) + packets);
    return out;
  }

  private async harvest(): Promise<void> {
    for (const [label, packets] of await this.liveCounts()) this.totals.set(label, (this.totals.get(label) ?? 0) + packets);
  }

  /** Counters of the table this process wrote; a table left by an earlier run is not ours to count. */
  private async liveCounts(): Promise<DropCounts> {
    const out: DropCounts = new Map();
    if (this.lastScript === undefined) return out;
    for (const [name, packets] of await this.writer.readCounters()) {
      const meaning = this.meanings.get(name);
      if (meaning === undefined || packets === 0) continue;
      const label = meaning.pod === undefined ? 'pending' : `${meaning.pod} ${String(meaning.direction)}`;
      out.set(label, (out.get(label) ?? 0) + packets);
    }
    return out;
  }
}
