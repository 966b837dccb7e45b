// Deterministic fake peers for the benchmarks: subnets in 10.0.0.0/8, public IPs in 198.18.0.0/15
// (benchmarking range: no traffic is ever sent to them), VTEP MACs derived from the index.
import { Etcd3 } from 'etcd3';

export const BENCH_NETWORK = '10.0.0.0/8';
const PREFIX = '/coreos.com/network';

export interface FakePeer {
  subnet: string;
  vtep: string;
  publicIp: string;
  mac: string;
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

export function leaseKey(peer: FakePeer): string {
  return `${PREFIX}/subnets/${peer.subnet.replace('/', '-')}`;
}

export function leaseValue(peer: FakePeer): string {
  return `{"PublicIP":"${peer.publicIp}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${peer.mac}"}}`;
}

/** Writes peers [from, to) as fast as etcd takes them (transactions of 100 puts, 8 in flight). */
export async function putPeers(client: Etcd3, from: number, to: number): Promise<void> {
  const chunks: number[][] = [];
  for (let i = from; i < to; i += 100) chunks.push(Array.from({ length: Math.min(100, to - i) }, (_, k) => i + k));
  for (let c = 0; c < chunks.length; c += 8) {
    await Promise.all(chunks.slice(c, c + 8).map((chunk) => withRetries(() =>
      client.if(leaseKey(fakePeer(chunk[0] ?? 0)), 'Version', '>', -1)
        .then(...chunk.map((i) => client.put(leaseKey(fakePeer(i))).value(leaseValue(fakePeer(i)))))
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

export async function writeBenchNetworkConfig(client: Etcd3): Promise<void> {
  await withRetries(() => client.put(`${PREFIX}/config`).value(JSON.stringify({ Network: BENCH_NETWORK, SubnetLen: 24, Backend: { Type: 'vxlan' } })));
}
