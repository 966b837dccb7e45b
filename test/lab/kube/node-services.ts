// What runs on a real lab node, inside its NodeHost: containerd (Debian's, CRI plugin, its own
// root/state/socket/runc root), the kubelet (cgroupfs driver, cgroupRoot = the node's cgroup, its own
// node identity) and kube-proxy (iptables mode). Config files are written to the node's host-side
// directory, which the node sees at the same path.
import type { ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { KUBE_BIN_DIR } from '../kube-apiserver.js';
import { DEFAULT_IPV6_NETWORK, DEFAULT_NETWORK } from '../topology.js';
import { DUAL_STACK_GATE } from './control-plane.js';
import type { NodeHost } from './node-host.js';

export const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
export const PAUSE_IMAGE = 'k8s.gcr.io/pause:3.2';

/**
 * containerd's CRI config. restrict_oom_score_adj: this VM withholds CAP_SYS_RESOURCE from root, so
 * runc cannot set the sandbox's oom_score_adj of -998 (every sandbox failed with "can't get final
 * child's PID from pipe: EOF"); the CNI conf dir stays empty until weft's init container fills it.
 */
function containerdConfig(): string {
  return `version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "${CONTAINERD_SOCKET}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "/run/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
`;
}

/** Starts containerd in the node with `root` as its /var/lib/containerd; resolves when its socket answers. */
export async function startContainerd(host: NodeHost): Promise<ChildProcess> {
  const config = join(host.dir, 'containerd.toml');
  await writeFile(config, containerdConfig());
  const child = host.spawn('containerd', 'containerd', ['--config', config, '--log-level', 'warn']);
  await host.waitForPath(CONTAINERD_SOCKET, 30_000, child, 'containerd');
  return child;
}

/** Runs `ctr -n k8s.io` inside the node (its FIFOs live under the node's /run/containerd). */
export async function ctr(host: NodeHost, args: string[]): Promise<string> {
  return (await host.exec('ctr', ['--address', CONTAINERD_SOCKET, '-n', 'k8s.io', ...args])).stdout;
}

function kubeletConfig(host: NodeHost): object {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    cgroupDriver: 'cgroupfs',
    cgroupRoot: host.cgroups.root,
    address: host.ip,
    healthzBindAddress: '127.0.0.1',
    readOnlyPort: 0,
    // The API server (no client certificate) reaches logs and exec; the lab has no other clients.
    authentication: { anonymous: { enabled: true }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    failSwapOn: false,
    oomScoreAdj: 0,
    protectKernelDefaults: false,
    resolvConf: '/etc/resolv.conf',
    // No registry: images must never be garbage-collected, and a busy shared disk must not evict pods.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: { 'memory.available': '10Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
    serializeImagePulls: false,
    staticPodPath: '',
    ...(host.ipv6 ? { featureGates: { IPv6DualStack: true } } : {}),
  };
}

/** Starts the kubelet as node `host.name` with `kubeconfig` (the node's own credentials). */
export async function startKubelet(host: NodeHost, kubeconfig: string): Promise<ChildProcess> {
  const config = join(host.dir, 'kubelet.json');
  await writeFile(config, JSON.stringify(kubeletConfig(host), null, 2));
  return host.spawn('kubelet', join(KUBE_BIN_DIR, 'kubelet'), [
    `--config=${config}`, `--kubeconfig=${kubeconfig}`,
    '--container-runtime=remote', `--container-runtime-endpoint=unix://${CONTAINERD_SOCKET}`,
    `--hostname-override=${host.name}`, `--node-ip=${[host.ip, host.ipv6].filter(Boolean).join(',')}`, `--pod-infra-container-image=${PAUSE_IMAGE}`,
    '--logtostderr=true', '--v=1',
  ]);
}

/** kube-proxy in iptables mode (both families on a dual-stack node); conntrack settings 0 so it writes no global sysctl. */
export function startKubeProxy(host: NodeHost, kubeconfig: string): ChildProcess {
  const clusterCidr = host.ipv6 ? `${DEFAULT_NETWORK},${DEFAULT_IPV6_NETWORK}` : DEFAULT_NETWORK;
  return host.spawn('kube-proxy', join(KUBE_BIN_DIR, 'kube-proxy'), [
    `--kubeconfig=${kubeconfig}`, `--hostname-override=${host.name}`, '--proxy-mode=iptables',
    `--cluster-cidr=${clusterCidr}`, `--bind-address=${host.ip}`, '--metrics-bind-address=127.0.0.1:10249',
    ...(host.ipv6 ? [DUAL_STACK_GATE] : []),
    '--conntrack-max-per-core=0', '--conntrack-min=0',
    '--conntrack-tcp-timeout-established=0', '--conntrack-tcp-timeout-close-wait=0',
    '--oom-score-adj=0', '--logtostderr=true', '--v=1',
  ]);
}
