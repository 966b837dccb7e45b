import { CniError } from './cni-error.js';
import { convertResult, parseAndConvertResult } from './cni-result.js';

const v100 = {
  cniVersion: '1.0.0',
  interfaces: [{ name: 'cni0', mac: '0a:00:00:00:00:01' }, { name: 'eth0', mac: '0a:00:00:00:00:02', sandbox: '/var/run/netns/p' }],
  ips: [{ interface: 1, address: '10.244.3.2/24', gateway: '10.244.3.1' }, { interface: 1, address: 'fd00:0:0:3::2/64', gateway: 'fd00:0:0:3::1' }],
  routes: [{ dst: '10.244.0.0/16', gw: '10.244.3.1' }, { dst: 'fd00::/48', gw: 'fd00:0:0:3::1' }],
  dns: {},
};

describe('convertResult', () => {
  it('relabels between 1.0.0 and 1.1.0 without touching anything else', () => {
    expect(convertResult(v100, '1.1.0')).toEqual({ ...v100, cniVersion: '1.1.0' });
  });

  it.each(['0.3.0', '0.3.1', '0.4.0'])('adds ips[].version for %s', (to) => {
    const out = convertResult(v100, to);
    expect(out['cniVersion']).toBe(to);
    expect(out['ips']).toEqual([{ version: '4', ...v100.ips[0] }, { version: '6', ...v100.ips[1] }]);
    expect(out['interfaces']).toEqual(v100.interfaces);
  });

  it('drops ips[].version going from 0.4.0 to 1.x', () => {
    const v040 = convertResult(v100, '0.4.0');
    expect(convertResult(v040, '1.0.0')).toEqual(v100);
  });

  it.each(['0.1.0', '0.2.0'])('splits into ip4/ip6 with per-family routes for %s', (to) => {
    expect(convertResult(v100, to)).toEqual({
      cniVersion: to,
      ip4: { ip: '10.244.3.2/24', gateway: '10.244.3.1', routes: [{ dst: '10.244.0.0/16', gw: '10.244.3.1' }] },
      ip6: { ip: 'fd00:0:0:3::2/64', gateway: 'fd00:0:0:3::1', routes: [{ dst: 'fd00::/48', gw: 'fd00:0:0:3::1' }] },
      dns: {},
    });
  });

  it('reads a 0.2.0 result into the 1.x format', () => {
    const v020 = { cniVersion: '0.2.0', ip4: { ip: '10.244.3.2/24', gateway: '10.244.3.1', routes: [{ dst: '10.244.0.0/16' }] }, dns: {} };
    expect(convertResult(v020, '1.0.0')).toEqual({
      cniVersion: '1.0.0', ips: [{ address: '10.244.3.2/24', gateway: '10.244.3.1' }], routes: [{ dst: '10.244.0.0/16' }], dns: {},
    });
  });

  it.each([
    ['[]', /is not a JSON object/],
    ['not json', /is not JSON/],
    ['{"cniVersion":"1.0.0","ips":{}}', /"ips" that is not a list/],
    ['{"cniVersion":"1.0.0","ips":[{"gateway":"10.0.0.1"}]}', /without "address"/],
    ['{"cniVersion":"0.2.0","ip4":{"gateway":"10.0.0.1"}}', /without "ip"/],
  ])('refuses %s with code 6', (stdout, message) => {
    expect(() => parseAndConvertResult(stdout, '1.0.0')).toThrow(message);
    try {
      parseAndConvertResult(stdout, '1.0.0');
    } catch (err) {
      expect((err as CniError).code).toBe(6);
    }
  });
});
