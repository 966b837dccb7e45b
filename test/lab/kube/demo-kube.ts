// `bash test/demo.sh --kube [--nodes N]`: a real Kubernetes cluster (kubelet + containerd nodes in
// namespaces), weft applied from manifests/weft.yaml, one pod per node, pod-to-pod traffic shown,
// then it holds (until Ctrl-C, or --hold seconds) and prints how to use kubectl against it.
import { KUBECTL, RealCluster } from './real-cluster.js';
import { httpGet, ping, runTestPods, WEB_PORT, type TestPod } from './test-pods.js';
import { applyWeft, waitForWeft, WEFT_MANIFEST } from './weft-install.js';

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

async function showTraffic(cluster: RealCluster, pods: TestPod[]): Promise<boolean> {
  let ok = true;
  for (const from of pods) {
    for (const to of pods.filter((p) => p !== from)) {
      const pings = await ping(cluster, from.name, to.ip, 3);
      const http = (await httpGet(cluster, from.name, `http://${to.ip}:${WEB_PORT}/hostname`).catch(() => '')).trim();
      ok &&= pings === 3 && http === to.name;
      say(`      ${from.name} (${from.ip}) -> ${to.name} (${to.ip}): ping ${pings}/3, HTTP /hostname ${http === to.name ? `"${http}"` : 'FAILED'}`);
    }
  }
  return ok;
}

function usage(cluster: RealCluster): void {
  say('\nuse it (from this machine\'s own namespace; the API server is bridged to 127.0.0.1):');
  say(`  export KUBECONFIG=${cluster.adminKubeconfig}`);
  say(`  ${KUBECTL} get nodes -o wide`);
  say(`  ${KUBECTL} -n kube-weft get pods -o wide`);
  say('or from inside the lab (API at https://192.0.2.1:6443):');
  say(`  ip netns exec ${cluster.underlayNs} ${KUBECTL} --kubeconfig ${cluster.labAdminKubeconfig} get pods -A -o wide`);
  say('enter a node (its network, mount and UTS namespaces):');
  for (const node of cluster.nodes) say(`  ${node.name}: nsenter --target ${node.host.initPid} --mount --uts --net bash`);
}

/** Runs the demo; resolves with false when pods could not reach each other. */
export async function runKubeDemo(nodeCount: number, holdSeconds: number): Promise<boolean> {
  const started = Date.now();
  const cluster = await RealCluster.start({ nodes: nodeCount, log: (l) => { say(`      ${l}`); } });
  process.once('SIGINT', () => { say('\nCtrl-C: tearing down (every node process, pod, mount, cgroup and namespace of this run)'); });
  try {
    say(`[1/4] ${nodeCount} nodes registered in ${((Date.now() - started) / 1000).toFixed(0)} s (NotReady until a pod network is installed)`);
    await applyWeft(cluster);
    await waitForWeft(cluster);
    say(`[2/4] kubectl apply -f ${WEFT_MANIFEST}: the DaemonSet runs on every node, nodes Ready`);
    const pods = await runTestPods(cluster, cluster.nodeNames.map((node) => ({ name: `demo-${node}`, node })));
    say('[3/4] one pod per node (kubelet -> containerd -> weft CNI plugin):');
    for (const p of pods) say(`      ${p.name} on ${p.node}: ${p.ip} (node podCIDR ${cluster.node(p.node).podCidr})`);
    say('[4/4] pod-to-pod traffic across nodes over VXLAN:');
    const ok = await showTraffic(cluster, pods);
    say(ok ? `\nall pod-to-pod paths work (${((Date.now() - started) / 1000).toFixed(0)} s from nothing)` : '\nsome pods could not reach each other');
    usage(cluster);
    say(holdSeconds > 0 ? `\nholding for ${holdSeconds} s; Ctrl-C tears it down sooner` : '\nholding until Ctrl-C');
    await new Promise((resolve) => setTimeout(resolve, holdSeconds > 0 ? holdSeconds * 1000 : 2 ** 31 - 1));
    return ok;
  } finally {
    say('tearing down');
    await cluster.dispose();
  }
}
