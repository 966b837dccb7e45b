import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ipv4Net } from '../subnet/ipv4.js';
import { readPreviousSubnet, writeSubnetEnv } from './subnet-env.js';

const net = (text: string): Ipv4Net => {
  const parsed = Ipv4Net.parse(text);
  if (!parsed) throw new Error(text);
  return parsed;
};

describe('subnet.env', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-env-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is written in flannel format with mode 0644 and read back', async () => {
    const path = join(dir, 'run', 'subnet.env');
    await writeSubnetEnv(path, { network: net('10.244.0.0/16'), subnet: net('10.244.1.0/24'), mtu: 1450, ipMasq: true });
    expect(await readFile(path, 'utf8')).toBe(
      'FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n',
    );
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect((await readPreviousSubnet(path))?.toString()).toBe('10.244.1.0/24');
  });

  it('ignores a missing or garbled file', async () => {
    expect(await readPreviousSubnet(join(dir, 'absent'))).toBeUndefined();
    const garbled = join(dir, 'garbled');
    await writeFile(garbled, 'FLANNEL_SUBNET=nonsense\n');
    expect(await readPreviousSubnet(garbled)).toBeUndefined();
  });
});
