// Installs flannel's masquerade/forward rules and puts them back when something removed them.
// Two implementations: iptables (*-restore --noflush) and nftables (nft -f -), both atomic, each
// for one family (the family is data: flannel-rules.ts RULE_FAMILIES). A dual-stack node gets one
// of each family in a FirewallSet, which the keeper checks and repairs as one.
import { FAMILIES, type IpFamily } from '../../subnet/ip-address.js';
import type { CommandRunner } from './command-runner.js';
import {
  forwardChain, iptablesProblems, iptablesRestoreScript, masqueradeChain, nftablesScript, ruleFamilyOf,
  type IptablesChain, type RuleFamily, type RuleInputs,
} from './flannel-rules.js';

/** The rules of one family. */
export interface FirewallOptions extends RuleInputs {
  masquerade: boolean;
  forwardRules: boolean;
}

export interface Firewall {
  readonly kind: 'iptables' | 'nftables';
  /** Installs the rules if anything differs; returns what was wrong (empty: nothing to do). */
  ensure(): Promise<string[]>;
}

export class IptablesFirewall implements Firewall {
  readonly kind = 'iptables';
  readonly family: IpFamily;
  private readonly tools: RuleFamily;
  private readonly chains: IptablesChain[];

  constructor(options: FirewallOptions, private readonly run: CommandRunner) {
    this.tools = ruleFamilyOf(options);
    this.family = options.network.family;
    this.chains = [
      ...(options.masquerade ? [masqueradeChain(options)] : []),
      ...(options.forwardRules ? [forwardChain(options)] : []),
    ];
  }

  async ensure(): Promise<string[]> {
    const problems: string[] = [];
    const missingJumps = new Set<string>();
    for (const chain of this.chains) {
      const saved = await this.run(this.tools.save, ['-t', chain.table]);
      const found = iptablesProblems(chain, saved);
      if (!saved.split('\n').map((l) => l.trim()).includes(chain.jump)) missingJumps.add(chain.jump);
      problems.push(...found);
    }
    if (problems.length > 0) {
      // -w: wait for the xtables lock other agents (kube-proxy) hold.
      await this.run(this.tools.restore, ['--noflush', '-w', '5'], iptablesRestoreScript(this.chains, missingJumps));
    }
    return problems;
  }
}

export class NftablesFirewall implements Firewall {
  readonly kind = 'nftables';
  readonly family: IpFamily;
  private readonly script: string;
  /** ["ip6", "flannel-ipv6"]: the table as `nft list table` names it. */
  private readonly table: [string, string];
  /** `nft list table` as it read right after our last install: any difference means tampering. */
  private installedListing: string | undefined;

  constructor(options: FirewallOptions, private readonly run: CommandRunner) {
    const { nftFamily, nftTable } = ruleFamilyOf(options);
    this.family = options.network.family;
    this.table = [nftFamily, nftTable];
    this.script = nftablesScript(options, options.forwardRules, options.masquerade);
  }

  async ensure(): Promise<string[]> {
    const listing = await this.list();
    if (listing !== undefined && listing === this.installedListing) return [];
    const name = `table ${this.table.join(' ')}`;
    const problem = listing === undefined ? `${name} missing` : `${name} differs from what weft installed`;
    await this.run('nft', ['-f', '-'], this.script);
    this.installedListing = await this.list();
    return [problem];
  }

  private async list(): Promise<string | undefined> {
    return this.run('nft', ['list', 'table', ...this.table]).catch(() => undefined);
  }
}

/**
 * The firewalls of every family the network has, checked and repaired together. Each member is
 * ensured even when another fails (one family's broken tool must not leave the other unrepaired);
 * the first failure is thrown afterwards. With more than one member, problems name their family.
 */
export class FirewallSet implements Firewall {
  readonly kind: 'iptables' | 'nftables';

  constructor(private readonly members: readonly (Firewall & { readonly family: IpFamily })[]) {
    const first = members[0];
    if (first === undefined) throw new RangeError('a FirewallSet needs at least one firewall');
    this.kind = first.kind;
  }

  async ensure(): Promise<string[]> {
    const labelled = this.members.length > 1;
    const problems: string[] = [];
    let failure: Error | undefined;
    // One after the other: the families' tools may share the xtables lock.
    for (const member of this.members) {
      try {
        const found = await member.ensure();
        problems.push(...found.map((p) => (labelled ? `${FAMILIES[member.family].label}: ${p}` : p)));
      } catch (err) {
        failure ??= err instanceof Error ? err : new Error(String(err));
      }
    }
    if (failure !== undefined) throw failure;
    return problems;
  }
}

/** One firewall per family given (IPv4 first, as flannel installs them), of the kind asked for. */
export function firewallForFamilies(perFamily: readonly FirewallOptions[], nftables: boolean, run: CommandRunner): FirewallSet {
  const ordered = [...perFamily].sort((a, b) => a.network.address.compare(b.network.address));
  return new FirewallSet(ordered.map((options) => (nftables ? new NftablesFirewall(options, run) : new IptablesFirewall(options, run))));
}
