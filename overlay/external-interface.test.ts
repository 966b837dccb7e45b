import { ConfigError } from '../subnet/errors.js';
import { chooseExternalInterface, type InterfaceInventory } from './external-interface.js';
import { ip } from '../test/addresses.js';


const inventory: InterfaceInventory = {
  interfaces: [
    { name: 'lo', index: 1, mtu: 65536, ipv4: [ip('127.0.0.1')] },
    { name: 'eth0', index: 2, mtu: 1500, ipv4: [ip('192.0.2.10')] },
    { name: 'eth1', index: 3, mtu: 9000, ipv4: [ip('198.51.100.7'), ip('198.51.100.8')] },
    { name: 'bare', index: 4, mtu: 1500, ipv4: [] },
  ],
  defaultRouteIndex: 2,
  // As `ip route get`: the route to 198.51.100.200 leaves eth1 with source 198.51.100.8 (its second address).
  routeTo: (target) => Promise.resolve(target.equals(ip('198.51.100.200')) ? { index: 3, source: ip('198.51.100.8') } : undefined),
};

const choose = (choice: Partial<Parameters<typeof chooseExternalInterface>[1]>) =>
  chooseExternalInterface(inventory, { iface: [], ifaceRegex: [], ...choice });

describe('chooseExternalInterface', () => {
  it('uses the default-route interface when nothing is asked', async () => {
    const ext = await choose({});
    expect([ext.name, ext.ifaceIp.toString(), ext.publicIp.toString(), ext.mtu]).toEqual([
      'eth0', '192.0.2.10', '192.0.2.10', 1500,
    ]);
  });

  it('takes the first --iface that exists, by name or by address', async () => {
    expect((await choose({ iface: ['nope', 'eth1'] })).name).toBe('eth1');
    const byIp = await choose({ iface: ['198.51.100.8'] });
    expect([byIp.name, byIp.ifaceIp.toString()]).toEqual(['eth1', '198.51.100.8']);
  });

  it('matches --iface-regex against addresses and names', async () => {
    expect((await choose({ ifaceRegex: ['^198\\.51'] })).name).toBe('eth1');
    expect((await choose({ ifaceRegex: ['^eth0$'] })).name).toBe('eth0');
  });

  it('follows the route for --iface-can-reach, taking its preferred source address as flannel does', async () => {
    const ext = await choose({ ifaceCanReach: '198.51.100.200' });
    expect([ext.name, ext.ifaceIp.toString(), ext.publicIp.toString()]).toEqual(['eth1', '198.51.100.8', '198.51.100.8']);
  });

  it('takes the interface\'s first address when the route names no source', async () => {
    const noSource = { ...inventory, routeTo: () => Promise.resolve({ index: 3, source: undefined }) };
    const ext = await chooseExternalInterface(noSource, { iface: [], ifaceRegex: [], ifaceCanReach: '198.51.100.200' });
    expect(ext.ifaceIp.toString()).toBe('198.51.100.7');
  });

  it('publishes --public-ip instead of the interface address', async () => {
    const ext = await choose({ publicIp: '203.0.113.9' });
    expect([ext.ifaceIp.toString(), ext.publicIp.toString()]).toEqual(['192.0.2.10', '203.0.113.9']);
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
