// Runs Kubernetes' own e2e suite (e2e.test v1.20.2, built by test/lab/build-kube.sh) against a lab
// cluster and reads its JUnit report. e2e.test runs inside the lab's underlay namespace (it reaches
// the API server and the nodes there, nothing outside) and in a private mount namespace whose
// /etc/hosts points google.com at a stand-in HTTP server in the lab: `[sig-network] Networking`
// fetches http://google.com in the e2e process before each test, and the lab has no internet.
import { once } from 'node:events';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { KUBE_BIN_DIR } from './kube-apiserver.js';
import { stopProcess, type NetnsScope } from './netns.js';

/** Suites of Kubernetes' own tests that judge the pod network. */
export const UPSTREAM_SUITES = {
  /** Regular run (~3 min): pod-to-pod and node-to-pod http/udp, static URLs, kube-proxy, basic Services. */
  regular: [
    '\\[sig-network\\] Networking Granular Checks: Pods',
    '\\[sig-network\\] Networking should',
    '\\[sig-network\\] Services should serve a basic endpoint from pods',
    '\\[sig-network\\] Services should serve multiport endpoints from pods',
  ].join('|'),
  /** Opt-in longer run (~12 min). */
  services: '\\[sig-network\\] Networking Granular Checks: Services',
  /** Kubernetes 1.20's 29 NetworkPolicy tests and the API test (~45 min when policy is enforced: each test waits out its denied connections). */
  netpol: '\\[sig-network\\] NetworkPolicy',
  /** Kubernetes 1.20's dual-stack tests (21, ~6 min); the cluster is then dual-stack and weft runs with EnableIPv6. */
  dualstack: '\\[Feature:IPv6DualStackAlphaFeature\\]',
} as const;
export type UpstreamSuite = keyof typeof UPSTREAM_SUITES;

/** What this machine cannot run: disruptive/serial tests, the internet, SCTP, DNS (no CoreDNS). */
export const UPSTREAM_SKIP = '\\[Serial\\]|\\[Disruptive\\]|\\[Slow\\]|Internet connection|\\[Feature:SCTP|SCTPConnectivity|DNS';

export interface UpstreamTarget {
  scope: NetnsScope;
  /** Namespace where e2e.test runs; it must reach the API server and the nodes. */
  netns: string;
  /** An address of `netns` where port 80 is free: the google.com stand-in listens there. */
  standInAddress: string;
  /** Admin kubeconfig whose server URL works from inside `netns`. */
  kubeconfig: string;
  nodeCount: number;
}

export interface UpstreamResult {
  passed: string[];
  failed: string[];
  reportDir: string;
  /** True when e2e.test was stopped at timeoutMs: the tests it had not reached are in neither list. */
  timedOut: boolean;
}

/** Runs the focused tests and resolves with the names of those that passed and failed. */
export async function runUpstreamE2e(
  target: UpstreamTarget,
  opts: { focus: string; skip?: string; reportDir: string; timeoutMs: number; log?: (line: string) => void },
): Promise<UpstreamResult> {
  await mkdir(opts.reportDir, { recursive: true });
  let timedOut = false;
  const hostsFile = join(opts.reportDir, 'hosts');
  await writeFile(hostsFile, `127.0.0.1 localhost\n${target.standInAddress} google.com www.google.com\n`);
  const standIn = target.scope.spawn(target.netns, process.execPath, [
    '-e',
    `require('http').createServer((q, s) => s.end('ok')).listen(80, '${target.standInAddress}', () => console.log('ready'))`,
  ]);
  if (standIn.stdout) await once(standIn.stdout, 'data');
  try {
    const args = e2eArgs(target, opts.focus, opts.skip ?? UPSTREAM_SKIP, opts.reportDir);
    // nsenter and unshare exec in turn, so the child's PID is e2e.test's own.
    const child = spawn('nsenter', [
      `--net=/run/netns/${target.netns}`, 'unshare', '--mount', '--propagation', 'private', '--',
      'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hostsFile, `${KUBE_BIN_DIR}/e2e.test`, ...args,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    target.scope.track(child);
    const logFile = createWriteStream(join(opts.reportDir, 'e2e.log'));
    child.stdout.pipe(logFile);
    child.stderr.pipe(logFile);
    child.stdout.on('data', (chunk: Buffer) => {
      progress(chunk, opts.log);
    });
    const exited = once(child, 'exit');
    const timer = setTimeout(() => {
      timedOut = true;
      void stopProcess(child, 5000);
    }, opts.timeoutMs);
    await exited;
    clearTimeout(timer);
  } finally {
    await stopProcess(standIn, 2000);
  }
  return { ...(await readJunit(opts.reportDir)), reportDir: opts.reportDir, timedOut };
}

function e2eArgs(target: UpstreamTarget, focus: string, skip: string, reportDir: string): string[] {
  return [
    `--kubeconfig=${target.kubeconfig}`,
    '--provider=local',
    `--num-nodes=${target.nodeCount}`,
    `--kubectl-path=${KUBE_BIN_DIR}/kubectl`,
    '--minStartupPods=0',
    '--system-pods-startup-timeout=2m',
    '--allowed-not-ready-nodes=0',
    '--node-schedulable-timeout=2m',
    '--disable-log-dump',
    `--report-dir=${reportDir}`,
    `--ginkgo.focus=${focus}`,
    `--ginkgo.skip=${skip}`,
    '--ginkgo.noColor',
  ];
}

/** Passes e2e.test's one-line verdicts ("• [SLOW TEST]", "• Failure", "Ran N of M Specs") on. */
function progress(chunk: Buffer, log: ((line: string) => void) | undefined): void {
  if (!log) return;
  for (const line of chunk.toString().split('\n')) {
    if (/^(• Failure|Ran \d+ of \d+|SUCCESS!|FAIL!|\[It\]|STEP: Creating|• \[)/.test(line.trim())) log(line.trim());
  }
}

/** Reads every junit_*.xml that e2e.test wrote; a test that ran is passed unless it has a failure. */
export async function readJunit(reportDir: string): Promise<{ passed: string[]; failed: string[] }> {
  const files = (await readdir(reportDir)).filter((f) => /^junit.*\.xml$/.test(f));
  if (files.length === 0) throw new Error(`e2e.test wrote no JUnit report in ${reportDir}; see ${reportDir}/e2e.log`);
  const passed: string[] = [];
  const failed: string[] = [];
  for (const file of files) {
    const xml = await readFile(join(reportDir, file), 'utf8');
    for (const match of xml.matchAll(/<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g)) {
      const name = decodeXml(/name="([^"]*)"/.exec(match[1] ?? '')?.[1] ?? '?');
      const body = match[3] ?? '';
      if (/<skipped/.test(body)) continue;
      if (/<failure|<error/.test(body)) failed.push(name);
      else passed.push(name);
    }
  }
  return { passed, failed };
}

function decodeXml(text: string): string {
  return text.replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
}

