// The datapath probe over ICMPv6 with the real kernel: two namespaces joined by a veth on a
// dual-stack underlay (192.0.2.0/24, 2001:db8::/64). A process inside one of them opens the raw
// ICMP and ICMPv6 sockets, pings by family, then probes a dual-stack host-gw peer (its public IPv4
// and IPv6 addresses). Removing the peer's IPv6 address breaks only the IPv6 target. The peer also
// has what a vxlan node has (flannel-v6.1 holding its subnet's address as a /128, cni0 with the
// gateway, forwarding on), so that the vxlan target, which is then an anycast address, is pinged too.
import type { ProbeSummary } from '../../overlay/observability/probe-book.js';
import { NetnsScope, run, waitFor } from '../lab/netns.js';
import { distModule, startProbeProcess } from '../lab/probe-process.js';

const T = 60_000;

// Prints one {"direct": ...} line (single pings by family) before the probe starts.
const SETUP = `
import { IcmpPinger } from ${distModule('overlay/observability/icmp-pinger.js')};
import { DatapathProbe } from ${distModule('overlay/observability/datapath-probe.js')};
import { IpAddress } from ${distModule('subnet/ip-address.js')};
import { IpPrefix } from ${distModule('subnet/ip-prefix.js')};
const onError = (err) => console.error(err.message);
const ipv4Only = IcmpPinger.open(onError);
const refused = await ipv4Only.ping(IpAddress.parse('2001:db8::2'), 500).then(() => 'no error', (err) => err.message);
ipv4Only.close();
const pinger = IcmpPinger.open(onError, ['ipv4', 'ipv6']);
const rtt = async (text) => (await pinger.ping(IpAddress.parse(text), 1000)) ?? null;
console.log(JSON.stringify({ direct: {
  ipv6: await rtt('2001:db8::2'), ipv4: await rtt('192.0.2.2'), ipv6Absent: await rtt('2001:db8::99'), refused,
  vxlanSubnet: await rtt('fd00:10:244:3::'),
} }));
const probe = new DatapathProbe(pinger, { ratePerSecond: 20, timeoutMs: 300, brokenAfter: 3, windowSize: 10, families: ['ipv4', 'ipv6'] });
probe.setPeers([{
  subnet: IpPrefix.parse('10.244.2.0/24'), publicIp: IpAddress.parse('192.0.2.2'), backendType: 'host-gw',
  ipv6Subnet: IpPrefix.parse('fd00:10:244:2::/64'), publicIpv6: IpAddress.parse('2001:db8::2'),
}], 'host-gw');
`;

interface Direct { ipv6: number | null; ipv4: number | null; ipv6Absent: number | null; refused: string; vxlanSubnet: number | null }

describe('datapath probe over raw ICMPv6 in namespaces', () => {
  it('pings IPv6 and IPv4 by family and reports only the IPv6 target broken when its address is gone', async () => {
    const scope = new NetnsScope();
    try {
      const a = await scope.createNamespace('6a');
      const b = await scope.createNamespace('6b');
      await run('ip', ['link', 'add', `${scope.prefix}va`, 'netns', a, 'type', 'veth', 'peer', 'name', `${scope.prefix}vb`, 'netns', b]);
      await scope.ipBatch(a, [`link set ${scope.prefix}va name eth0`, 'addr add 192.0.2.1/24 dev eth0', 'addr add 2001:db8::1/64 dev eth0 nodad', 'link set eth0 up']);
      await scope.ipBatch(b, [`link set ${scope.prefix}vb name eth0`, 'addr add 192.0.2.2/24 dev eth0', 'addr add 2001:db8::2/64 dev eth0 nodad', 'link set eth0 up']);
      // In the order a node has them: forwarding on, a pod's gateway on cni0, then weft's device.
      await scope.exec(b, 'sysctl', ['-q', '-w', 'net.ipv6.conf.all.forwarding=1']);
      await scope.ipBatch(b, [
        'link add cni0 type bridge', 'addr add fd00:10:244:3::1/64 dev cni0 nodad', 'link set cni0 up',
        'link add flannel-v6.1 type vxlan id 1 local 2001:db8::2 dstport 8472 nolearning', 'addr add fd00:10:244:3::/128 dev flannel-v6.1 nodad',
        'link set flannel-v6.1 up',
      ]);
      expect((await scope.exec(b, 'ip', ['-6', 'route', 'show', 'table', 'local'])).stdout).toContain('anycast fd00:10:244:3:: dev cni0');
      await scope.exec(a, 'ip', ['route', 'add', 'fd00:10:244:3::/64', 'via', '2001:db8::2']);

      // Right after the links come up the first IPv6 packet waits about 1 s for neighbour discovery:
      // let iputils' ping see the underlay answer first, so that the single pings below are not that one.
      await waitFor('the IPv6 underlay to answer', async () =>
        ((await scope.exec(a, 'ping', ['-6', '-c', '1', '-W', '1', '2001:db8::2']).catch(() => undefined)) ? true : undefined), 10_000, 100);

      const prober = startProbeProcess(scope, a, SETUP, 30_000);
      const alive = (): void => { prober.assertAlive(); };
      const latest = (): ProbeSummary | undefined => prober.latest();

      const pings = await waitFor('the single pings', () => (alive(), (prober.others[0] as { direct: Direct } | undefined)?.direct), 10_000, 50);
      expect(pings.ipv6).toBeGreaterThan(0);
      expect(pings.ipv4).toBeGreaterThan(0);
      expect(pings.ipv6Absent).toBeNull();
      expect(pings.refused).toBe('cannot ping 2001:db8::2: no IPv6 socket was opened');
      // Answered from 2001:db8::2, as the kernel answers an echo to an anycast address.
      expect(pings.vxlanSubnet).toBeGreaterThan(0);

      const byPeer = (summary: ProbeSummary | undefined, peer: string): ProbeSummary['worst'][number] | undefined =>
        summary?.worst.find((r) => r.peer === peer);
      const healthy = await waitFor('replies over both families', () => {
        alive();
        const both = ['10.244.2.0/24', 'fd00:10:244:2::/64'].map((peer) => byPeer(latest(), peer));
        return both.every((r) => r && r.sent >= 5) ? latest() : undefined;
      }, 10_000, 100);
      expect(healthy.peers).toBe(2);
      expect(healthy.broken).toEqual([]);
      expect(healthy.lossRatio).toBe(0);
      expect(byPeer(healthy, 'fd00:10:244:2::/64')).toMatchObject({ address: '2001:db8::2', lost: 0 });
      expect(byPeer(healthy, 'fd00:10:244:2::/64')?.lastRttMs).toBeGreaterThan(0);

      await scope.exec(b, 'ip', ['addr', 'del', '2001:db8::2/64', 'dev', 'eth0']);
      const broken = await waitFor('the IPv6 target to be broken', () => { alive(); const now = latest(); return now && now.broken.length > 0 ? now : undefined; }, 10_000, 100);
      expect(broken.broken.map((r) => [r.peer, r.address])).toEqual([['fd00:10:244:2::/64', '2001:db8::2']]);
      expect(byPeer(broken, '10.244.2.0/24')?.consecutiveTimeouts).toBe(0);

      await scope.exec(b, 'ip', ['addr', 'add', '2001:db8::2/64', 'dev', 'eth0', 'nodad']);
      await waitFor('the IPv6 target to recover after one reply', () => (alive(), latest()?.broken.length === 0 ? true : undefined), 10_000, 100);
    } finally {
      await scope.dispose();
    }
    expect((await run('ip', ['netns', 'list'])).stdout).not.toContain(scope.prefix);
  }, T);
});
