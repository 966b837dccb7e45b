// weftctl against a real etcd on host loopback: leases in flannel's exact format are listed (table and
// JSON), watched live (added/removed, bounded by --timeout, stopped by SIGINT), and `config set` refuses
// invalid configs and configs that would orphan leases, leaving etcd unchanged.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EtcdServer } from '../lab/etcd-server.js';
import { stopProcess, waitFor } from '../lab/netns.js';

const T = 60_000;
const WEFTCTL = fileURLToPath(new URL('../../cmd/weftctl.js', import.meta.url));
const PREFIX = '/coreos.com/network';
const CONFIG = '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}';

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

let etcd: EtcdServer;
let workDir: string;
const children = new Set<ChildProcess>();

function start(args: string[], env: Record<string, string> = {}, stdin?: string): { child: ChildProcess; done: Promise<Result>; stdout: () => string } {
  const child = spawn(process.execPath, [WEFTCTL, ...args], { env: { PATH: process.env['PATH'] ?? '', ...env }, stdio: 'pipe' });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(stdin ?? '');
  const done = new Promise<Result>((resolve) => {
    child.once('exit', (code) => {
      children.delete(child);
      // Let the pipes drain.
      setImmediate(() => { resolve({ code, stdout, stderr }); });
    });
  });
  return { child, done, stdout: () => stdout };
}

const weftctl = (args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Result> =>
  start(['--etcd-endpoints', etcd.endpoint, ...args], env, stdin).done;

async function putLease(subnet: string, value: string, ttlSeconds?: number): Promise<void> {
  const key = `${PREFIX}/subnets/${subnet.replace('/', '-')}`;
  if (ttlSeconds === undefined) {
    await etcd.etcdctl(['put', key, value]);
    return;
  }
  const grant = await etcd.etcdctl(['lease', 'grant', String(ttlSeconds)]);
  const id = /lease ([0-9a-f]+) granted/.exec(grant)?.[1];
  if (!id) throw new Error(`no lease id in ${grant}`);
  await etcd.etcdctl(['put', '--lease', id, key, value]);
}

const vxlanValue = (ip: string, mac: string): string =>
  `{"PublicIP":"${ip}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"${mac}"}}`;
const hostGwValue = (ip: string): string => `{"PublicIP":"${ip}","PublicIPv6":null,"BackendType":"host-gw"}`;
const storedConfig = async (): Promise<string> => (await etcd.etcdctl(['get', `${PREFIX}/config`, '--print-value-only'])).trim();

beforeAll(async () => {
  etcd = await EtcdServer.start();
  workDir = await mkdtemp(join(tmpdir(), 'weftctl-'));
}, T);

afterAll(async () => {
  await Promise.all([...children].map((c) => stopProcess(c, 2000)));
  await etcd.dispose();
  await rm(workDir, { recursive: true, force: true });
}, T);

beforeEach(async () => {
  await etcd.etcdctl(['del', '--prefix', PREFIX]);
  await etcd.etcdctl(['put', `${PREFIX}/config`, CONFIG]);
});

describe('weftctl leases list', () => {
  it('shows every lease written in flannel format, as a table and as JSON', async () => {
    await putLease('10.244.1.0/24', vxlanValue('192.0.2.11', 'c6:d2:32:6f:8f:44'), 3600);
    await putLease('10.244.2.0/24', hostGwValue('192.0.2.12'), 3600);
    await putLease('10.244.3.0/24', vxlanValue('192.0.2.13', '0a:00:00:00:00:13')); // a reservation (no etcd lease)
    await putLease('10.244.4.0/24', '{"PublicIP":"not-an-ip"}', 3600);

    const table = await weftctl(['leases', 'list']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^SUBNET\s+PUBLIC-IP\s+BACKEND\s+VTEP-MAC\s+EXPIRES$/);
    expect(lines).toHaveLength(4);
    expect(lines[1]).toMatch(/^10\.244\.1\.0\/24\s+192\.0\.2\.11\s+vxlan\s+c6:d2:32:6f:8f:44\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(lines[2]).toMatch(/^10\.244\.2\.0\/24\s+192\.0\.2\.12\s+host-gw\s+-\s+\d{4}-/);
    expect(lines[3]).toMatch(/^10\.244\.3\.0\/24\s+192\.0\.2\.13\s+vxlan\s+0a:00:00:00:00:13\s+never \(reservation\)$/);
    expect(table.stderr).toContain('10.244.4.0-24');

    const json = await weftctl(['leases', 'list', '--json']);
    expect(json.code).toBe(0);
    const leases = JSON.parse(json.stdout) as { subnet: string; publicIp: string; backendType: string; vtepMac?: string; vni?: number; expiresAt: string | null }[];
    expect(leases.map((l) => l.subnet)).toEqual(['10.244.1.0/24', '10.244.2.0/24', '10.244.3.0/24']);
    expect(leases[0]).toMatchObject({ publicIp: '192.0.2.11', backendType: 'vxlan', vni: 1, vtepMac: 'c6:d2:32:6f:8f:44' });
    const expires = Date.parse(leases[0]?.expiresAt ?? '');
    expect(Math.abs(expires - (Date.now() + 3600_000))).toBeLessThan(60_000);
    expect(leases[2]?.expiresAt).toBeNull();
  }, T);

  it('reads the endpoints from FLANNELD_ETCD_ENDPOINTS and fails with exit 1 when etcd is unreachable', async () => {
    await putLease('10.244.7.0/24', hostGwValue('192.0.2.17'), 3600);
    const viaEnv = await start(['leases', 'list', '--json'], { FLANNELD_ETCD_ENDPOINTS: etcd.endpoint }).done;
    expect(viaEnv.code).toBe(0);
    expect((JSON.parse(viaEnv.stdout) as unknown[]).length).toBe(1);
    // Port 1 on loopback: nothing listens there.
    const down = await start(['--etcd-endpoints', 'http://127.0.0.1:1', 'leases', 'list']).done;
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^weftctl: /);
  }, T);
});

describe('weftctl with IPv6-only and dual-stack leases', () => {
  const v6OnlyValue = '{"PublicIP":"0.0.0.0","PublicIPv6":"2001:db8::15","BackendType":"vxlan","BackendV6Data":{"VNI":1,"VtepMAC":"0a:00:00:00:06:15"}}';
  const dualValue =
    '{"PublicIP":"192.0.2.16","PublicIPv6":"2001:db8::16","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:00:00:00:00:16"},"BackendV6Data":{"VNI":1,"VtepMAC":"0a:00:00:00:06:16"}}';

  it('lists an IPv6-only lease by its IPv6 half, JSON with both halves, and watches it come and go', async () => {
    await putLease('0.0.0.0-0&fd00:10:244:15::-64', v6OnlyValue, 3600);
    await putLease('10.244.16.0-24&fd00:10:244:16::-64', dualValue, 3600);
    const table = await weftctl(['leases', 'list']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[1]).toMatch(/^10\.244\.16\.0\/24\s+192\.0\.2\.16\s+vxlan\s+0a:00:00:00:00:16\s+\d{4}-/);
    expect(lines[2]).toMatch(/^fd00:10:244:15::\/64\s+2001:db8::15\s+vxlan\s+0a:00:00:00:06:15\s+\d{4}-/);
    const json = JSON.parse((await weftctl(['leases', 'list', '--json'])).stdout) as Record<string, unknown>[];
    expect(json.map(({ expiresAt: _, ...rest }) => rest)).toEqual([
      { subnet: '10.244.16.0/24', publicIp: '192.0.2.16', backendType: 'vxlan', vni: 1, vtepMac: '0a:00:00:00:00:16', ipv6Subnet: 'fd00:10:244:16::/64', publicIpv6: '2001:db8::16', vniV6: 1, vtepMacV6: '0a:00:00:00:06:16' },
      { subnet: 'fd00:10:244:15::/64', backendType: 'vxlan', ipv6Subnet: 'fd00:10:244:15::/64', publicIpv6: '2001:db8::15', vniV6: 1, vtepMacV6: '0a:00:00:00:06:15' },
    ]);

    const watch = start(['--etcd-endpoints', etcd.endpoint, 'leases', 'watch', '--changes-only', '--timeout', '15']);
    // The watch has started once a change shows up; keep rewriting the IPv6-only lease until one does.
    let n = 20;
    await waitFor('a change line', async () => {
      if (watch.stdout() !== '') return true;
      await putLease(`0.0.0.0-0&fd00:10:244:${n++}::-64`, v6OnlyValue, 3600);
      return undefined;
    }, 15_000, 300);
    const added = watch.stdout().split('\n')[0] ?? '';
    expect(added).toMatch(/^ADDED\s+fd00:10:244:\d+::\/64\s+2001:db8::15\s+vxlan\s+0a:00:00:00:06:15$/);
    const subnet = /fd00:10:244:(\d+)::/.exec(added)?.[1] ?? '';
    await etcd.etcdctl(['del', `${PREFIX}/subnets/0.0.0.0-0&fd00:10:244:${subnet}::-64`]);
    await waitFor('the removal', () => (watch.stdout().includes('REMOVED') ? true : undefined), 10_000);
    watch.child.kill('SIGINT');
    expect((await watch.done).stdout).toMatch(new RegExp(`\\nREMOVED\\s+fd00:10:244:${subnet}::/64\\s+2001:db8::15`));
  }, T);
});

describe('weftctl leases watch', () => {
  it('prints added and removed leases live as JSON lines and stops at --timeout', async () => {
    await putLease('10.244.1.0/24', vxlanValue('192.0.2.11', '0a:00:00:00:00:11'), 3600);
    const watch = start(['--etcd-endpoints', etcd.endpoint, 'leases', 'watch', '--json', '--timeout', '15']);
    const lines = (): { type: string; lease: { subnet: string; publicIp: string } }[] =>
      watch.stdout().split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as { type: string; lease: { subnet: string; publicIp: string } });
    await waitFor('the existing lease', () => (lines().length >= 1 ? true : undefined), 10_000);
    await putLease('10.244.2.0/24', hostGwValue('192.0.2.12'), 3600);
    await waitFor('the new lease', () => (lines().length >= 2 ? true : undefined), 10_000);
    await etcd.etcdctl(['del', `${PREFIX}/subnets/10.244.1.0-24`]);
    await waitFor('the removal', () => (lines().length >= 3 ? true : undefined), 10_000);
    const result = await watch.done;
    expect(result.code).toBe(0);
    expect(lines().map((l) => [l.type, l.lease.subnet])).toEqual([
      ['added', '10.244.1.0/24'],
      ['added', '10.244.2.0/24'],
      ['removed', '10.244.1.0/24'],
    ]);
    expect(lines()[1]?.lease.publicIp).toBe('192.0.2.12');
  }, T);

  it('prints only changes with --changes-only, as table lines, and exits 0 on SIGINT', async () => {
    await putLease('10.244.1.0/24', vxlanValue('192.0.2.11', '0a:00:00:00:00:11'), 3600);
    const watch = start(['--etcd-endpoints', etcd.endpoint, 'leases', 'watch', '--changes-only']);
    // The watch has started once a change shows up; keep writing new leases until one does.
    let n = 10;
    await waitFor('a change line', async () => {
      if (watch.stdout() !== '') return true;
      await putLease(`10.244.${n++}.0/24`, hostGwValue('192.0.2.50'), 3600);
      return undefined;
    }, 15_000, 300);
    watch.child.kill('SIGINT');
    const result = await watch.done;
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('10.244.1.0/24');
    expect(result.stdout.split('\n')[0]).toMatch(/^ADDED\s+10\.244\.\d+\.0\/24\s+192\.0\.2\.50\s+host-gw\s+-$/);
  }, T);
});

describe('weftctl config', () => {
  it('gets the config and sets a valid one from stdin', async () => {
    const get = await weftctl(['config', 'get']);
    expect(get).toMatchObject({ code: 0, stdout: `${CONFIG}\n` });
    await putLease('10.244.1.0/24', hostGwValue('192.0.2.11'), 3600);
    const next = '{"Network":"10.244.0.0/16","Backend":{"Type":"host-gw"}}';
    const set = await weftctl(['config', 'set', '-'], {}, next);
    expect(set.code).toBe(0);
    expect(await storedConfig()).toBe(next);
  }, T);

  it('refuses an invalid config and leaves etcd unchanged', async () => {
    const file = join(workDir, 'bad.json');
    // (A Network with host bits set is no longer refused: it is masked as flannel does, with a note.)
    await writeFile(file, '{"Network":"10.244.0.0/29"}');
    const bad = await weftctl(['config', 'set', file]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('Network');
    expect(bad.stderr).toContain('too small');
    const notJson = await weftctl(['config', 'set', '-'], {}, '{"Network": ');
    expect(notJson.code).toBe(1);
    // Dual stack without its IPv6 network: the field is named.
    const dual = await weftctl(['config', 'set', '-'], {}, '{"Network":"10.244.0.0/16","EnableIPv6":true}');
    expect(dual.code).toBe(1);
    expect(dual.stderr).toMatch(/refusing the new config: IPv6Network: is missing/);
    expect(await storedConfig()).toBe(CONFIG);
  }, T);

  it('refuses a config that would orphan leases unless --force', async () => {
    await putLease('10.244.1.0/24', vxlanValue('192.0.2.11', '0a:00:00:00:00:11'), 3600);
    await putLease('10.244.2.0/24', vxlanValue('192.0.2.12', '0a:00:00:00:00:12'), 3600);
    const moved = '{"Network":"10.245.0.0/16","Backend":{"Type":"vxlan"}}';
    const refused = await weftctl(['config', 'set', '-'], {}, moved);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('10.244.1.0/24: outside Network 10.245.0.0/16');
    expect(refused.stderr).toContain('10.244.2.0/24');
    expect(await storedConfig()).toBe(CONFIG);

    const resized = '{"Network":"10.244.0.0/16","SubnetLen":25,"Backend":{"Type":"vxlan"}}';
    const refusedLen = await weftctl(['config', 'set', '-'], {}, resized);
    expect(refusedLen.code).toBe(1);
    expect(refusedLen.stderr).toContain('prefix /24 differs from SubnetLen 25');
    expect(await storedConfig()).toBe(CONFIG);

    const forced = await weftctl(['config', 'set', '-', '--force'], {}, moved);
    expect(forced.code).toBe(0);
    expect(await storedConfig()).toBe(moved);
  }, T);

  it('exits 2 on usage errors', async () => {
    expect((await weftctl(['config', 'set'])).code).toBe(2);
    expect((await weftctl(['config', 'frob'])).code).toBe(2);
    expect((await weftctl(['leases', 'watch', '--timeout', '-1'])).code).toBe(2);
    expect((await weftctl(['--kube-subnet-mgr', 'config', 'get'])).code).toBe(2);
  }, T);
});
