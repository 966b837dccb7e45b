// flannel's masquerade and forward rules, as text. iptables rules are written exactly as
// `iptables -S` prints them, so the same strings serve to install (iptables-restore) and to check
// (iptables-save); the nftables rules are the same matches in nft syntax.
import type { IpPrefix } from '../../subnet/ip-prefix.js';

export const MASQ_CHAIN = 'FLANNEL-POSTRTG';
export const FORWARD_CHAIN = 'FLANNEL-FWD';
export const NFT_TABLE = 'flannel-ipv4';

export interface RuleInputs {
  network: IpPrefix;
  podSubnet: IpPrefix;
  /** MASQUERADE --random-fully (off with --ip-masq-fully-random-disable). */
  randomFully: boolean;
}

/** One iptables table's part: our chain, its rules, and the jump into it from a built-in chain. */
export interface IptablesChain {
  table: 'nat' | 'filter';
  chain: string;
  jump: string;
  rules: string[];
}

export function masqueradeChain({ network, podSubnet, randomFully }: RuleInputs): IptablesChain {
  const c = '-m comment --comment "flanneld masq"';
  const masquerade = randomFully ? '-j MASQUERADE --random-fully' : '-j MASQUERADE';
  const n = network.toString();
  const p = podSubnet.toString();
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
      `-A ${MASQ_CHAIN} -s ${n} ! -d 224.0.0.0/4 ${c} ${masquerade}`,
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
export function nftablesScript({ network, podSubnet, randomFully }: RuleInputs, forwardRules: boolean, masquerade: boolean): string {
  const n = network.toString();
  const p = podSubnet.toString();
  const t = `ip ${NFT_TABLE}`;
  const masq = randomFully ? 'masquerade fully-random' : 'masquerade';
  const lines = [`add table ${t}`];
  if (masquerade) {
    lines.push(
      `add chain ${t} postrtg { type nat hook postrouting priority srcnat ; }`,
      `flush chain ${t} postrtg`,
      `add rule ${t} postrtg meta mark & 0x4000 == 0x4000 return`,
      `add rule ${t} postrtg ip saddr ${p} ip daddr ${n} return`,
      `add rule ${t} postrtg ip saddr ${n} ip daddr ${p} return`,
      `add rule ${t} postrtg ip saddr != ${n} ip daddr ${p} return`,
      `add rule ${t} postrtg ip saddr ${n} ip daddr != 224.0.0.0/4 ${masq}`,
      `add rule ${t} postrtg ip saddr != ${n} ip daddr ${n} ${masq}`,
    );
  }
  if (forwardRules) {
    lines.push(
      `add chain ${t} forward { type filter hook forward priority filter ; }`,
      `flush chain ${t} forward`,
      `add rule ${t} forward ip saddr ${n} accept`,
      `add rule ${t} forward ip daddr ${n} accept`,
    );
  }
  return lines.join('\n') + '\n';
}
