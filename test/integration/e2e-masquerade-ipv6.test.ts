// End to end, dual stack: weftd itself installs the masquerade rules of both families (ip6tables or
// table ip6 flannel-ipv6 beside the IPv4 ones). An outside host on the IPv6 underlay, with no route
// to the pods, sees a pod's IPv6 traffic from the node's IPv6 address, pods keep their own IPv6
// source towards each other, and an IPv6 rule deleted by hand comes back while IPv4 stays as it was.
import { jest } from '@jest/globals';
import { LabCluster, type LabNode, type LabPod } from '../lab/cluster.js';
import { waitFor } from '../lab/netns.js';
import { sourceAddressSeen } from '../lab/udp-source.js';

jest.setTimeout(120_000);

// A bound, not a benchmark: a check of both families runs four *-save/nft listings through
// `ip netns exec`, which took up to ~0.7 s at load 15 (see firewall-ipv6.test.ts).
const REPAIR_DEADLINE_MS = 15_000;
const NET_CONF = { Network: '10.244.0.0/16', EnableIPv6: true, IPv6Network: 'fd00:10:244::/56', Backend: { Type: 'vxlan' } };

describe.each([
  ['iptables', false],
  ['nftables', true],
])('dual-stack masquerade with %s', (_name, nftables) => {
  let lab: LabCluster;
  let n1: LabNode;
  let p1: LabPod;
  let p2: LabPod;
  let outside: { ns: string; ip: string; ipv6: string | undefined };
  const ipv6Of = (pod: LabPod): string => pod.ips.find((a) => a.includes(':')) ?? '';

  beforeAll(async () => {
    lab = await LabCluster.create(nftables ? 'g' : 'h', { ipv6: true });
    await lab.startEtcd();
    await lab.writeNetworkConfig({ ...NET_CONF, EnableNFTables: nftables });
    for (let i = 1; i <= 2; i++) lab.startDaemon(await lab.addNode(i), ['--ip-masq', '--iptables-resync', '1']);
    for (const node of lab.nodes) await lab.addPod(node);
    [p1, p2] = lab.pods as [LabPod, LabPod];
    n1 = lab.nodes[0] as LabNode;
    outside = await lab.addOutsideHost();
    await waitFor('pods to reach each other over IPv6', async () => ((await lab.ping(p1, ipv6Of(p2), 1)) > 0 ? true : undefined), 20_000, 200);
  });
  afterAll(async () => {
    await lab.dispose();
  });

  it('masquerades a pod\'s IPv6 and IPv4 traffic to the outside host behind the node\'s addresses', async () => {
    expect(ipv6Of(p1)).toMatch(/^fd00:10:244:/);
    expect(await sourceAddressSeen(lab.scope, p1.ns, { ns: outside.ns, ip: outside.ipv6 ?? '' })).toBe(n1.underlayIpv6);
    expect(await sourceAddressSeen(lab.scope, p1.ns, outside)).toBe(n1.underlayIp);
  });

  it('keeps the pod\'s own IPv6 address towards a pod on another node', async () => {
    expect(await sourceAddressSeen(lab.scope, p1.ns, { ns: p2.ns, ip: ipv6Of(p2) })).toBe(ipv6Of(p1));
  });

  const listing = (): Promise<string> => nftables
    ? lab.nodeExec(n1, 'nft', ['list', 'table', 'ip6', 'flannel-ipv6']).catch(() => '')
    : lab.nodeExec(n1, 'ip6tables', ['-t', 'nat', '-S']);
  const ipv4Listing = (): Promise<string> => nftables
    ? lab.nodeExec(n1, 'nft', ['list', 'table', 'ip', 'flannel-ipv4'])
    : lab.nodeExec(n1, 'iptables', ['-t', 'nat', '-S']);

  it('installs the IPv6 rules for the node\'s IPv6 subnet', async () => {
    const subnet = (await lab.readSubnetEnv(n1)).match(/^FLANNEL_IPV6_SUBNET=(\S+)::1\/(\d+)$/m);
    expect(subnet).not.toBeNull();
    const podSubnet = `${subnet?.[1] ?? ''}::/${subnet?.[2] ?? ''}`;
    const text = await listing();
    if (nftables) {
      expect(text).toContain(`ip6 saddr ${podSubnet} ip6 daddr fd00:10:244::/56 return`);
      expect(text).toContain('ip6 saddr fd00:10:244::/56 ip6 daddr != ff00::/8 masquerade fully-random');
    } else {
      expect(text).toContain(`-A FLANNEL-POSTRTG -s ${podSubnet} -d fd00:10:244::/56 -m comment --comment "flanneld masq" -j RETURN`);
      expect(text).toContain('-A FLANNEL-POSTRTG -s fd00:10:244::/56 ! -d ff00::/8 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully');
    }
  });

  it('puts a deleted IPv6 rule set back and leaves IPv4 as it was', async () => {
    const before = await listing();
    const ipv4Before = await ipv4Listing();
    const repairsBefore = await lab.countLogLines(n1, 'restored firewall rules');
    await (nftables
      ? lab.nodeExec(n1, 'nft', ['delete', 'table', 'ip6', 'flannel-ipv6'])
      : lab.nodeExec(n1, 'ip6tables', ['-t', 'nat', '-F', 'FLANNEL-POSTRTG']));
    // The daemon may repair before a listing here could catch the gap (resync 1 s, and a listing
    // through `ip netns exec` can take that long under load), so the proof is its repair log line.
    await waitFor('the daemon to restore its rules', async () =>
      ((await lab.countLogLines(n1, 'restored firewall rules')) > repairsBefore ? true : undefined), REPAIR_DEADLINE_MS, 50);
    await waitFor('the IPv6 rules to be back', async () => ((await listing()) === before ? true : undefined), REPAIR_DEADLINE_MS, 50);
    expect(await ipv4Listing()).toBe(ipv4Before);
    expect(await sourceAddressSeen(lab.scope, p1.ns, { ns: outside.ns, ip: outside.ipv6 ?? '' })).toBe(n1.underlayIpv6);
  });
});
