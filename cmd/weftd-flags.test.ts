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

  it('accepts the numbers and URLs it checks when they are right', async () => {
    const o = await options([
      '--subnet-lease-renew-margin', '1439', '--healthz-port', '65535', '--probe-rate', '0.5', '--resync-interval', '2.5',
      '--etcd-endpoints', 'https://[2001:db8::1]:2379/,http://etcd-0.example:2379', '--iface-regex', '^eth[0-9]{1,2},x',
    ]);
    expect([o.renewMarginMinutes, o.healthzPort, o.probeRatePerSecond, o.resyncMs]).toEqual([1439, 65535, 0.5, 2500]);
    expect(o.store.kind === 'etcd' && o.store.endpoints).toEqual(['https://[2001:db8::1]:2379/', 'http://etcd-0.example:2379']);
    expect(o.interfaceChoice.ifaceRegex).toEqual(['^eth[0-9]{1,2},x']);
    const kube = await options(['--kube-subnet-mgr', '--kube-api-url', 'https://192.0.2.1']);
    expect(kube.store).toMatchObject({ kind: 'kube', apiUrl: 'https://192.0.2.1' });
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
    // Each number says what was given and what to give, not "NaN".
    [['--subnet-lease-renew-margin', 'abc'], {}, /^weftd: --subnet-lease-renew-margin: must be a number, got "abc"; use whole minutes from 1 to 1439/],
    [['--subnet-lease-renew-margin', '1.5'], {}, /--subnet-lease-renew-margin: 1.5 is out of range; use whole minutes/],
    [[], { FLANNELD_SUBNET_LEASE_RENEW_MARGIN: 'abc' }, /--subnet-lease-renew-margin: must be a number, got "abc"/],
    [['--healthz-port', 'abc'], {}, /--healthz-port: must be a number, got "abc"; use a port from 1 to 65535/],
    [['--healthz-port', '80x'], {}, /--healthz-port: must be a number, got "80x"/],
    [['--iptables-resync', 'NaN'], {}, /--iptables-resync: must be a number, got "NaN"; use seconds above 0/],
    [['--iptables-resync', '0'], {}, /--iptables-resync: 0 is out of range/],
    [['--resync-interval', '1e9'], {}, /--resync-interval: must be a number, got "1e9"/],
    [['--resync-interval', '9999999'], {}, /--resync-interval: 9999999 is out of range; use seconds above 0, at most 86400/],
    [['--probe-rate', 'fast'], {}, /--probe-rate: must be a number, got "fast"/],
    // URLs that could never be reached stop at start instead of retrying forever.
    [['--etcd-endpoints', 'http://127.0.0.1:99999'], {}, /--etcd-endpoints: "http:\/\/127.0.0.1:99999" has port 99999, out of range; use a port from 1 to 65535/],
    [['--etcd-endpoints', 'http://:99999'], {}, /--etcd-endpoints: "http:\/\/:99999" has no host; write it like http:\/\/127.0.0.1:2379/],
    [['--etcd-endpoints', 'http://:2379'], {}, /has no host/],
    [['--etcd-endpoints', 'http://127.0.0.1:2379,http://192.0.2.1'], {}, /"http:\/\/192.0.2.1" has no port/],
    [['--etcd-endpoints', 'http://127.0.0.1:0'], {}, /port 0, out of range/],
    [['--etcd-endpoints', 'http://127.0.0.1:23x9'], {}, /port 23x9, out of range/],
    [['--etcd-endpoints', 'http://127.0.0.1:2379/v3'], {}, /has a path/],
    [['--kube-subnet-mgr', '--kube-api-url', 'https://:6443'], {}, /--kube-api-url: "https:\/\/:6443" has no host/],
    [['--kube-subnet-mgr', '--kube-api-url', 'https://192.0.2.1:70000'], {}, /--kube-api-url: .* has port 70000, out of range/],
    [['--kube-subnet-mgr', '--kube-api-url', '192.0.2.1:6443'], {}, /--kube-api-url: "192.0.2.1:6443" is not a URL like https:/],
    [['--healthz-ip', 'localhost'], {}, /--healthz-ip: "localhost" is not an IP address/],
    [['--public-ip', '1.2.3'], {}, /--public-ip: "1.2.3" is not an IPv4 address/],
    [['--iface-can-reach', 'example.com'], {}, /--iface-can-reach: "example.com" is not an IP address/],
    [['--public-ipv6', '192.0.2.1'], {}, /--public-ipv6: "192.0.2.1" is not an IPv6 address; write it like 2001:db8::10/],
    [['--iface-regex', '('], {}, /--iface-regex: "\(" is not a valid regular expression/],
    [['--kube-subnet-mgr', '--kube-annotation-prefix', 'org'], {}, /--kube-annotation-prefix: "org" is not a prefix flannel accepts/],
  ])('rejects %j %j with one line and exit code 1', async (argv, env, message) => {
    const parsed = await parse(argv, env);
    expect(parsed.kind).toBe('exit');
    if (parsed.kind !== 'exit') return;
    expect(parsed.code).toBe(1);
    expect(parsed.output).toMatch(message);
    expect(parsed.output).not.toContain('\n');
  });
});
