// IPv6 masquerade and forward rules with the real ip6tables-restore and nft, in namespaces built by
// hand (the firewall classes alone; e2e-masquerade-ipv6 has weftd install them): a pod namespace behind a node namespace on a dual-stack
// underlay (192.0.2.0/24, 2001:db8::/64) with an outside host that has no route to the pods. The
// node's firewall is installed for both families; the outside host must then see the pod's IPv6
// (and IPv4) traffic from the node's address, and a rule deleted by hand must come back.
import { jest } from '@jest/globals';
import winston from 'winston';
import type { CommandRunner } from '../../overlay/firewall/command-runner.js';
import { firewallForFamilies, type FirewallOptions, type FirewallSet } from '../../overlay/firewall/firewall.js';
import { FirewallKeeper } from '../../overlay/firewall/firewall-keeper.js';
import { IpPrefix } from '../../subnet/ip-prefix.js';
import { NetnsScope, run, waitFor } from '../lab/netns.js';
import { sourceAddressSeen } from '../lab/udp-source.js';

jest.setTimeout(60_000);

// The keeper checks every 100 ms; a check is four *-save runs through `ip netns exec` and the
// snapshot two more. 2 s (the daemon's bound in e2e-masquerade) was missed at load 11 on 2 cores.
// The keeper checks every 100 ms; one check of both families took up to ~0.7 s at load 15, and 5 s
// was missed at load 32 (two busy real-node clusters beside it). A bound, not a benchmark.
const REPAIR_DEADLINE_MS = 15_000;
const logger = winston.createLogger({ silent: true });
const POD = { ipv4: '10.244.7.2', ipv6: 'fd00:10:244:7::2' };
const NODE = { ipv4: '192.0.2.1', ipv6: '2001:db8::1' };
const OUTSIDE = { ipv4: '192.0.2.2', ipv6: '2001:db8::2' };

function net(text: string): IpPrefix {
  const parsed = IpPrefix.parse(text);
  if (!parsed) throw new Error(text);
  return parsed;
}
const flags = { randomFully: true, masquerade: true, forwardRules: true };
const perFamily: FirewallOptions[] = [
  { network: net('10.244.0.0/16'), podSubnet: net('10.244.7.0/24'), ...flags },
  { network: net('fd00:10:244::/56'), podSubnet: net('fd00:10:244:7::/64'), ...flags },
];

interface Lab {
  scope: NetnsScope;
  node: string;
  pod: string;
  outside: string;
}

/** pod --veth-- node --veth-- outside; only the node routes, and the outside host knows no pod route. */
async function buildLab(tag: string): Promise<Lab> {
  const scope = new NetnsScope();
  const lab = { scope, node: await scope.createNamespace(`${tag}n`), pod: await scope.createNamespace(`${tag}p`), outside: await scope.createNamespace(`${tag}o`) };
  const p = scope.prefix;
  await run('ip', ['link', 'add', `${p}vp`, 'netns', lab.pod, 'type', 'veth', 'peer', 'name', `${p}vn`, 'netns', lab.node]);
  await run('ip', ['link', 'add', `${p}vu`, 'netns', lab.node, 'type', 'veth', 'peer', 'name', `${p}vo`, 'netns', lab.outside]);
  // nodad: the addresses are usable at once instead of after duplicate address detection.
  await scope.ipBatch(lab.pod, [
    `link set ${p}vp name eth0`, 'link set eth0 up', `addr add ${POD.ipv4}/24 dev eth0`, `addr add ${POD.ipv6}/64 dev eth0 nodad`,
    'route add default via 10.244.7.1', 'route add default via fd00:10:244:7::1',
  ]);
  await scope.ipBatch(lab.node, [
    `link set ${p}vn name cni0`, 'link set cni0 up', 'addr add 10.244.7.1/24 dev cni0', 'addr add fd00:10:244:7::1/64 dev cni0 nodad',
    `link set ${p}vu name eth0`, 'link set eth0 up', `addr add ${NODE.ipv4}/24 dev eth0`, `addr add ${NODE.ipv6}/64 dev eth0 nodad`,
  ]);
  await scope.ipBatch(lab.outside, [
    `link set ${p}vo name eth0`, 'link set eth0 up', `addr add ${OUTSIDE.ipv4}/24 dev eth0`, `addr add ${OUTSIDE.ipv6}/64 dev eth0 nodad`,
  ]);
  await scope.exec(lab.node, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
  return lab;
}

const ours = (text: string): string[] => text.split('\n').filter((l) => /FLANNEL|flanneld/.test(l));

describe.each([
  ['iptables', false],
  ['nftables', true],
])('dual-stack firewall with %s in namespaces', (name, nftables) => {
  let lab: Lab;
  let firewall: FirewallSet;
  let nodeRun: CommandRunner;
  const exec = async (ns: string, cmd: string, args: string[]): Promise<string> => (await lab.scope.exec(ns, cmd, args)).stdout;
  const seenFromPod = (family: 'ipv4' | 'ipv6'): Promise<string | undefined> =>
    sourceAddressSeen(lab.scope, lab.pod, { ns: lab.outside, ip: OUTSIDE[family] });

  beforeAll(async () => {
    lab = await buildLab(nftables ? 'f6' : 'i6');
    nodeRun = async (cmd, args, input) => (await lab.scope.exec(lab.node, cmd, args, input)).stdout;
    firewall = firewallForFamilies(perFamily, nftables, nodeRun);
  });
  afterAll(async () => {
    await lab.scope.dispose();
  });

  it('lets pod traffic out with the pod address before the rules are in (the outside host would not answer it)', async () => {
    expect(await seenFromPod('ipv6')).toBe(POD.ipv6);
    expect(await seenFromPod('ipv4')).toBe(POD.ipv4);
  });

  it(`installs both families with ${name}, then finds nothing to do`, async () => {
    const problems = await firewall.ensure();
    expect(problems.filter((p) => p.startsWith('IPv4: ')).length).toBeGreaterThan(0);
    expect(problems.filter((p) => p.startsWith('IPv6: ')).length).toBeGreaterThan(0);
    expect(await firewall.ensure()).toEqual([]);
  });

  it('masquerades IPv6 (and IPv4) pod traffic to the outside host behind the node address', async () => {
    expect(await seenFromPod('ipv6')).toBe(NODE.ipv6);
    expect(await seenFromPod('ipv4')).toBe(NODE.ipv4);
  });

  if (!nftables) {
    it("installs flannel's exact ip6tables rules, beside the unchanged IPv4 ones", async () => {
      const masq = '-m comment --comment "flanneld masq"';
      const fwd = '-m comment --comment "flanneld forward"';
      const [n, p] = ['fd00:10:244::/56', 'fd00:10:244:7::/64'];
      expect(ours(await exec(lab.node, 'ip6tables', ['-t', 'nat', '-S']))).toEqual([
        '-N FLANNEL-POSTRTG',
        `-A POSTROUTING ${masq} -j FLANNEL-POSTRTG`,
        `-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG -s ${p} -d ${n} ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG -s ${n} -d ${p} ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG ! -s ${n} -d ${p} ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG -s ${n} ! -d ff00::/8 ${masq} -j MASQUERADE --random-fully`,
        `-A FLANNEL-POSTRTG ! -s ${n} -d ${n} ${masq} -j MASQUERADE --random-fully`,
      ]);
      expect(ours(await exec(lab.node, 'ip6tables', ['-t', 'filter', '-S']))).toEqual([
        '-N FLANNEL-FWD',
        `-A FORWARD ${fwd} -j FLANNEL-FWD`,
        `-A FLANNEL-FWD -s ${n} ${fwd} -j ACCEPT`,
        `-A FLANNEL-FWD -d ${n} ${fwd} -j ACCEPT`,
      ]);
      const ipv4 = ours(await exec(lab.node, 'iptables', ['-t', 'nat', '-S']));
      expect(ipv4).toContain(`-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 ${masq} -j MASQUERADE --random-fully`);
      expect(ipv4.join('\n')).not.toContain('fd00');
    });
  } else {
    it('installs table ip6 flannel-ipv6 beside table ip flannel-ipv4', async () => {
      const listing = await exec(lab.node, 'nft', ['list', 'table', 'ip6', 'flannel-ipv6']);
      expect(listing).toContain('type nat hook postrouting priority srcnat');
      expect(listing).toContain('ip6 saddr fd00:10:244:7::/64 ip6 daddr fd00:10:244::/56 return');
      expect(listing).toContain('ip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade fully-random');
      expect(listing).toContain('type filter hook forward priority filter');
      expect(listing).toContain('ip6 daddr fd00:10:244::/56 accept');
      expect(await exec(lab.node, 'nft', ['list', 'table', 'ip', 'flannel-ipv4'])).toContain('ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random');
    });
  }

  const breakages: [string, string, string[]][] = nftables
    ? [
      ['a deleted ip6 table', 'nft', ['delete', 'table', 'ip6', 'flannel-ipv6']],
      ['a flushed ip6 postrtg chain', 'nft', ['flush', 'chain', 'ip6', 'flannel-ipv6', 'postrtg']],
    ]
    : [
      ['a deleted IPv6 POSTROUTING jump', 'ip6tables', ['-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'flanneld masq', '-j', 'FLANNEL-POSTRTG']],
      ['a flushed IPv6 FLANNEL-POSTRTG', 'ip6tables', ['-t', 'nat', '-F', 'FLANNEL-POSTRTG']],
      ['a foreign rule in IPv6 FLANNEL-FWD', 'ip6tables', ['-t', 'filter', '-I', 'FLANNEL-FWD', '1', '-s', 'fd00:99::/64', '-j', 'RETURN']],
    ];

  it.each(breakages)('restores the IPv6 rules after %s within 15 s, leaving IPv4 alone', async (_what, tool, args) => {
    const snapshot = async (): Promise<string> => nftables
      ? await exec(lab.node, 'nft', ['list', 'ruleset'])
      : `${await exec(lab.node, 'ip6tables-save', [])}${await exec(lab.node, 'iptables-save', [])}`.replace(/^#.*$|\[\d+:\d+\]/gm, '');
    const before = await snapshot();
    const keeper = new FirewallKeeper(firewall, 100, logger);
    const repairs: string[][] = [];
    keeper.onRepair((problems) => repairs.push(problems));
    const stop = new AbortController();
    const running = keeper.run(stop.signal);
    try {
      await exec(lab.node, tool, args);
      const started = performance.now();
      await waitFor('the rules to be back', async () => ((await snapshot()) === before ? true : undefined), REPAIR_DEADLINE_MS, 100)
        .catch((err: unknown) => { throw new Error(`${(err as Error).message}; keeper status ${JSON.stringify(keeper.status)}`); });
      expect(performance.now() - started).toBeLessThan(REPAIR_DEADLINE_MS);
    } finally {
      stop.abort();
      await running;
    }
    expect(repairs.length).toBeGreaterThan(0);
    expect(repairs.flat().every((p) => p.startsWith('IPv6: '))).toBe(true);
    expect(keeper.status.lastError).toBeUndefined();
    expect(await seenFromPod('ipv6')).toBe(NODE.ipv6);
  });
});
