// Address literals for tests: parsed once, and a typo fails the test at once instead of becoming
// some default address that a wrong expectation could still match.
import { IpAddress } from '../subnet/ip-address.js';
import { IpPrefix } from '../subnet/ip-prefix.js';

export function ip(text: string): IpAddress {
  const address = IpAddress.parse(text);
  if (address === undefined) throw new Error(`test literal ${text} is not an IP address`);
  return address;
}

/** A network written with host bits zero ("10.244.1.0/24"). */
export function net(text: string): IpPrefix {
  const prefix = IpPrefix.parse(text);
  if (prefix === undefined) throw new Error(`test literal ${text} is not a network`);
  return prefix;
}
