// `weftctl config get|set` for the network config at <prefix>/config in etcd. A new config is parsed
// with the daemon's own parser before anything is written, and refused when it would strand existing
// leases unless forced; the write is a compare-and-swap on the revision that was checked.
import { parseNetworkConfig } from '../overlay/network-config.js';
import { configKey, parseLeaseKey, subnetsDir } from '../subnet/etcd-lease-codec.js';
import type { EtcdStore } from '../subnet/etcd-store.js';
import { ConfigError, RemoteDataError } from '../subnet/errors.js';
import { findOrphanedLeases } from './weftctl-orphans.js';
import type { Output } from './weftctl-leases.js';
import type { IpPrefix } from '../subnet/ip-prefix.js';

export const CONFIG_OK = 0;
export const CONFIG_REFUSED = 1;

export async function getConfig(store: EtcdStore, prefix: string, io: Output): Promise<number> {
  const key = configKey(prefix);
  const text = await store.get(key);
  if (text === undefined) {
    io.err(`weftctl: ${key} does not exist; write one with "weftctl config set <file>"\n`);
    return CONFIG_REFUSED;
  }
  io.out(text.endsWith('\n') ? text : `${text}\n`);
  return CONFIG_OK;
}

export async function setConfig(store: EtcdStore, prefix: string, text: string, force: boolean, io: Output): Promise<number> {
  let config;
  try {
    config = parseNetworkConfig(text); // what every weft node would refuse at start is not written
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    io.err(`weftctl: refusing the new config: ${err.message}\n`);
    return CONFIG_REFUSED;
  }
  const key = configKey(prefix);
  // The current config's revision (or its absence) is read before the leases are checked, so the
  // write fails if anybody changed the config in between.
  const current = (await store.list(key)).records.find((r) => r.key === key);
  const subnets = await leasedSubnets(store, prefix);
  const orphans = findOrphanedLeases({ ipv4: config.ipv4, ipv6: config.ipv6 }, subnets);
  if (orphans.length > 0) {
    const lines = orphans.map((o) => `  ${o.subnet.toString()}: ${o.reason}`).join('\n');
    if (!force) {
      io.err(
        `weftctl: refusing the new config: ${orphans.length} existing lease(s) would no longer fit it; their nodes would ` +
          `take new subnets and renumber their pods:\n${lines}\nRemove those leases first, or pass --force.\n`,
      );
      return CONFIG_REFUSED;
    }
    io.err(`weftctl: --force: writing although ${orphans.length} lease(s) no longer fit:\n${lines}\n`);
  }
  for (const warning of config.warnings) io.err(`weftctl: note: ${warning}\n`);
  const result = current ? await store.replace(key, text, '0', current.modRevision) : await store.create(key, text, '0');
  if (!result.succeeded) {
    io.err(`weftctl: ${key} changed while this command ran; nothing written, run it again\n`);
    return CONFIG_REFUSED;
  }
  io.out(`${key} written (revision ${result.revision})\n`);
  return CONFIG_OK;
}

/** The subnets (both halves) of every lease key, readable value or not: a lease with bad data still holds its subnets. */
async function leasedSubnets(store: EtcdStore, prefix: string): Promise<IpPrefix[]> {
  const listing = await store.list(subnetsDir(prefix));
  const subnets: IpPrefix[] = [];
  for (const record of listing.records) {
    try {
      const { ipv4, ipv6 } = parseLeaseKey(prefix, record.key);
      subnets.push(...[ipv4, ipv6].filter((s) => s !== undefined));
    } catch (err) {
      if (!(err instanceof RemoteDataError)) throw err;
    }
  }
  return subnets;
}
