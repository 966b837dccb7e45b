// The etcd lease manager against a real etcd that demands client certificates (TLS with
// --etcd-keyfile/--etcd-certfile/--etcd-cafile) and one that demands a user name and password.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdServer } from '../lab/etcd-server.js';
import { run, waitFor } from '../lab/netns.js';
import { flannelValue, makeManager, pool, vxlan } from './lease-test-helpers.js';

const T = 60_000;
let dir: string;

/** A CA, and a server and a client certificate signed by it (IP SAN 127.0.0.1). */
async function makeCerts(): Promise<Record<'ca' | 'serverCert' | 'serverKey' | 'clientCert' | 'clientKey', string>> {
  const f = (name: string): string => join(dir, name);
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1', '-subj', '/CN=weft-test-ca']);
  for (const who of ['server', 'client']) {
    await writeFile(f(`${who}.ext`), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n');
    await run('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', f(`${who}.key`), '-out', f(`${who}.csr`), '-subj', `/CN=weft-${who}`]);
    await run('openssl', ['x509', '-req', '-in', f(`${who}.csr`), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f(`${who}.crt`), '-days', '1', '-extfile', f(`${who}.ext`)]);
  }
  return { ca: f('ca.crt'), serverCert: f('server.crt'), serverKey: f('server.key'), clientCert: f('client.crt'), clientKey: f('client.key') };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-etcd-tls-'));
}, T);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
}, T);

describe('EtcdLeaseManager with TLS and with authentication', () => {
  it('talks TLS with a client certificate when key, cert and CA files are given', async () => {
    const c = await makeCerts();
    const etcd = await EtcdServer.start({
      scheme: 'https',
      extraArgs: ['--cert-file', c.serverCert, '--key-file', c.serverKey, '--trusted-ca-file', c.ca, '--client-cert-auth'],
      etcdctlArgs: ['--cacert', c.ca, '--cert', c.clientCert, '--key', c.clientKey],
    });
    const prefix = '/tls/network';
    const { manager, lines } = makeManager(etcd.endpoint, prefix, { caFile: c.ca, certFile: c.clientCert, keyFile: c.clientKey });
    const { manager: noCert, lines: noCertLines } = makeManager(etcd.endpoint, prefix, { caFile: c.ca });
    try {
      expect(etcd.endpoint).toMatch(/^https:/);
      const lease = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.1', '02:00:00:00:00:01') }, AbortSignal.timeout(15_000));
      expect((await etcd.etcdctl(['get', `${prefix}/subnets/${lease.subnet?.toString().replace('/', '-')}`, '--print-value-only'])).trim()).toBe(
        flannelValue('192.0.2.1', '02:00:00:00:00:01'),
      );
      expect(lines.filter((l) => l.startsWith('warn:'))).toEqual([]);
      // Without a client certificate the server refuses us: we keep retrying (and say so), never succeed.
      const refused = noCert.readNetworkConfig(AbortSignal.timeout(3000));
      await expect(refused).rejects.toThrow();
      expect(noCertLines.some((l) => l.startsWith('warn:') && l.includes('failed, retrying'))).toBe(true);
    } finally {
      await manager.close();
      await noCert.close();
      await etcd.dispose();
    }
  }, T);

  it('reports a missing TLS file as a configuration error', async () => {
    const { manager } = makeManager('https://127.0.0.1:1', '/x', { caFile: join(dir, 'nope.crt') });
    await expect(manager.readNetworkConfig(AbortSignal.timeout(5000))).rejects.toThrow(/--etcd-cafile: cannot read/);
    await manager.close();
  }, T);

  it('authenticates with a user name and password', async () => {
    const etcd = await EtcdServer.start();
    const prefix = '/auth/network';
    try {
      await etcd.etcdctl(['user', 'add', 'root:rootpw']);
      await etcd.etcdctl(['user', 'add', 'flannel:s3cret']);
      await etcd.etcdctl(['role', 'add', 'flannel']);
      await etcd.etcdctl(['role', 'grant-permission', 'flannel', '--prefix=true', 'readwrite', `${prefix}/`]);
      await etcd.etcdctl(['user', 'grant-role', 'flannel', 'flannel']);
      await etcd.etcdctl(['auth', 'enable']);
      await etcd.etcdctl(['--user', 'root:rootpw', 'put', `${prefix}/config`, '{"Network":"10.244.0.0/16"}']);

      const { manager, lines } = makeManager(etcd.endpoint, prefix, { username: 'flannel', password: 's3cret' });
      const { manager: anonymous, lines: anonLines } = makeManager(etcd.endpoint, prefix);
      try {
        expect(await manager.readNetworkConfig(AbortSignal.timeout(10_000))).toBe('{"Network":"10.244.0.0/16"}');
        const lease = await manager.acquireLease({ pool: pool(), attrs: vxlan('192.0.2.2', '02:00:00:00:00:02') }, AbortSignal.timeout(10_000));
        const value = await etcd.etcdctl(['--user', 'root:rootpw', 'get', `${prefix}/subnets/${lease.subnet?.toString().replace('/', '-')}`, '--print-value-only']);
        expect(value.trim()).toBe(flannelValue('192.0.2.2', '02:00:00:00:00:02'));
        expect(lines.join('\n')).not.toContain('s3cret'); // never log secrets
        await expect(anonymous.readNetworkConfig(AbortSignal.timeout(2000))).rejects.toThrow();
        await waitFor('a logged refusal', () => anonLines.find((l) => l.includes('failed, retrying')), 1000);
      } finally {
        await manager.close();
        await anonymous.close();
      }
    } finally {
      await etcd.dispose();
    }
  }, T);
});
