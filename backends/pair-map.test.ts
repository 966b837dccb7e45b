import { addressKey, PairMap, PrefixMap } from './pair-map.js';
import { ip, net } from '../test/addresses.js';

describe('maps keyed by addresses', () => {
  it('tells networks apart by length and address, in either family', () => {
    const map = new PrefixMap<string>();
    for (const text of ['10.244.3.0/24', '10.244.3.0/25', '10.244.4.0/24', 'fd00:10:244:3::/64', 'fd00:10:244:4::/64', 'fd00:10:244:3::/80']) map.set(net(text), text);
    expect(map.get(net('10.244.3.0/25'))).toBe('10.244.3.0/25');
    expect(map.get(net('fd00:10:244:4::/64'))).toBe('fd00:10:244:4::/64');
    expect(map.get(net('fd00:10:244:3::/80'))).toBe('fd00:10:244:3::/80');
    expect(map.has(net('10.244.5.0/24'))).toBe(false);
    expect(map.delete(net('10.244.3.0/24'))).toBe(true);
    expect(map.delete(net('10.244.3.0/24'))).toBe(false);
    expect([...map.values()].sort()).toEqual(['10.244.3.0/25', '10.244.4.0/24', 'fd00:10:244:3::/64', 'fd00:10:244:3::/80', 'fd00:10:244:4::/64']);
  });

  it('folds the high half of an IPv6 address into its key, one key per address', () => {
    // V8 hashes a bigint by its low 64 bits: /64 networks must not all land in one bucket.
    const networks = ['fd00:10:244:1::', 'fd00:10:244:2::', 'fd00:10:245:1::', '::1', '::', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'].map(ip);
    const keys = networks.map(addressKey);
    expect(new Set(keys).size).toBe(networks.length);
    expect(new Set(keys.slice(0, 3).map((k) => k & 0xffffffffffffffffn)).size).toBe(3);
    expect(addressKey(ip('10.244.3.0'))).toBe(ip('10.244.3.0').value);
  });

  it('keeps a device and a gateway apart from another device with the same gateway', () => {
    const map = new PairMap<number>();
    map.set(20, ip('192.0.2.1'), 1);
    map.set(21, ip('192.0.2.1'), 2);
    expect([map.get(20, ip('192.0.2.1')), map.get(21, ip('192.0.2.1')), map.get(22, ip('192.0.2.1'))]).toEqual([1, 2, undefined]);
    map.clear();
    expect([...map.values()]).toEqual([]);
  });
});
