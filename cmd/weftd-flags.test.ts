import { parseWeftdArgs, type ParsedCommandLine } from './weftd-flags.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}): Promise<ParsedCommandLine> => parseWeftdArgs(argv, env, '9.9.9');

async function options(argv: string[], env: NodeJS.ProcessEnv = {}) {
  const parsed = await parse(argv, env);
  if (parsed.kind !== 'run') throw new Error(`expected run, got: ${parsed.output}`);
  return parsed.options;
}

describe('weftd flags', () => {
  it('has flannel defaults', async () => {
    const o = await options([]);
    expect(o.store).toEqual({
      kind: 'etcd', endpoints: ['http://127.0.0.1:4001', 'http://127.0.0.1:2379'], prefix: '/coreos.com/network',
      keyFile: undefined, certFile: undefined, caFile: undefined, username: undefined, password: undefined,
    });
    expect(o.subnetFile).toBe('/run/flannel/subnet.env');
    expect([o.renewMarginMinutes, o.healthzPort, o.iptablesResyncSeconds, o.ipMasq, o.probeRatePerSecond]).toEqual([60, 0, 5, false, 5]);
  });

  it('takes FLANNELD_* variables, and the command line wins', async () => {
    const env = { FLANNELD_ETCD_ENDPOINTS: 'http://192.0.2.1:2379', FLANNELD_IP_MASQ: 'true', FLANNELD_IFACE: 'eth0,eth1', FLANNELD_SUBNET_FILE: '/tmp/a' };
    const o = await options(['--subnet-file', '/tmp/c', '--subnet-file', '/tmp/b'], env);
    expect(o.store.kind === 'etcd' && o.store.endpoints).toEqual(['http://192.0.2.1:2379']);
    expect(o.ipMasq).toBe(true);
    expect(o.interfaceChoice.iface).toEqual(['eth0', 'eth1']);
    expect(o.subnetFile).toBe('/tmp/b');
  });

  it('repeats --iface and reads the node name in kube mode', async () => {
    const o = await options(['--kube-subnet-mgr', '--iface', 'eth0', '--iface', '192.0.2.5'], { NODE_NAME: 'n1' });
    expect(o.interfaceChoice.iface).toEqual(['eth0', '192.0.2.5']);
    expect(o.store).toMatchObject({ kind: 'kube', nodeName: 'n1', annotationPrefix: 'flannel.alpha.coreos.com' });
  });

  it('prints help and version with exit code 0', async () => {
    const help = await parse(['--help']);
    expect(help).toMatchObject({ kind: 'exit', code: 0 });
    expect(help.kind === 'exit' && help.output).toContain('--etcd-endpoints');
    expect(await parse(['--version'])).toEqual({ kind: 'exit', code: 0, output: '9.9.9' });
  });

  it.each([
    [['--no-such-flag'], {}, /Unknown argument/],
    [['--subnet-lease-renew-margin', '0'], {}, /--subnet-lease-renew-margin: 0 is out of range/],
    [['--subnet-lease-renew-margin', 'soon'], {}, /--subnet-lease-renew-margin: must be a number/],
    [['--healthz-port', '70000'], {}, /--healthz-port/],
    [['--probe-rate', '-1'], {}, /--probe-rate: -1 is out of range/],
    [['--etcd-endpoints', '127.0.0.1:2379'], {}, /--etcd-endpoints: "127.0.0.1:2379" is not a URL/],
    [['--etcd-keyfile', '/k'], {}, /give both or neither/],
    [['--log-format', 'xml'], {}, /--log-format/],
    [[], { FLANNELD_IP_MASQ: 'yes' }, /FLANNELD_IP_MASQ: "yes" is not true or false/],
  ])('rejects %j %j with one line and exit code 1', async (argv, env, message) => {
    const parsed = await parse(argv, env);
    expect(parsed.kind).toBe('exit');
    if (parsed.kind !== 'exit') return;
    expect(parsed.code).toBe(1);
    expect(parsed.output).toMatch(message);
    expect(parsed.output).not.toContain('\n');
  });
});
