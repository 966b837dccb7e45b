// flannel's masquerade and forward rules, as text, for either family. iptables rules are written
// exactly as `iptables -S` / `ip6tables -S` print them, so the same strings serve to install
// (*-restore) and to check (*-save); the nftables rules are the same matches in nft syntax. The two
// families differ only in the data below (flannel's pkg/trafficmngr: same chains, same comments,
// ff00::/8 in place of 224.0.0.0/4, table ip6 flannel-ipv6 in place of ip flannel-ipv4).
import type { IpFamily } from '../../subnet/ip-address.js';
import type { IpPrefix } from '../../subnet/ip-prefix.js';

export const MASQ_CHAIN = 'FLANNEL-POSTRTG';
export const FORWARD_CHAIN = 'FLANNEL-FWD';

/** What a family changes in the rules and in the tools that install them. */
export interface RuleFamily {
  save: 'iptables-save' | 'ip6tables-save';
  restore: 'iptables-restore' | 'ip6tables-restore';
  /** nft's address family, also the match keyword (`ip saddr`, `ip6 saddr`). */
  nftFamily: 'ip' | 'ip6';
  nftTable: 'flannel-ipv4' | 'flannel-ipv6';
  /** Multicast is never masqueraded. */
  multicast: string;
}

export const RULE_FAMILIES: Readonly<Record<IpFamily, RuleFamily>> = {
  ipv4: { save: 'iptables-save', restore: 'iptables-restore', nftFamily: 'ip', nftTable: 'flannel-ipv4', multicast: '224.0.0.0/4' },
  ipv6: { save: 'ip6tables-save', restore: 'ip6tables-restore', nftFamily: 'ip6', nftTable: 'flannel-ipv6', multicast: 'ff00::/8' },
};

export interface RuleInputs {
  /** The cluster network of one family (Network or IPv6Network). */
  network: IpPrefix;
  /** This node's subnet of the same family. */
  podSubnet: IpPrefix;
  /** MASQUERADE --random-fully (off with --ip-masq-fully-random-disable). */
  randomFully: boolean;
}

/** The family the inputs are for; both prefixes must be of it. */
export function ruleFamilyOf({ network, podSubnet }: Pick<RuleInputs, 'network' | 'podSubnet'>): RuleFamily {
  if (podSubnet.family !== network.family) {
    throw new TypeError(`pod subnet ${podSubnet.toString()} is not of the family of network ${network.toString()}`);
  }
  return RULE_FAMILIES[network.family];
}

/** One iptables table's part: our chain, its rules, and the jump into it from a built-in chain. */
export interface IptablesChain {
  table: 'nat' | 'filter';
  chain: string;
  jump: string;
  rules: string[];
}

export function masqueradeChain(inputs: RuleInputs): IptablesChain {
  const { multicast } = ruleFamilyOf(inputs);
  const c = '-m comment --comment "flanneld masq"';
  const masquerade = inputs.randomFully ? '-j MASQUERADE --random-fully' : '-j MASQUERADE';
  const n = inputs.network.toString();
  const p = inputs.podSubnet.toString();
  return {
    table: 'nat',
    chain: MASQ_CHAIN,
    jump: `-A POSTROUTING ${c} -j ${MASQ_CHAIN}`,
    rules: [
      // kube-proxy marks traffic it wants masqueraded itself.
      `-A ${MASQ_CHAIN} -m mark --mark 0x4000/0x4000 ${c} -j RETURN`,
      `-A ${MASQ_CHAIN} -s ${p} -d ${n} ${c} -j RETURN`,
      `-A ${MASQ_CHAIN} -s ${n} -d ${p} ${c} -j RETURN`,
      `-A ${MASQ_CHAIN} ! -s ${n} -d ${p} ${c} -j RETURN`,
      `-A ${MASQ_CHAIN} -s ${n} ! -d ${multicast} ${c} ${masquerade}`,
      `-A ${MASQ_CHAIN} ! -s ${n} -d ${n} ${c} ${masquerade}`,
    ],
  };
}

export function forwardChain({ network }: Pick<RuleInputs, 'network'>): IptablesChain {
  const c = '-m comment --comment "flanneld forward"';
  const n = network.toString();
  return {
    table: 'filter',
    chain: FORWARD_CHAIN,
    jump: `-A FORWARD ${c} -j ${FORWARD_CHAIN}`,
    rules: [`-A ${FORWARD_CHAIN} -s ${n} ${c} -j ACCEPT`, `-A ${FORWARD_CHAIN} -d ${n} ${c} -j ACCEPT`],
  };
}

/**
 * An iptables-restore --noflush script that replaces our chains' contents in one commit per table
 * (declaring a chain flushes it), so there is never a moment without the rules, and adds a jump
 * only where `iptables-save` showed it missing.
 */
export function iptablesRestoreScript(chains: IptablesChain[], missingJumps: ReadonlySet<string>): string {
  const out: string[] = [];
  for (const table of ['nat', 'filter'] as const) {
    const inTable = chains.filter((c) => c.table === table);
    if (inTable.length === 0) continue;
    out.push(`*${table}`);
    for (const c of inTable) out.push(`:${c.chain} - [0:0]`);
    for (const c of inTable) out.push(...c.rules);
    for (const c of inTable) if (missingJumps.has(c.jump)) out.push(c.jump);
    out.push('COMMIT');
  }
  return out.join('\n') + '\n';
}

/** What is wrong with one chain in `iptables-save -t <table>` output; empty when all is in place. */
export function iptablesProblems(chain: IptablesChain, saved: string): string[] {
  const lines = saved.split('\n').map((l) => l.trim());
  const problems: string[] = [];
  if (!lines.includes(chain.jump)) problems.push(`jump into ${chain.chain} missing`);
  const actual = lines.filter((l) => l.startsWith(`-A ${chain.chain} `));
  if (actual.join('\n') !== chain.rules.join('\n')) problems.push(`${chain.chain} rules differ`);
  return problems;
}

/** The nft script that creates our table if needed and replaces our chains' rules in one transaction. */
export function nftablesScript(inputs: RuleInputs, forwardRules: boolean, masquerade: boolean): string {
  const { nftFamily: f, nftTable, multicast } = ruleFamilyOf(inputs);
  const n = inputs.network.toString();
  const p = inputs.podSubnet.toString();
  const t = `${f} ${nftTable}`;
  const masq = inputs.randomFully ? 'masquerade fully-random' : 'masquerade';
  const lines = [`add table ${t}`];
  if (masquerade) {
    lines.push(
      `add chain ${t} postrtg { type nat hook postrouting priority srcnat ; }`,
      `flush chain ${t} postrtg`,
      `add rule ${t} postrtg meta mark & 0x4000 == 0x4000 return`,
      `add rule ${t} postrtg ${f} saddr ${p} ${f} daddr ${n} return`,
      `add rule ${t} postrtg ${f} saddr ${n} ${f} daddr ${p} return`,
      `add rule ${t} postrtg ${f} saddr != ${n} ${f} daddr ${p} return`,
      `add rule ${t} postrtg ${f} saddr ${n} ${f} daddr != ${multicast} ${masq}`,
      `add rule ${t} postrtg ${f} saddr != ${n} ${f} daddr ${n} ${masq}`,
    );
  }
  if (forwardRules) {
    lines.push(
      `add chain ${t} forward { type filter hook forward priority filter ; }`,
      `flush chain ${t} forward`,
      `add rule ${t} forward ${f} saddr ${n} accept`,
      `add rule ${t} forward ${f} daddr ${n} accept`,
    );
  }
  return lines.join('\n') + '\n';
}
