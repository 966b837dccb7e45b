// The real weftd binary given flags that can never work: each stops at start with exit code 1 and one
// line naming the flag and what to give instead (it used to retry forever, hang, or print "NaN" or
// ENOENT). Nothing is contacted: these fail before any store is reached.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const T = 60_000;
const WEFTD = fileURLToPath(new URL('../../cmd/weftd.js', import.meta.url));

interface Exit {
  /** null when it had to be killed: it did not stop by itself (the bug this test catches). */
  code: number | null;
  output: string;
}

/** Runs weftd; one still running after 45 s (start-up takes ~1 s; far more on a loaded machine) is killed. */
function weftd(args: string[]): Promise<Exit> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [WEFTD, ...args],
      { env: { PATH: process.env['PATH'] ?? '', NODE_NAME: 'flags-test' }, timeout: 45_000, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, output: `${stdout}${stderr}`.trim() });
      },
    );
  });
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'weft-flags-'));
  await writeFile(join(dir, 'bad.yaml'), 'clusters: [unclosed\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('weftd refuses unusable flags at start', () => {
  it.each([
    [['--etcd-endpoints', 'http://127.0.0.1:99999'], '--etcd-endpoints', /port 99999, out of range; use a port from 1 to 65535/],
    [['--etcd-endpoints', 'http://:99999'], '--etcd-endpoints', /has no host; write it like http:\/\/127.0.0.1:2379/],
    [['--subnet-lease-renew-margin', 'abc'], '--subnet-lease-renew-margin', /must be a number, got "abc"; use whole minutes from 1 to 1439/],
    [['--healthz-port', 'abc'], '--healthz-port', /must be a number, got "abc"/],
    [['--kube-subnet-mgr', '--kubeconfig-file', '/nonexistent/kubeconfig'], '--kubeconfig-file', /cannot read \/nonexistent\/kubeconfig \(ENOENT\); give the path of a valid kubeconfig/],
    [['--kube-subnet-mgr', '--kubeconfig-file', '<dir>/bad.yaml'], '--kubeconfig-file', /bad.yaml \(not valid YAML: .*\); give the path/],
  ])('%j: exit 1 with one line naming %s', async (args, flag, fix) => {
    const result = await weftd(args.map((a) => a.replace('<dir>', dir)));
    expect(result.code).toBe(1);
    expect(result.output.split('\n')).toHaveLength(1);
    expect(result.output).toContain(`${flag}:`);
    expect(result.output).toMatch(fix);
    expect(result.output).not.toMatch(/NaN|retrying/);
  }, T);
});
