import winston from 'winston';
import { IpPrefix } from '../../subnet/ip-prefix.js';
import type { CommandRunner } from './command-runner.js';
import { IptablesFirewall, NftablesFirewall, type Firewall, type FirewallOptions } from './firewall.js';
import { FirewallKeeper } from './firewall-keeper.js';
import { iptablesProblems, iptablesRestoreScript, masqueradeChain, nftablesScript } from './flannel-rules.js';

const logger = winston.createLogger({ silent: true });
function net(text: string): IpPrefix {
  const parsed = IpPrefix.parse(text);
  if (!parsed) throw new Error(text);
  return parsed;
}
const options: FirewallOptions = {
  network: net('10.244.0.0/16'),
  podSubnet: net('10.244.7.0/24'),
  randomFully: true,
  masquerade: true,
  forwardRules: true,
};

/** A fake iptables: a nat and a filter table as iptables-save text; restore records its input. */
function fakeIptables(tables: Record<string, string>): { run: CommandRunner; restores: string[] } {
  const restores: string[] = [];
  const run: CommandRunner = (cmd, args, input) => {
    if (cmd === 'iptables-save') return Promise.resolve(tables[args[1] ?? ''] ?? '');
    if (cmd === 'iptables-restore') {
      restores.push(input ?? '');
      return Promise.resolve('');
    }
    return Promise.reject(new Error(`unexpected ${cmd}`));
  };
  return { run, restores };
}

describe('flannel rule text', () => {
  it('masquerades without --random-fully when that is disabled', () => {
    const rules = masqueradeChain({ ...options, randomFully: false }).rules;
    expect(rules[4]).toBe('-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE');
    expect(rules.join('\n')).not.toContain('random-fully');
  });

  it('declares each chain in the restore script (which flushes it) and adds only missing jumps', () => {
    const chain = masqueradeChain(options);
    const script = iptablesRestoreScript([chain], new Set());
    expect(script.split('\n').slice(0, 2)).toEqual(['*nat', ':FLANNEL-POSTRTG - [0:0]']);
    expect(script).not.toContain('-A POSTROUTING');
    expect(script.trimEnd().endsWith('COMMIT')).toBe(true);
    expect(iptablesRestoreScript([chain], new Set([chain.jump]))).toContain(`${chain.jump}\nCOMMIT`);
  });

  it('finds a missing jump, missing rules, rules of an older subnet and foreign rules', () => {
    const chain = masqueradeChain(options);
    const good = ['*nat', ':FLANNEL-POSTRTG - [0:0]', chain.jump, ...chain.rules, 'COMMIT'].join('\n');
    expect(iptablesProblems(chain, good)).toEqual([]);
    expect(iptablesProblems(chain, good.replace(chain.jump, ''))).toEqual(['jump into FLANNEL-POSTRTG missing']);
    expect(iptablesProblems(chain, good.replace(chain.rules[2] ?? '', ''))).toEqual(['FLANNEL-POSTRTG rules differ']);
    expect(iptablesProblems(chain, good.replaceAll('10.244.7.0/24', '10.244.9.0/24'))).toEqual(['FLANNEL-POSTRTG rules differ']);
    expect(iptablesProblems(chain, `${good}\n-A FLANNEL-POSTRTG -s 10.9.0.0/16 -j RETURN`)).toEqual(['FLANNEL-POSTRTG rules differ']);
  });

  it('writes one nft transaction that creates the table and refills only the chains asked for', () => {
    const script = nftablesScript(options, false, true);
    expect(script).toContain('add table ip flannel-ipv4\n');
    expect(script).toContain('flush chain ip flannel-ipv4 postrtg\n');
    expect(script).toContain('masquerade fully-random');
    expect(script).not.toContain('forward');
  });
});

describe('IptablesFirewall', () => {
  it('restores nothing when every rule is in place, and both tables when all are missing', async () => {
    const empty = fakeIptables({ nat: '*nat\nCOMMIT\n', filter: '*filter\nCOMMIT\n' });
    const firewall = new IptablesFirewall(options, empty.run);
    expect(await firewall.ensure()).toEqual([
      'jump into FLANNEL-POSTRTG missing', 'FLANNEL-POSTRTG rules differ', 'jump into FLANNEL-FWD missing', 'FLANNEL-FWD rules differ',
    ]);
    const [script] = empty.restores;
    expect(script).toContain('*nat\n:FLANNEL-POSTRTG - [0:0]');
    expect(script).toContain('*filter\n:FLANNEL-FWD - [0:0]');

    // Feed the installed text back as the tables' content: nothing more to do.
    const nat = (script ?? '').split('*filter')[0] ?? '';
    const filter = `*filter${(script ?? '').split('*filter')[1] ?? ''}`;
    const full = fakeIptables({ nat, filter });
    expect(await new IptablesFirewall(options, full.run).ensure()).toEqual([]);
    expect(full.restores).toEqual([]);
  });

  it('only manages the forward chain without --ip-masq', async () => {
    const fake = fakeIptables({});
    await new IptablesFirewall({ ...options, masquerade: false }, fake.run).ensure();
    expect(fake.restores[0]).not.toContain('nat');
  });
});

describe('NftablesFirewall', () => {
  it('installs when the table is missing or differs, and leaves it alone when unchanged', async () => {
    let table: string | undefined;
    const scripts: string[] = [];
    const run: CommandRunner = (_cmd, args, input) => {
      if (args[0] === 'list') return table === undefined ? Promise.reject(new Error('no such table')) : Promise.resolve(table);
      scripts.push(input ?? '');
      table = 'table ip flannel-ipv4 { ... }';
      return Promise.resolve('');
    };
    const firewall = new NftablesFirewall(options, run);
    expect(await firewall.ensure()).toEqual(['table ip flannel-ipv4 missing']);
    expect(await firewall.ensure()).toEqual([]);
    table = 'table ip flannel-ipv4 { tampered }';
    expect(await firewall.ensure()).toEqual(['table ip flannel-ipv4 differs from what weft installed']);
    expect(scripts).toHaveLength(2);
  });
});

describe('FirewallKeeper', () => {
  it('counts repairs, records failures and keeps checking until stopped', async () => {
    const answers: (string[] | Error)[] = [[], ['jump into FLANNEL-POSTRTG missing'], new Error('xtables lock busy'), []];
    let calls = 0;
    const firewall: Firewall = {
      kind: 'iptables',
      ensure: () => {
        const answer = answers[Math.min(calls++, answers.length - 1)] ?? [];
        return answer instanceof Error ? Promise.reject(answer) : Promise.resolve(answer);
      },
    };
    const keeper = new FirewallKeeper(firewall, 5, logger);
    const repaired: string[][] = [];
    keeper.onRepair((problems) => repaired.push(problems));
    await keeper.install();
    const controller = new AbortController();
    const running = keeper.run(controller.signal);
    for (let i = 0; i < 200 && calls < 6; i++) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    await running;
    expect(calls).toBeGreaterThanOrEqual(4);
    expect(keeper.status.installed).toBe(true);
    expect(keeper.status.repairs).toBe(1);
    expect(repaired).toEqual([['jump into FLANNEL-POSTRTG missing']]);
  });

  it('fails start-up when the tool is missing', async () => {
    const firewall = new IptablesFirewall(options, () => Promise.reject(new Error('iptables-save is not installed')));
    await expect(new FirewallKeeper(firewall, 1000, logger).install()).rejects.toThrow('iptables-save is not installed');
  });
});
