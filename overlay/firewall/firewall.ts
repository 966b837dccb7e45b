// Installs flannel's masquerade/forward rules and puts them back when something removed them.
// Two implementations: iptables (iptables-restore --noflush) and nftables (nft -f -), both atomic.
import type { CommandRunner } from './command-runner.js';
import {
  forwardChain, iptablesProblems, iptablesRestoreScript, masqueradeChain, nftablesScript, NFT_TABLE,
  type IptablesChain, type RuleInputs,
} from './flannel-rules.js';

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
  private readonly chains: IptablesChain[];

  constructor(options: FirewallOptions, private readonly run: CommandRunner) {
    this.chains = [
      ...(options.masquerade ? [masqueradeChain(options)] : []),
      ...(options.forwardRules ? [forwardChain(options)] : []),
    ];
  }

  async ensure(): Promise<string[]> {
    const problems: string[] = [];
    const missingJumps = new Set<string>();
    for (const chain of this.chains) {
      const saved = await this.run('iptables-save', ['-t', chain.table]);
      const found = iptablesProblems(chain, saved);
      if (!saved.split('\n').map((l) => l.trim()).includes(chain.jump)) missingJumps.add(chain.jump);
      problems.push(...found);
    }
    if (problems.length > 0) {
      // -w: wait for the xtables lock other agents (kube-proxy) hold.
      await this.run('iptables-restore', ['--noflush', '-w', '5'], iptablesRestoreScript(this.chains, missingJumps));
    }
    return problems;
  }
}

export class NftablesFirewall implements Firewall {
  readonly kind = 'nftables';
  private readonly script: string;
  /** `nft list table` as it read right after our last install: any difference means tampering. */
  private installedListing: string | undefined;

  constructor(options: FirewallOptions, private readonly run: CommandRunner) {
    this.script = nftablesScript(options, options.forwardRules, options.masquerade);
  }

  async ensure(): Promise<string[]> {
    const listing = await this.list();
    if (listing !== undefined && listing === this.installedListing) return [];
    const problem = listing === undefined ? `table ip ${NFT_TABLE} missing` : `table ip ${NFT_TABLE} differs from what weft installed`;
    await this.run('nft', ['-f', '-'], this.script);
    this.installedListing = await this.list();
    return [problem];
  }

  private async list(): Promise<string | undefined> {
    return this.run('nft', ['list', 'table', 'ip', NFT_TABLE]).catch(() => undefined);
  }
}
