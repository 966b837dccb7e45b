// STATUS (spec 1.1.0): can this node take new attachments? Not while subnet.env is missing or
// broken (weftd holds no lease), not while the delegate says it cannot (asked where it speaks
// 1.1.0), and not while host-local has handed out every address of the node's subnet.
import { CniCode, CniError } from './cni-error.js';
import { hostLocalCapacity, inSubnet } from './cidr.js';
import { LATEST_VERSION } from './cni-versions.js';
import { delegateSpeaks, type DelegateRunner } from './delegate.js';
import { hostLocalDir, readReservations } from './host-local-store.js';
import { buildDelegateConfig, type PluginConfig } from './plugin-config.js';
import { readSubnetEnv, type SubnetEnv } from './subnet-env-file.js';

export async function status(conf: PluginConfig, env: NodeJS.ProcessEnv, run: DelegateRunner): Promise<void> {
  let subnetEnv: SubnetEnv;
  try {
    subnetEnv = readSubnetEnv(conf.subnetFile);
  } catch (err) {
    throw new CniError(CniCode.pluginNotAvailable, (err as Error).message, (err as CniError).details);
  }
  const delegate = buildDelegateConfig(conf, subnetEnv, LATEST_VERSION);
  if (await delegateSpeaks(run, String(delegate['type']), env, LATEST_VERSION)) await run('STATUS', delegate, env);

  const dir = hostLocalDir(delegate['ipam'], conf.name);
  if (dir === undefined) return;
  const reserved = await readReservations(dir);
  for (const subnet of subnetEnv.subnets) {
    const capacity = hostLocalCapacity(subnet);
    const used = reserved.filter((r) => inSubnet(r.ip, subnet)).length;
    if (BigInt(used) >= capacity) {
      throw new CniError(
        CniCode.pluginNotAvailable,
        `no address left for a new pod in ${subnet}: ${used} of ${capacity} in use`,
        'deleting pods frees addresses; for more pods per node, lower SubnetLen in net-conf.json',
      );
    }
  }
}
