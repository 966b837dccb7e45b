import type { IpAddress } from '../../subnet/ip-address.js';
import type { Lease } from '../../subnet/lease.js';
import { ip, net } from '../../test/addresses.js';
import { DatapathProbe, probeTargetsOf, type ProbeClock } from './datapath-probe.js';
import type { Pinger } from './icmp-pinger.js';

function lease(subnet: string, publicIp: string, backendType = 'vxlan', ipv6?: { subnet: string; publicIp: string }): Lease {
  return {
    subnet: net(subnet), publicIp: ip(publicIp), backendType, backendData: backendType === 'vxlan' ? { vni: 1, vtepMac: '02:00:00:00:00:01' } : undefined,
    ...(ipv6 && { ipv6Subnet: net(ipv6.subnet), publicIpv6: ip(ipv6.publicIp) }),
  };
}

/** A clock whose sleeps only advance fake time (and yield, so that pings settle). */
class FakeClock implements ProbeClock {
  nowMs = 0;
  sleeps: number[] = [];
  now(): Date {
    return new Date(this.nowMs);
  }
  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.nowMs += ms;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** Answers addresses in `up` after 1 ms; times out on the rest. */
class FakePinger implements Pinger {
  readonly up = new Set<string>();
  readonly pinged: string[] = [];
  ping(address: IpAddress): Promise<number | undefined> {
    this.pinged.push(address.toString());
    return Promise.resolve(this.up.has(address.toString()) ? 1 : undefined);
  }
  close(): void {}
}

describe('probeTargetsOf', () => {
  it('probes the subnet address (the peer VTEP) for vxlan and the public IP for host-gw', () => {
    expect(probeTargetsOf(lease('10.244.3.0/24', '192.0.2.3'))).toEqual([{ peer: '10.244.3.0/24', address: ip('10.244.3.0') }]);
    expect(probeTargetsOf(lease('10.244.4.0/24', '192.0.2.4', 'host-gw'))).toEqual([{ peer: '10.244.4.0/24', address: ip('192.0.2.4') }]);
    expect(probeTargetsOf(lease('10.244.5.0/24', '192.0.2.5', 'udp'))).toEqual([]);
  });

  it('probes only the IPv6 half of an IPv6-only lease', () => {
    const v6Only = (backendType: string): Lease => ({ ipv6Subnet: net('fd00:10:244:6::/64'), publicIpv6: ip('2001:db8::6'), backendType });
    expect(probeTargetsOf(v6Only('vxlan'))).toEqual([{ peer: 'fd00:10:244:6::/64', address: ip('fd00:10:244:6::') }]);
    expect(probeTargetsOf(v6Only('host-gw'))).toEqual([{ peer: 'fd00:10:244:6::/64', address: ip('2001:db8::6') }]);
  });

  it('probes the IPv6 half of a dual-stack lease the same way', () => {
    const v6 = { subnet: 'fd00:10:244:3::/64', publicIp: '2001:db8::3' };
    expect(probeTargetsOf(lease('10.244.3.0/24', '192.0.2.3', 'vxlan', v6))).toEqual([
      { peer: '10.244.3.0/24', address: ip('10.244.3.0') }, { peer: 'fd00:10:244:3::/64', address: ip('fd00:10:244:3::') },
    ]);
    expect(probeTargetsOf(lease('10.244.3.0/24', '192.0.2.3', 'host-gw', v6))).toEqual([
      { peer: '10.244.3.0/24', address: ip('192.0.2.3') }, { peer: 'fd00:10:244:3::/64', address: ip('2001:db8::3') },
    ]);
  });
});

describe('DatapathProbe', () => {
  it('paces echoes at the configured rate, round robin, and finds the broken peer', async () => {
    const pinger = new FakePinger();
    pinger.up.add('10.244.1.0').add('10.244.3.0');
    const clock = new FakeClock();
    const probe = new DatapathProbe(pinger, { ratePerSecond: 5, timeoutMs: 100, brokenAfter: 3, windowSize: 10 }, clock);
    probe.setPeers([lease('10.244.1.0/24', '192.0.2.1'), lease('10.244.2.0/24', '192.0.2.2'), lease('10.244.3.0/24', '192.0.2.3')], 'vxlan');
    await probe.run(new AbortController().signal, 9);

    expect(pinger.pinged).toEqual(Array.from({ length: 3 }, () => ['10.244.1.0', '10.244.2.0', '10.244.3.0']).flat());
    expect(new Set(clock.sleeps)).toEqual(new Set([200]));
    expect(clock.nowMs).toBe(9 * 200);
    const summary = probe.summary();
    expect(summary.broken.map((b) => b.peer)).toEqual(['10.244.2.0/24']);
    expect(summary.lossRatio).toBeCloseTo(3 / 9);

    pinger.up.add('10.244.2.0');
    await probe.run(new AbortController().signal, 3);
    expect(probe.summary().broken).toEqual([]);
  });

  it('skips peers of another backend type and idles without peers', async () => {
    const pinger = new FakePinger();
    const clock = new FakeClock();
    const probe = new DatapathProbe(pinger, { ratePerSecond: 10, timeoutMs: 100, brokenAfter: 3, windowSize: 10 }, clock);
    probe.setPeers([lease('10.244.1.0/24', '192.0.2.1', 'vxlan')], 'host-gw');
    const stop = new AbortController();
    const run = probe.run(stop.signal);
    while (clock.sleeps.length < 5) await new Promise((resolve) => setImmediate(resolve));
    stop.abort();
    await run;
    expect(pinger.pinged).toEqual([]);
    expect(clock.sleeps.slice(0, 5)).toEqual([100, 100, 100, 100, 100]);
  });

  it('probes IPv6 peers only when asked to, alongside IPv4', async () => {
    const pinger = new FakePinger();
    const peers = [lease('10.244.1.0/24', '192.0.2.1', 'vxlan', { subnet: 'fd00:10:244:1::/64', publicIp: '2001:db8::1' })];
    const ipv4Only = new DatapathProbe(pinger, { ratePerSecond: 5, timeoutMs: 100, brokenAfter: 3, windowSize: 10 }, new FakeClock());
    ipv4Only.setPeers(peers, 'vxlan');
    await ipv4Only.run(new AbortController().signal, 2);
    expect(pinger.pinged).toEqual(['10.244.1.0', '10.244.1.0']);

    pinger.pinged.length = 0;
    pinger.up.add('10.244.1.0');
    const dual = new DatapathProbe(pinger, { ratePerSecond: 5, timeoutMs: 100, brokenAfter: 1, windowSize: 10, families: ['ipv4', 'ipv6'] }, new FakeClock());
    dual.setPeers(peers, 'vxlan');
    await dual.run(new AbortController().signal, 2);
    expect(pinger.pinged).toEqual(['10.244.1.0', 'fd00:10:244:1::']);
    expect(dual.summary().broken.map((b) => [b.peer, b.address])).toEqual([['fd00:10:244:1::/64', 'fd00:10:244:1::']]);
  });

  it('rejects a rate of zero', () => {
    expect(() => new DatapathProbe(new FakePinger(), { ratePerSecond: 0, timeoutMs: 1, brokenAfter: 1, windowSize: 1 })).toThrow(RangeError);
  });
});
