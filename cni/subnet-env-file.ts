// Reads the subnet.env weftd writes (flannel's format) for the plugin.
import { readFile } from 'node:fs/promises';
import { CniCode, CniError } from './cni-error.js';

export interface SubnetEnv {
  /** FLANNEL_NETWORK: one or more comma-separated CIDRs (the pod networks to route via the bridge). */
  networks: string[];
  /** FLANNEL_SUBNET as a network (weftd writes the gateway, 10.244.1.1/24; host-local wants 10.244.1.0/24). */
  subnet: string;
  /** The bridge's address in the subnet (FLANNEL_SUBNET's address: the subnet's first host). */
  gateway: string;
  mtu: number;
  ipMasq: boolean;
}

const CIDR = /^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/;

export function parseSubnetEnv(text: string, path: string): SubnetEnv {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*([A-Z_0-9]+)=(.*)$/.exec(line);
    if (match?.[1] !== undefined) values.set(match[1], (match[2] ?? '').trim());
  }
  const need = (key: string): string => {
    const value = values.get(key);
    if (value === undefined || value === '') {
      throw new CniError(CniCode.invalidConfig, `${path} has no ${key}`, 'weftd writes this file once it holds a lease; check its log');
    }
    return value;
  };
  const networks = need('FLANNEL_NETWORK').split(',').map((n) => n.trim()).filter((n) => n !== '');
  const subnet = need('FLANNEL_SUBNET');
  const mtu = Number(need('FLANNEL_MTU'));
  for (const cidr of [...networks, subnet]) {
    if (!CIDR.test(cidr)) throw new CniError(CniCode.invalidConfig, `${path}: "${cidr}" is not an IPv4 CIDR`);
  }
  if (!Number.isInteger(mtu) || mtu < 576) throw new CniError(CniCode.invalidConfig, `${path}: FLANNEL_MTU "${String(values.get('FLANNEL_MTU'))}" is not a valid MTU`);
  return { networks, subnet: networkOf(subnet), gateway: subnet.split('/')[0] ?? '', mtu, ipMasq: values.get('FLANNEL_IPMASQ') === 'true' };
}

/** "10.244.1.1/24" -> "10.244.1.0/24". */
export function networkOf(cidr: string): string {
  const [address = '', length = '0'] = cidr.split('/');
  const bits = Number(length);
  if (bits > 32) throw new CniError(CniCode.invalidConfig, `"${cidr}" has a prefix length over 32`);
  const value = address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const mask = bits === 0 ? 0 : 2 ** 32 - 2 ** (32 - bits);
  const network = Number((BigInt(value) & BigInt(mask)));
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(network / 2 ** shift) % 256);
  return `${octets.join('.')}/${bits}`;
}

export async function readSubnetEnv(path: string): Promise<SubnetEnv> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CniError(
        CniCode.tryAgainLater,
        `${path} does not exist: weftd may not be running on this node yet`,
        'start weftd (kubectl -n kube-weft get pods -o wide) or set "subnetFile" to where it writes subnet.env',
      );
    }
    throw new CniError(CniCode.ioFailure, `reading ${path}: ${(err as Error).message}`);
  }
  return parseSubnetEnv(text, path);
}
