// Deterministic fake peers for the benchmarks: subnets in 10.0.0.0/8, public IPs in 198.18.0.0/15
// (benchmarking range: no traffic is ever sent to them), VTEP MACs derived from the index. A
// dual-stack peer also has an IPv6 half: a /64 of fd00:10::/48 from fd00:10:0:1000:: on, a
// public IP in 2001:db8:18::/48 and the MAC of its own flannel-v6.1, under flannel's dual-stack
// key and value.
import { Etcd3 } from 'etcd3';

export const BENCH_NETWORK = '10.0.0.0/8';
export const BENCH_IPV6_NETWORK = 'fd00:10::/48';
const PREFIX = '/coreos.com/network';

/** Which families the benchmark's network and fake peers have. */
export type BenchStack = 'ipv4' | 'dual';

interface FamilyHalf {
  subnet: string;
  vtep: string;
  publicIp: string;
  mac: string;
}

export interface FakePeer extends FamilyHalf {
  /** The IPv6 half of a dual-stack peer. */
  ipv6?: FamilyHalf;
}

/** Peer i (0-based); subnets start at 10.1.0.0/24 so they never collide with the lab's own nodes. */
export function fakePeer(i: number): FakePeer {
  const hi = 1 + Math.floor(i / 256);
  const lo = i % 256;
  const hex = (n: number): string => n.toString(16).padStart(2, '0');
  return {
    subnet: `10.${hi}.${lo}.0/24`,
    vtep: `10.${hi}.${lo}.0`,
    publicIp: `198.18.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    mac: `0a:58:${hex(hi)}:${hex(lo)}:00:01`,
  };
}

/**
 * Peer i with an IPv6 half too: fd00:10:0:<0x1000+i in hex>::/64, public IP 2001:db8:18::<i+1 in
 * hex>. The offset keeps them clear of the subnets a node leases for itself (among the first 100
 * free ones from fd00:10:0:1::, as for IPv4 below 10.1.0.0).
 */
export function fakeDualStackPeer(i: number): FakePeer {
  if (i >= 0xf000) throw new RangeError(`dual-stack fake peer ${i}: fd00:10::/48 holds 61440 of them`);
  const v4 = fakePeer(i);
  const subnet = `fd00:10:0:${(0x1000 + i).toString(16)}::`;
  return { ...v4, ipv6: { subnet: `${subnet}/64`, vtep: subnet, publicIp: `2001:db8:18::${(i + 1).toString(16)}`, mac: v4.mac.replace(/01$/, '06') } };
}

export function stackPeer(stack: BenchStack, i: number): FakePeer {
  return stack === 'dual' ? fakeDualStackPeer(i) : fakePeer(i);
}

/** flannel's key: `10.1.0.0-24`, or `10.1.0.0-24&fd00:10:0:1::-64` for a dual-stack peer. */
export function leaseKey(peer: FakePeer): string {
  const half = (subnet: string): string => subnet.replace('/', '-');
  return `${PREFIX}/subnets/${half(peer.subnet)}${peer.ipv6 ? `&${half(peer.ipv6.subnet)}` : ''}`;
}

/** flannel's value, with PublicIPv6 and BackendV6Data for a dual-stack peer. */
export function leaseValue(peer: FakePeer): string {
  const v4 = `"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${peer.mac}"}`;
  if (!peer.ipv6) return `{"PublicIP":"${peer.publicIp}","PublicIPv6":null,${v4}}`;
  return `{"PublicIP":"${peer.publicIp}","PublicIPv6":"${peer.ipv6.publicIp}",${v4},"BackendV6Data":{"VNI":1,"VtepMAC":"${peer.ipv6.mac}"}}`;
}

/** Writes peers [from, to) as fast as etcd takes them (transactions of 100 puts, 8 in flight). */
export async function putPeers(client: Etcd3, from: number, to: number, stack: BenchStack = 'ipv4'): Promise<void> {
  const chunks: number[][] = [];
  for (let i = from; i < to; i += 100) chunks.push(Array.from({ length: Math.min(100, to - i) }, (_, k) => i + k));
  for (let c = 0; c < chunks.length; c += 8) {
    await Promise.all(chunks.slice(c, c + 8).map((chunk) => withRetries(() =>
      client.if(leaseKey(stackPeer(stack, chunk[0] ?? 0)), 'Version', '>', -1)
        .then(...chunk.map((i) => client.put(leaseKey(stackPeer(stack, i))).value(leaseValue(stackPeer(stack, i)))))
        .commit())));
  }
}

/** The busy machine sometimes refuses a first connection: 5 tries, 0.5 to 8 s apart (puts are idempotent). */
export async function withRetries<T>(write: () => PromiseLike<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (attempt >= 4) throw err;
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    }
  }
}

export function openEtcd(endpoint: string): Etcd3 {
  return new Etcd3({ hosts: endpoint });
}

export async function writeBenchNetworkConfig(client: Etcd3, stack: BenchStack = 'ipv4'): Promise<void> {
  const ipv6 = stack === 'dual' ? { EnableIPv6: true, IPv6Network: BENCH_IPV6_NETWORK, IPv6SubnetLen: 64 } : {};
  await withRetries(() => client.put(`${PREFIX}/config`).value(JSON.stringify({ Network: BENCH_NETWORK, SubnetLen: 24, ...ipv6, Backend: { Type: 'vxlan' } })));
}
