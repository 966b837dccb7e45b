// What a lab kube-apiserver needs on disk and on its command line: a CA and serving certificate,
// the service-account key pair and the static token file, made fresh per instance in its work
// directory, and the flags that point at them.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './netns.js';

export interface KubeUser {
  token: string;
  name: string;
  groups?: string[] | undefined;
}

/** Writes ca.{key,crt}, server.{key,crt} (valid for `addresses`, localhost and `extraSans`), sa.{key,pub} and tokens.csv. */
export async function writeApiServerCredentials(
  dir: string,
  opts: { addresses: string[]; extraSans: string[]; users: KubeUser[] },
): Promise<void> {
  await mkdir(join(dir, 'certs'), { recursive: true });
  const openssl = (args: string[]): Promise<unknown> => run('openssl', args);
  // A CA and a serving certificate valid for every name a client may use.
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=weft-lab-ca',
    '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt')]);
  const sans = [...new Set(opts.addresses)].map((ip) => `IP:${ip}`).concat('DNS:localhost', ...opts.extraSans);
  await writeFile(join(dir, 'san.ext'), `subjectAltName=${sans.join(',')}\n`);
  await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kube-apiserver',
    '-keyout', join(dir, 'server.key'), '-out', join(dir, 'server.csr')]);
  await openssl(['x509', '-req', '-in', join(dir, 'server.csr'), '-CA', join(dir, 'ca.crt'), '-CAkey', join(dir, 'ca.key'),
    '-CAcreateserial', '-days', '2', '-extfile', join(dir, 'san.ext'), '-out', join(dir, 'server.crt')]);
  // The service-account key pair (signing and verification).
  await openssl(['genrsa', '-out', join(dir, 'sa.key'), '2048']);
  await openssl(['rsa', '-in', join(dir, 'sa.key'), '-pubout', '-out', join(dir, 'sa.pub')]);
  const lines = opts.users.map((u, i) => `${u.token},${u.name},uid-${i},"${(u.groups ?? []).join(',')}"`);
  await writeFile(join(dir, 'tokens.csv'), lines.join('\n') + '\n', { mode: 0o600 });
}

export interface ApiServerFlags {
  etcdServers: string;
  bindAddress: string;
  securePort: number;
  serviceClusterIpRange: string;
  authorizationMode: string;
  endpointReconciler: string;
  extraArgs: string[];
}

/** kube-apiserver's command line for the files writeApiServerCredentials made in `dir`. */
export function apiServerArgs(dir: string, flags: ApiServerFlags): string[] {
  return [
    `--etcd-servers=${flags.etcdServers}`,
    `--bind-address=${flags.bindAddress}`,
    `--advertise-address=${flags.bindAddress}`,
    `--secure-port=${flags.securePort}`,
    '--insecure-port=0',
    `--cert-dir=${join(dir, 'certs')}`,
    `--tls-cert-file=${join(dir, 'server.crt')}`,
    `--tls-private-key-file=${join(dir, 'server.key')}`,
    `--client-ca-file=${join(dir, 'ca.crt')}`,
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${join(dir, 'sa.pub')}`,
    `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
    `--service-cluster-ip-range=${flags.serviceClusterIpRange}`,
    `--authorization-mode=${flags.authorizationMode}`,
    `--token-auth-file=${join(dir, 'tokens.csv')}`,
    `--endpoint-reconciler-type=${flags.endpointReconciler}`,
    '--enable-priority-and-fairness=false',
    '--logtostderr=true',
    '--v=1',
    ...flags.extraArgs,
  ];
}
