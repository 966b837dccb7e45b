import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LeaseManager } from '../subnet/lease.js';
import { memoryLogger } from '../test/integration/lease-test-helpers.js';
import type { DaemonOptions } from './daemon-options.js';
import { EXIT_FATAL, runDaemon, type DaemonParts } from './daemon.js';

/** Parts whose lease store serves `netConf`; records which later steps the daemon reached. */
function partsServing(netConf: string): { parts: DaemonParts; reached: string[] } {
  const reached: string[] = [];
  const leaseManager: LeaseManager = {
    readNetworkConfig: () => Promise.resolve(netConf),
    acquireLease: () => {
      reached.push('acquireLease');
      return Promise.reject(new Error('not in this test'));
    },
    watchLeases: () => Promise.resolve(),
    close: () => {
      reached.push('close');
      return Promise.resolve();
    },
  };
  const parts: DaemonParts = {
    leaseManager,
    interfaceInventory: () => {
      reached.push('interfaceInventory');
      return Promise.reject(new Error('stop here: the config was accepted'));
    },
    createBackend: () => {
      throw new Error('not in this test');
    },
  };
  return { parts, reached };
}

describe('runDaemon and the address families', () => {
  let dir: string;
  let options: DaemonOptions;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-daemon-'));
    options = {
      store: { kind: 'etcd', endpoints: [], prefix: '/coreos.com/network' },
      interfaceChoice: { iface: [], ifaceRegex: [] },
      ipMasq: false, ipMasqRandomFully: true, subnetFile: join(dir, 'subnet.env'), renewMarginMinutes: 60,
      healthzIp: '127.0.0.1', healthzPort: 0, iptablesResyncSeconds: 5, iptablesForwardRules: false, resyncMs: 1000, probeRatePerSecond: 0,
    };
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['dual-stack', '{"Network":"10.244.0.0/16","EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"vxlan"}}'],
    ['IPv6-only', '{"EnableIPv4":false,"EnableIPv6":true,"IPv6Network":"fd00:10:244::/56","Backend":{"Type":"host-gw"}}'],
  ])('goes on past the config with a %s network', async (_name, netConf) => {
    const { logger, lines } = memoryLogger();
    const { parts, reached } = partsServing(netConf);
    const code = await runDaemon(options, parts, logger, new AbortController().signal);
    expect(code).toBe(EXIT_FATAL);
    expect(reached).toEqual(['interfaceInventory', 'close']);
    expect(lines).toEqual(['info: network config', 'error: fatal: stop here: the config was accepted']);
  });

  it('goes on past the config with an IPv4-only network', async () => {
    const { logger, lines } = memoryLogger();
    const { parts, reached } = partsServing('{"Network":"10.244.0.0/16","IPv6Network":"fd00::/8","Backend":{"Type":"vxlan"}}');
    const code = await runDaemon(options, parts, logger, new AbortController().signal);
    expect(code).toBe(EXIT_FATAL);
    expect(reached).toEqual(['interfaceInventory', 'close']);
    expect(lines).toEqual([
      'warn: IPv6Network ignored: EnableIPv6 is not true (flannel ignores them too)',
      'info: network config',
      'error: fatal: stop here: the config was accepted',
    ]);
  });
});
