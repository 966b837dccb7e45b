// subnet.env: flannel's hand-off file to the CNI plugin. Written atomically (temp file + rename)
// so a plugin never reads half a file.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Ipv4Net, formatIpv4 } from '../subnet/ipv4.js';

export interface SubnetEnv {
  network: Ipv4Net;
  subnet: Ipv4Net;
  mtu: number;
  ipMasq: boolean;
}

export function formatSubnetEnv(env: SubnetEnv): string {
  // The subnet line carries the first host address (the bridge's gateway), as flannel writes it.
  const gateway = `${formatIpv4((env.subnet.ip + 1) >>> 0)}/${env.subnet.prefixLength}`;
  return [
    `FLANNEL_NETWORK=${env.network.toString()}`,
    `FLANNEL_SUBNET=${gateway}`,
    `FLANNEL_MTU=${env.mtu}`,
    `FLANNEL_IPMASQ=${env.ipMasq}`,
    '',
  ].join('\n');
}

export async function writeSubnetEnv(path: string, env: SubnetEnv): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, formatSubnetEnv(env), { mode: 0o644 });
  await rename(temp, path);
}

/** The subnet of an earlier run, if its subnet.env is there and readable; anything else is ignored. */
export async function readPreviousSubnet(path: string): Promise<Ipv4Net | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
  const line = text.split('\n').find((l) => l.startsWith('FLANNEL_SUBNET='));
  const value = line?.slice('FLANNEL_SUBNET='.length).trim();
  const parsed = value === undefined ? undefined : Ipv4Net.parse(value, false);
  return parsed;
}
