// IPv6 and dual stack: flannel's ip6tables text and `ip6 flannel-ipv6` table, and both families
// checked and repaired together. The IPv4 text is pinned in firewall.test.ts.
import { IpPrefix } from '../../subnet/ip-prefix.js';
import type { CommandRunner } from './command-runner.js';
import { firewallForFamilies, FirewallSet, IptablesFirewall, type Firewall, type FirewallOptions } from './firewall.js';
import { forwardChain, masqueradeChain, nftablesScript } from './flannel-rules.js';

function net(text: string): IpPrefix {
  const parsed = IpPrefix.parse(text);
  if (!parsed) throw new Error(text);
  return parsed;
}
const flags = { randomFully: true, masquerade: true, forwardRules: true };
const v4: FirewallOptions = { network: net('10.244.0.0/16'), podSubnet: net('10.244.7.0/24'), ...flags };
const v6: FirewallOptions = { network: net('fd00:10:244::/56'), podSubnet: net('fd00:10:244:7::/64'), ...flags };
const masq = '-m comment --comment "flanneld masq"';
const fwd = '-m comment --comment "flanneld forward"';

/** Fake iptables and ip6tables: each tool's tables as *-save text; restores recorded by tool. */
function fakeXtables(): { run: CommandRunner; restores: [string, string][]; tables: Record<string, string> } {
  const tables: Record<string, string> = {};
  const restores: [string, string][] = [];
  const run: CommandRunner = (cmd, args, input) => {
    const tool = cmd.replace(/-(save|restore)$/, '');
    if (cmd.endsWith('-save')) return Promise.resolve(tables[`${tool} ${args[1] ?? ''}`] ?? '');
    if (cmd.endsWith('-restore')) {
      restores.push([cmd, input ?? '']);
      // Record what was restored as the new table contents (our chains only; enough for the check).
      for (const part of (input ?? '').split('COMMIT').filter((p) => p.includes('*'))) {
        const table = /\*(\w+)/.exec(part)?.[1] ?? '';
        tables[`${tool} ${table}`] = `${tables[`${tool} ${table}`] ?? ''}\n${part}`;
      }
      return Promise.resolve('');
    }
    return Promise.reject(new Error(`unexpected ${cmd}`));
  };
  return { run, restores, tables };
}

describe('flannel IPv6 rule text', () => {
  it('masquerades the IPv6 network except to ff00::/8, exactly as flannel writes it', () => {
    expect(masqueradeChain(v6)).toEqual({
      table: 'nat',
      chain: 'FLANNEL-POSTRTG',
      jump: `-A POSTROUTING ${masq} -j FLANNEL-POSTRTG`,
      rules: [
        `-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG -s fd00:10:244:7::/64 -d fd00:10:244::/56 ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG -s fd00:10:244::/56 -d fd00:10:244:7::/64 ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG ! -s fd00:10:244::/56 -d fd00:10:244:7::/64 ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG -s fd00:10:244::/56 ! -d ff00::/8 ${masq} -j MASQUERADE --random-fully`,
        `-A FLANNEL-POSTRTG ! -s fd00:10:244::/56 -d fd00:10:244::/56 ${masq} -j MASQUERADE --random-fully`,
      ],
    });
    expect(forwardChain(v6).rules).toEqual([
      `-A FLANNEL-FWD -s fd00:10:244::/56 ${fwd} -j ACCEPT`,
      `-A FLANNEL-FWD -d fd00:10:244::/56 ${fwd} -j ACCEPT`,
    ]);
  });

  it('writes table ip6 flannel-ipv6 with ip6 matches', () => {
    expect(nftablesScript({ ...v6, randomFully: false }, true, true)).toBe([
      'add table ip6 flannel-ipv6',
      'add chain ip6 flannel-ipv6 postrtg { type nat hook postrouting priority srcnat ; }',
      'flush chain ip6 flannel-ipv6 postrtg',
      'add rule ip6 flannel-ipv6 postrtg meta mark & 0x4000 == 0x4000 return',
      'add rule ip6 flannel-ipv6 postrtg ip6 saddr fd00:10:244:7::/64 ip6 daddr fd00:10:244::/56 return',
      'add rule ip6 flannel-ipv6 postrtg ip6 saddr fd00:10:244::/56 ip6 daddr fd00:10:244:7::/64 return',
      'add rule ip6 flannel-ipv6 postrtg ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244:7::/64 return',
      'add rule ip6 flannel-ipv6 postrtg ip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade',
      'add rule ip6 flannel-ipv6 postrtg ip6 saddr != fd00:10:244::/56 ip6 daddr fd00:10:244::/56 masquerade',
      'add chain ip6 flannel-ipv6 forward { type filter hook forward priority filter ; }',
      'flush chain ip6 flannel-ipv6 forward',
      'add rule ip6 flannel-ipv6 forward ip6 saddr fd00:10:244::/56 accept',
      'add rule ip6 flannel-ipv6 forward ip6 daddr fd00:10:244::/56 accept',
      '',
    ].join('\n'));
  });

  it('refuses a pod subnet of the other family, naming both', () => {
    expect(() => masqueradeChain({ ...v6, podSubnet: net('10.244.7.0/24') })).toThrow(
      'pod subnet 10.244.7.0/24 is not of the family of network fd00:10:244::/56',
    );
  });
});

describe('dual-stack firewall', () => {
  it('installs IPv4 with iptables-restore and IPv6 with ip6tables-restore, then finds nothing to do', async () => {
    const fake = fakeXtables();
    const firewall = firewallForFamilies([v6, v4], false, fake.run);
    const problems = await firewall.ensure();
    expect(problems).toEqual([
      'IPv4: jump into FLANNEL-POSTRTG missing', 'IPv4: FLANNEL-POSTRTG rules differ', 'IPv4: jump into FLANNEL-FWD missing', 'IPv4: FLANNEL-FWD rules differ',
      'IPv6: jump into FLANNEL-POSTRTG missing', 'IPv6: FLANNEL-POSTRTG rules differ', 'IPv6: jump into FLANNEL-FWD missing', 'IPv6: FLANNEL-FWD rules differ',
    ]);
    expect(fake.restores.map(([cmd]) => cmd)).toEqual(['iptables-restore', 'ip6tables-restore']);
    expect(fake.restores[0]?.[1]).toContain('! -d 224.0.0.0/4');
    expect(fake.restores[1]?.[1]).toContain(`-A FLANNEL-POSTRTG -s fd00:10:244::/56 ! -d ff00::/8 ${masq} -j MASQUERADE --random-fully`);
    expect(fake.restores[1]?.[1]).not.toContain('10.244');
    expect(await firewall.ensure()).toEqual([]);
    expect(fake.restores).toHaveLength(2);
  });

  it('repairs only the family that lost a rule', async () => {
    const fake = fakeXtables();
    const firewall = firewallForFamilies([v4, v6], false, fake.run);
    await firewall.ensure();
    fake.tables['ip6tables nat'] = (fake.tables['ip6tables nat'] ?? '').replace(masqueradeChain(v6).jump, '');
    expect(await firewall.ensure()).toEqual(['IPv6: jump into FLANNEL-POSTRTG missing']);
    expect(fake.restores.map(([cmd]) => cmd)).toEqual(['iptables-restore', 'ip6tables-restore', 'ip6tables-restore']);
    expect(fake.restores[2]?.[1]).toContain(`${masqueradeChain(v6).jump}\nCOMMIT`);
  });

  it('names problems without a family when there is only one, as the IPv4-only daemon logs them', async () => {
    const single = firewallForFamilies([v4], false, fakeXtables().run);
    expect(await single.ensure()).toEqual([
      'jump into FLANNEL-POSTRTG missing', 'FLANNEL-POSTRTG rules differ', 'jump into FLANNEL-FWD missing', 'FLANNEL-FWD rules differ',
    ]);
    expect(new IptablesFirewall(v6, fakeXtables().run).family).toBe('ipv6');
  });

  it('uses table ip flannel-ipv4 and table ip6 flannel-ipv6 with nftables', async () => {
    const listed: string[] = [];
    const run: CommandRunner = (_cmd, args) => {
      if (args[0] === 'list') listed.push(args.slice(2).join(' '));
      return args[0] === 'list' ? Promise.reject(new Error('no such table')) : Promise.resolve('');
    };
    expect(await firewallForFamilies([v4, v6], true, run).ensure()).toEqual([
      'IPv4: table ip flannel-ipv4 missing', 'IPv6: table ip6 flannel-ipv6 missing',
    ]);
    expect(listed).toEqual(['ip flannel-ipv4', 'ip flannel-ipv4', 'ip6 flannel-ipv6', 'ip6 flannel-ipv6']);
  });

  it('still repairs the other family when one family fails, then reports the failure', async () => {
    const calls: string[] = [];
    const member = (family: 'ipv4' | 'ipv6', answer: string[] | Error): Firewall & { family: 'ipv4' | 'ipv6' } => ({
      kind: 'iptables',
      family,
      ensure: () => {
        calls.push(family);
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
    });
    const set = new FirewallSet([member('ipv4', new Error('iptables-save is not installed')), member('ipv6', ['FLANNEL-FWD rules differ'])]);
    await expect(set.ensure()).rejects.toThrow('iptables-save is not installed');
    expect(calls).toEqual(['ipv4', 'ipv6']);
    expect(() => new FirewallSet([])).toThrow(RangeError);
  });
});
