// Choosing the underlay interface, in flannel's order: --iface (names or IPs, first found wins),
// then --iface-regex (matched against names and addresses), then --iface-can-reach (the route's
// interface and preferred source address, as `ip route get` shows), else the interface of the default
// route. The choice is made with the primary family's addresses (IPv4, or IPv6 on an IPv6-only
// network); with dual stack the same interface's first global IPv6 address is the IPv6 underlay.
import { PUBLIC_IP_FLAG, type ExternalInterface, type UnderlayAddresses } from '../backends/backend.js';
import { ConfigError } from '../subnet/errors.js';
import { FAMILIES, IpAddress, type IpFamily } from '../subnet/ip-address.js';

export interface InterfaceInfo {
  name: string;
  index: number;
  mtu: number;
  ipv4: IpAddress[];
  /** Global IPv6 addresses (no link-local ones). */
  ipv6: IpAddress[];
}

/** What the kernel tells us; the netlink adapter provides it, tests pass plain data. */
export interface InterfaceInventory {
  interfaces: InterfaceInfo[];
  /** Per family, the interface its default route leaves through. */
  defaultRouteIndex: Partial<Record<IpFamily, number | undefined>>;
  /** The interface the kernel would use to reach `ip`, and the source address it would pick (`ip route get`). */
  routeTo(ip: IpAddress): Promise<{ index: number; source: IpAddress | undefined } | undefined>;
}

export interface InterfaceChoice {
  iface: string[];
  ifaceRegex: string[];
  ifaceCanReach?: string | undefined;
  publicIp?: string | undefined;
  publicIpv6?: string | undefined;
}

/** The address families the network runs (net-conf.json's EnableIPv4 / EnableIPv6). */
export type Families = readonly IpFamily[];

export async function chooseExternalInterface(
  inventory: InterfaceInventory,
  choice: InterfaceChoice,
  families: Families = ['ipv4'],
): Promise<ExternalInterface> {
  const primary = families[0] ?? 'ipv4';
  const found = await pick(inventory, choice, primary);
  const underlay = (family: IpFamily): UnderlayAddresses | undefined => {
    if (!families.includes(family)) return undefined;
    const ifaceIp = family === primary ? found.ip : found.info[family][0];
    if (ifaceIp === undefined) {
      throw new ConfigError('--iface', `${found.info.name} has no global ${FAMILIES[family].label} address, which Enable${FAMILIES[family].label} needs; add one or choose another interface`);
    }
    const text = family === 'ipv4' ? choice.publicIp : choice.publicIpv6;
    const publicIp = text ? IpAddress.parse(text, family) : ifaceIp;
    if (publicIp === undefined) throw new ConfigError(PUBLIC_IP_FLAG[family], `"${text ?? ''}" is not an ${FAMILIES[family].label} address`);
    return { ifaceIp, publicIp };
  };
  return { name: found.info.name, index: found.info.index, mtu: found.info.mtu, ipv4: underlay('ipv4'), ipv6: underlay('ipv6') };
}

interface Found {
  info: InterfaceInfo;
  ip: IpAddress;
}

async function pick(inventory: InterfaceInventory, choice: InterfaceChoice, family: IpFamily): Promise<Found> {
  const label = FAMILIES[family].label;
  const withAddress = (info: InterfaceInfo | undefined, ip?: IpAddress): Found | undefined => {
    const first = ip ?? info?.[family][0];
    return info && first !== undefined ? { info, ip: first } : undefined;
  };

  if (choice.iface.length > 0) {
    for (const wanted of choice.iface) {
      const ip = IpAddress.parse(wanted, family);
      const info =
        ip === undefined
          ? inventory.interfaces.find((i) => i.name === wanted)
          : inventory.interfaces.find((i) => i[family].some((own) => own.equals(ip)));
      const found = withAddress(info, ip);
      if (found) return found;
    }
    throw new ConfigError('--iface', `none of ${choice.iface.join(', ')} is an interface with an ${label} address here`);
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
        const byAddress = info[family].find((ip) => regex.test(ip.toString()));
        const found =
          byAddress !== undefined ? withAddress(info, byAddress) : regex.test(info.name) ? withAddress(info) : undefined;
        if (found) return found;
      }
    }
    throw new ConfigError('--iface-regex', `no interface name or ${label} address matches ${choice.ifaceRegex.join(', ')}`);
  }

  if (choice.ifaceCanReach) {
    const target = IpAddress.parse(choice.ifaceCanReach, family);
    if (target === undefined) {
      throw new ConfigError('--iface-can-reach', `"${choice.ifaceCanReach}" is not an ${label} address`);
    }
    // flannel takes the route's preferred source as the interface address, not the interface's first one.
    const route = await inventory.routeTo(target);
    const info = inventory.interfaces.find((i) => i.index === route?.index);
    const found = withAddress(info, route?.source);
    if (!found) throw new ConfigError('--iface-can-reach', `no interface with an ${label} address routes to ${choice.ifaceCanReach}`);
    return found;
  }

  const found = withAddress(inventory.interfaces.find((i) => i.index === inventory.defaultRouteIndex[family]));
  if (!found) {
    throw new ConfigError('--iface', `no default route with an ${label} address; name the interface with --iface`);
  }
  return found;
}
