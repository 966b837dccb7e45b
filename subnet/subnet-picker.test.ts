import type { SubnetPool } from './lease.js';
import { fitsPool, freeSubnets, isTaken, pickFreeSubnet } from './subnet-picker.js';
import { ip, net } from '../test/addresses.js';

const pool = (min = '10.244.1.0', max = '10.244.255.0'): SubnetPool => ({
  network: net('10.244.0.0/16'),
  subnetLen: 24,
  subnetMin: ip(min),
  subnetMax: ip(max),
});

describe('subnet picker', () => {
  it('knows which subnets the pool can hand out', () => {
    expect(fitsPool(pool(), net('10.244.7.0/24'))).toBe(true);
    expect(fitsPool(pool(), net('10.244.0.0/24'))).toBe(false); // below SubnetMin
    expect(fitsPool(pool('10.244.1.0', '10.244.9.0'), net('10.244.10.0/24'))).toBe(false); // above SubnetMax
    expect(fitsPool(pool(), net('10.244.7.0/25'))).toBe(false); // wrong size
    expect(fitsPool(pool(), net('10.245.7.0/24'))).toBe(false); // outside the network
  });

  it('lists free subnets from SubnetMin, skipping taken ones of any size, at most 100', () => {
    const taken = [net('10.244.1.0/24'), net('10.244.3.0/25'), net('10.244.4.0/23')];
    const free = freeSubnets(pool(), taken);
    expect(free.slice(0, 3).map(String)).toEqual(['10.244.2.0/24', '10.244.6.0/24', '10.244.7.0/24']);
    expect(free.length).toBe(100);
    expect(isTaken(net('10.244.5.0/24'), taken)).toBe(true);
    expect(freeSubnets(pool('10.244.250.0', '10.244.255.0'), []).map(String)).toEqual([
      '10.244.250.0/24', '10.244.251.0/24', '10.244.252.0/24', '10.244.253.0/24', '10.244.254.0/24', '10.244.255.0/24',
    ]);
  });

  it('picks at random among the free ones and says when none is left', () => {
    const p = pool('10.244.1.0', '10.244.4.0');
    expect(pickFreeSubnet(p, [], () => 0)?.toString()).toBe('10.244.1.0/24');
    expect(pickFreeSubnet(p, [], () => 0.999)?.toString()).toBe('10.244.4.0/24');
    expect(pickFreeSubnet(p, [net('10.244.1.0/24'), net('10.244.2.0/24')], () => 0.5)?.toString()).toBe('10.244.4.0/24');
    expect(pickFreeSubnet(p, [net('10.244.0.0/16')])).toBeUndefined();
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(pickFreeSubnet(pool(), [])?.toString() ?? '');
    expect(seen.size).toBeGreaterThan(50); // spread over the 100 candidates
  });

  it('handles the top of the address space without wrapping', () => {
    const top: SubnetPool = { network: net('255.255.0.0/16'), subnetLen: 24, subnetMin: ip('255.255.254.0'), subnetMax: ip('255.255.255.0') };
    expect(freeSubnets(top, []).map(String)).toEqual(['255.255.254.0/24', '255.255.255.0/24']);
  });
});
