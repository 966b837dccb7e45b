import { ConfigError } from '../subnet/errors.js';
import { chooseExternalInterface, type InterfaceInventory } from './external-interface.js';
import { ip } from '../test/addresses.js';


const inventory: InterfaceInventory = {
  interfaces: [
    { name: 'lo', index: 1, mtu: 65536, ipv4: [ip('127.0.0.1')], ipv6: [ip('::1')] },
    { name: 'eth0', index: 2, mtu: 1500, ipv4: [ip('192.0.2.10')], ipv6: [ip('2001:db8::10'), ip('2001:db8::11')] },
    { name: 'eth1', index: 3, mtu: 9000, ipv4: [ip('198.51.100.7'), ip('198.51.100.8')], ipv6: [] },
    { name: 'bare', index: 4, mtu: 1500, ipv4: [], ipv6: [] },
    { name: 'v6only', index: 5, mtu: 1500, ipv4: [], ipv6: [ip('2001:db8:1::5')] },
  ],
  defaultRouteIndex: { ipv4: 2, ipv6: 5 },
  // As `ip route get`: the route to 198.51.100.200 leaves eth1 with source 198.51.100.8 (its second address).
  routeTo: (target) => Promise.resolve(target.equals(ip('198.51.100.200')) ? { index: 3, source: ip('198.51.100.8') } : undefined),
};

const choose = (choice: Partial<Parameters<typeof chooseExternalInterface>[1]>) =>
  chooseExternalInterface(inventory, { iface: [], ifaceRegex: [], ...choice });

describe('chooseExternalInterface', () => {
  it('uses the default-route interface when nothing is asked', async () => {
    const ext = await choose({});
    expect([ext.name, ext.ipv4?.ifaceIp.toString(), ext.ipv4?.publicIp.toString(), ext.mtu, ext.ipv6]).toEqual([
      'eth0', '192.0.2.10', '192.0.2.10', 1500, undefined,
    ]);
  });

  it('takes the first --iface that exists, by name or by address', async () => {
    expect((await choose({ iface: ['nope', 'eth1'] })).name).toBe('eth1');
    const byIp = await choose({ iface: ['198.51.100.8'] });
    expect([byIp.name, byIp.ipv4?.ifaceIp.toString()]).toEqual(['eth1', '198.51.100.8']);
  });

  it('matches --iface-regex against addresses and names', async () => {
    expect((await choose({ ifaceRegex: ['^198\\.51'] })).name).toBe('eth1');
    expect((await choose({ ifaceRegex: ['^eth0$'] })).name).toBe('eth0');
  });

  it('follows the route for --iface-can-reach, taking its preferred source address as flannel does', async () => {
    const ext = await choose({ ifaceCanReach: '198.51.100.200' });
    expect([ext.name, ext.ipv4?.ifaceIp.toString(), ext.ipv4?.publicIp.toString()]).toEqual(['eth1', '198.51.100.8', '198.51.100.8']);
  });

  it('takes the interface\'s first address when the route names no source', async () => {
    const noSource = { ...inventory, routeTo: () => Promise.resolve({ index: 3, source: undefined }) };
    const ext = await chooseExternalInterface(noSource, { iface: [], ifaceRegex: [], ifaceCanReach: '198.51.100.200' });
    expect(ext.ipv4?.ifaceIp.toString()).toBe('198.51.100.7');
  });

  it('publishes --public-ip instead of the interface address', async () => {
    const ext = await choose({ publicIp: '203.0.113.9' });
    expect([ext.ipv4?.ifaceIp.toString(), ext.ipv4?.publicIp.toString()]).toEqual(['192.0.2.10', '203.0.113.9']);
  });

  it.each([
    [{ iface: ['bare', 'ghost'] }, '--iface'],
    [{ ifaceRegex: ['('] }, '--iface-regex'],
    [{ ifaceRegex: ['^wlan'] }, '--iface-regex'],
    [{ ifaceCanReach: '10.9.9.9' }, '--iface-can-reach'],
    [{ ifaceCanReach: 'x' }, '--iface-can-reach'],
    [{ publicIp: '1.2.3' }, '--public-ip'],
  ])('rejects %j naming %s', async (choice, field) => {
    await expect(choose(choice)).rejects.toMatchObject({ field });
    await expect(choose(choice)).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('chooseExternalInterface with IPv6', () => {
  const chooseFor = (families: ('ipv4' | 'ipv6')[], choice: Partial<Parameters<typeof chooseExternalInterface>[1]> = {}) =>
    chooseExternalInterface(inventory, { iface: [], ifaceRegex: [], ...choice }, families);

  it('dual stack: picks by IPv4 and takes the same interface\'s first global IPv6 address', async () => {
    const ext = await chooseFor(['ipv4', 'ipv6']);
    expect([ext.name, ext.ipv4?.ifaceIp.toString(), ext.ipv6?.ifaceIp.toString(), ext.ipv6?.publicIp.toString()]).toEqual([
      'eth0', '192.0.2.10', '2001:db8::10', '2001:db8::10',
    ]);
  });

  it('publishes --public-ipv6 instead of the interface\'s IPv6 address', async () => {
    const ext = await chooseFor(['ipv4', 'ipv6'], { publicIpv6: '2001:db8:9::9' });
    expect([ext.ipv6?.ifaceIp.toString(), ext.ipv6?.publicIp.toString()]).toEqual(['2001:db8::10', '2001:db8:9::9']);
  });

  it('IPv6 only: picks by IPv6 (default route, --iface by address) and has no IPv4 underlay', async () => {
    const byRoute = await chooseFor(['ipv6']);
    expect([byRoute.name, byRoute.ipv6?.ifaceIp.toString(), byRoute.ipv4]).toEqual(['v6only', '2001:db8:1::5', undefined]);
    const byAddress = await chooseFor(['ipv6'], { iface: ['2001:db8::11'] });
    expect([byAddress.name, byAddress.ipv6?.ifaceIp.toString()]).toEqual(['eth0', '2001:db8::11']);
  });

  const refusals: [('ipv4' | 'ipv6')[], Partial<Parameters<typeof chooseExternalInterface>[1]>, string, RegExp][] = [
    [['ipv4', 'ipv6'], { iface: ['eth1'] }, '--iface', /eth1 has no global IPv6 address, which EnableIPv6 needs/],
    [['ipv4', 'ipv6'], { publicIpv6: '192.0.2.1' }, '--public-ipv6', /"192.0.2.1" is not an IPv6 address/],
    [['ipv6'], { iface: ['bare'] }, '--iface', /none of bare is an interface with an IPv6 address/],
  ];
  it.each(refusals)('refuses %j %j naming %s', async (families, choice, field, message) => {
    const caught = await chooseFor(families, choice).catch((err: unknown) => err);
    expect(caught).toBeInstanceOf(ConfigError);
    expect(caught).toMatchObject({ field });
    expect((caught as Error).message).toMatch(message);
  });
});
