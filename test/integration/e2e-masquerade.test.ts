// End to end: --ip-masq with iptables and with nftables. A host outside the pod network (on the
// underlay, with no route to the pods) can only answer a pod whose traffic its node masqueraded;
// pods keep their own source address towards each other. Rules deleted by hand come back, and a
// daemon restart leaves no gap in outside traffic.
import { jest } from '@jest/globals';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import { waitFor } from '../lab/netns.js';
import { sourceAddressSeen } from '../lab/udp-source.js';

jest.setTimeout(120_000);

const REPAIR_DEADLINE_MS = 2000;

describe.each([
  ['iptables', false],
  ['nftables', true],
])('masquerade with %s', (_name, nftables) => {
  let lab: LabCluster;
  let pods: LabPod[];
  let n1: LabNode;
  let outside: { ns: string; ip: string };
  const daemonArgs = ['--ip-masq', '--iptables-resync', '1'];

  beforeAll(async () => {
    lab = await LabCluster.create(nftables ? 'f' : 'i');
    await lab.startEtcd();
    await lab.writeNetworkConfig({ Network: '10.244.0.0/16', Backend: { Type: 'vxlan' }, EnableNFTables: nftables });
    for (let i = 1; i <= 2; i++) lab.startDaemon(await lab.addNode(i), daemonArgs);
    pods = [];
    for (const node of lab.nodes) pods.push(await lab.addPod(node));
    n1 = lab.nodes[0] as LabNode;
    outside = await lab.addOutsideHost();
    await waitFor('pods to reach each other', async () => ((await lab.ping(pods[0] as LabPod, (pods[1] as LabPod).ip, 1)) > 0 ? true : undefined), 15_000, 200);
  });
  afterAll(async () => {
    await lab.dispose();
  });

  const subnetOf = (pod: LabPod): string => `${pod.ip.split('.').slice(0, 3).join('.')}.0/24`;

  it('says FLANNEL_IPMASQ=true in subnet.env', async () => {
    expect(await lab.readSubnetEnv(n1)).toContain('FLANNEL_IPMASQ=true\n');
  });

  it('masquerades pod traffic to an outside host and keeps pod addresses between pods', async () => {
    const [p1, p2] = pods as [LabPod, LabPod];
    expect(await lab.ping(p1, outside.ip, 3)).toBeGreaterThan(0);
    expect(await sourceAddressSeen(lab.scope, p1.ns, outside)).toBe(n1.underlayIp);
    expect(await sourceAddressSeen(lab.scope, p1.ns, { ns: p2.ns, ip: p2.ip })).toBe(p1.ip);
  });

  if (!nftables) {
    it("installs flannel's exact iptables rules", async () => {
      const p = subnetOf(pods[0] as LabPod);
      const ours = (text: string): string[] => text.split('\n').filter((l) => /FLANNEL|flanneld/.test(l));
      const masq = '-m comment --comment "flanneld masq"';
      expect(ours(await lab.nodeExec(n1, 'iptables', ['-t', 'nat', '-S']))).toEqual([
        '-N FLANNEL-POSTRTG',
        `-A POSTROUTING ${masq} -j FLANNEL-POSTRTG`,
        `-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG -s ${p} -d 10.244.0.0/16 ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d ${p} ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d ${p} ${masq} -j RETURN`,
        `-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 ${masq} -j MASQUERADE --random-fully`,
        `-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 ${masq} -j MASQUERADE --random-fully`,
      ]);
      const fwd = '-m comment --comment "flanneld forward"';
      expect(ours(await lab.nodeExec(n1, 'iptables', ['-t', 'filter', '-S']))).toEqual([
        '-N FLANNEL-FWD',
        `-A FORWARD ${fwd} -j FLANNEL-FWD`,
        `-A FLANNEL-FWD -s 10.244.0.0/16 ${fwd} -j ACCEPT`,
        `-A FLANNEL-FWD -d 10.244.0.0/16 ${fwd} -j ACCEPT`,
      ]);
    });

    it.each([
      ['a flushed FLANNEL-POSTRTG', ['-t', 'nat', '-F', 'FLANNEL-POSTRTG']],
      ['a deleted POSTROUTING jump', ['-t', 'nat', '-D', 'POSTROUTING', '-m', 'comment', '--comment', 'flanneld masq', '-j', 'FLANNEL-POSTRTG']],
      ['a foreign rule in FLANNEL-POSTRTG', ['-t', 'nat', '-I', 'FLANNEL-POSTRTG', '1', '-s', '10.9.0.0/16', '-j', 'RETURN']],
      ['a flushed FLANNEL-FWD', ['-t', 'filter', '-F', 'FLANNEL-FWD']],
    ])('restores the rules after %s within 2 s', async (_what, args) => {
      const table = args[1] ?? 'nat';
      const before = await lab.nodeExec(n1, 'iptables', ['-t', table, '-S']);
      await lab.nodeExec(n1, 'iptables', args);
      const started = performance.now();
      await waitFor('the rules to be back', async () =>
        ((await lab.nodeExec(n1, 'iptables', ['-t', table, '-S'])) === before ? true : undefined), REPAIR_DEADLINE_MS, 50);
      expect(performance.now() - started).toBeLessThan(REPAIR_DEADLINE_MS);
      expect(await lab.countLogLines(n1, 'restored firewall rules')).toBeGreaterThan(0);
      expect(await sourceAddressSeen(lab.scope, (pods[0] as LabPod).ns, outside)).toBe(n1.underlayIp);
    });
  } else {
    it('installs the rules in table ip flannel-ipv4', async () => {
      const listing = await lab.nodeExec(n1, 'nft', ['list', 'table', 'ip', 'flannel-ipv4']);
      const p = subnetOf(pods[0] as LabPod);
      expect(listing).toContain('type nat hook postrouting priority srcnat');
      expect(listing).toContain(`ip saddr ${p} ip daddr 10.244.0.0/16 return`);
      expect(listing).toContain('ip saddr 10.244.0.0/16 ip daddr != 224.0.0.0/4 masquerade fully-random');
      expect(listing).toContain('type filter hook forward priority filter');
      expect(listing).toContain('ip saddr 10.244.0.0/16 accept');
      // iptables mode's chains are not there.
      expect(await lab.nodeExec(n1, 'iptables', ['-t', 'nat', '-S'])).not.toContain('FLANNEL');
    });

    it.each([
      ['a deleted table', ['delete', 'table', 'ip', 'flannel-ipv4']],
      ['a flushed postrtg chain', ['flush', 'chain', 'ip', 'flannel-ipv4', 'postrtg']],
    ])('restores the rules after %s within 2 s', async (_what, args) => {
      const before = await lab.nodeExec(n1, 'nft', ['list', 'table', 'ip', 'flannel-ipv4']);
      await lab.nodeExec(n1, 'nft', args);
      const started = performance.now();
      await waitFor('the table to be back', async () =>
        ((await lab.nodeExec(n1, 'nft', ['list', 'table', 'ip', 'flannel-ipv4']).catch(() => '')) === before ? true : undefined),
      REPAIR_DEADLINE_MS, 50);
      expect(performance.now() - started).toBeLessThan(REPAIR_DEADLINE_MS);
      expect(await sourceAddressSeen(lab.scope, (pods[0] as LabPod).ns, outside)).toBe(n1.underlayIp);
    });
  }

  it('keeps outside traffic flowing across a daemon restart', async () => {
    const p1 = pods[0] as LabPod;
    const pinging = lab.ping(p1, outside.ip, 40, 0.1, 1); // 4 s of pings
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await lab.stopDaemon(n1)).code).toBe(0);
    lab.startDaemon(n1, daemonArgs);
    expect(await pinging).toBeGreaterThanOrEqual(38);
    await lab.waitForSubnet(n1);
    expect(await sourceAddressSeen(lab.scope, p1.ns, outside)).toBe(n1.underlayIp);
  });
});
