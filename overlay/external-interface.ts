// Choosing the underlay interface, in flannel's order: --iface (names or IPs, first found wins),
// then --iface-regex (matched against names and addresses), then --iface-can-reach (the route's
// interface and preferred source address, as `ip route get` shows), else the interface of the default route.
import type { ExternalInterface } from '../backends/backend.js';
import { ConfigError } from '../subnet/errors.js';
import { IpAddress } from '../subnet/ip-address.js';

export interface InterfaceInfo {
  name: string;
  index: number;
  mtu: number;
  ipv4: IpAddress[];
}

/** What the kernel tells us; the netlink adapter provides it, tests pass plain data. */
export interface InterfaceInventory {
  interfaces: InterfaceInfo[];
  defaultRouteIndex: number | undefined;
  /** The interface the kernel would use to reach `ip`, and the source address it would pick (`ip route get`). */
  routeTo(ip: IpAddress): Promise<{ index: number; source: IpAddress | undefined } | undefined>;
}

export interface InterfaceChoice {
  iface: string[];
  ifaceRegex: string[];
  ifaceCanReach?: string | undefined;
  publicIp?: string | undefined;
}

export async function chooseExternalInterface(
  inventory: InterfaceInventory,
  choice: InterfaceChoice,
): Promise<ExternalInterface> {
  const found = await pick(inventory, choice);
  const publicIp = choice.publicIp ? IpAddress.parse(choice.publicIp, 'ipv4') : found.ip;
  if (publicIp === undefined) {
    throw new ConfigError('--public-ip', `"${choice.publicIp ?? ''}" is not an IPv4 address`);
  }
  return { name: found.info.name, index: found.info.index, mtu: found.info.mtu, ifaceIp: found.ip, publicIp };
}

interface Found {
  info: InterfaceInfo;
  ip: IpAddress;
}

async function pick(inventory: InterfaceInventory, choice: InterfaceChoice): Promise<Found> {
  const withAddress = (info: InterfaceInfo | undefined, ip?: IpAddress): Found | undefined => {
    const first = ip ?? info?.ipv4[0];
    return info && first !== undefined ? { info, ip: first } : undefined;
  };

  if (choice.iface.length > 0) {
    for (const wanted of choice.iface) {
      const ip = IpAddress.parse(wanted, 'ipv4');
      const info =
        ip === undefined
          ? inventory.interfaces.find((i) => i.name === wanted)
          : inventory.interfaces.find((i) => i.ipv4.some((own) => own.equals(ip)));
      const found = withAddress(info, ip);
      if (found) return found;
    }
    throw new ConfigError('--iface', `none of ${choice.iface.join(', ')} is an interface with an IPv4 address here`);
  }

  if (choice.ifaceRegex.length > 0) {
    for (const source of choice.ifaceRegex) {
      let regex: RegExp;
      try {
        regex = new RegExp(source);
      } catch (err) {
        throw new ConfigError('--iface-regex', `"${source}" is not a valid regular expression (${(err as Error).message})`);
      }
      for (const info of inventory.interfaces) {
        const byAddress = info.ipv4.find((ip) => regex.test(ip.toString()));
        const found =
          byAddress !== undefined ? withAddress(info, byAddress) : regex.test(info.name) ? withAddress(info) : undefined;
        if (found) return found;
      }
    }
    throw new ConfigError('--iface-regex', `no interface name or IPv4 address matches ${choice.ifaceRegex.join(', ')}`);
  }

  if (choice.ifaceCanReach) {
    const target = IpAddress.parse(choice.ifaceCanReach, 'ipv4');
    if (target === undefined) {
      throw new ConfigError('--iface-can-reach', `"${choice.ifaceCanReach}" is not an IPv4 address`);
    }
    // flannel takes the route's preferred source as the interface address, not the interface's first one.
    const route = await inventory.routeTo(target);
    const info = inventory.interfaces.find((i) => i.index === route?.index);
    const found = withAddress(info, route?.source);
    if (!found) throw new ConfigError('--iface-can-reach', `no interface with an IPv4 address routes to ${choice.ifaceCanReach}`);
    return found;
  }

  const found = withAddress(inventory.interfaces.find((i) => i.index === inventory.defaultRouteIndex));
  if (!found) {
    throw new ConfigError('--iface', 'no default route with an IPv4 address; name the interface with --iface');
  }
  return found;
}
