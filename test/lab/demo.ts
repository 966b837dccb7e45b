// The README's main command: a local multi-node weft cluster in network namespaces, with real
// etcd, real weftd daemons, pods on every node, and real traffic shown as a connectivity matrix.
// Usage: node dist/test/lab/demo.js [--nodes 3] [--backend vxlan|host-gw] [--hold SECONDS]
//        node dist/test/lab/demo.js --kube [--nodes 2] [--hold SECONDS]   (real kubelet nodes, test/lab/kube)
import { parseArgs } from 'node:util';
import { LabCluster, type LabPod } from './cluster.js';
import { DEFAULT_NETWORK } from './topology.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string' },
    kube: { type: 'boolean', default: false },
    backend: { type: 'string', default: 'vxlan' },
    hold: { type: 'string', default: '0' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write('usage: demo [--nodes 2..20] [--backend vxlan|host-gw] [--hold SECONDS]\n' +
    '       demo --kube [--nodes 1..5] [--hold SECONDS]   real Kubernetes nodes, weft applied from its manifest; holds until Ctrl-C\n');
  process.exit(0);
}
const nodeCount = Number(values.nodes ?? (values.kube ? '2' : '3'));
const holdSeconds = Number(values.hold);
if (values.kube) {
  if (!Number.isInteger(nodeCount) || nodeCount < 1 || nodeCount > 5) {
    process.stderr.write('demo --kube: --nodes must be a whole number from 1 to 5 (each real node takes ~300 MB)\n');
    process.exit(1);
  }
  const { runKubeDemo } = await import('./kube/demo-kube.js');
  const ok = await runKubeDemo(nodeCount, Number.isFinite(holdSeconds) ? holdSeconds : 0).catch((err: unknown) => {
    process.stderr.write(`demo --kube failed: ${(err as Error).message}\n`);
    return false;
  });
  process.exit(ok ? 0 : 1);
}
if (!Number.isInteger(nodeCount) || nodeCount < 2 || nodeCount > 20) {
  process.stderr.write('demo: --nodes must be a whole number from 2 to 20\n');
  process.exit(1);
}
if (values.backend !== 'vxlan' && values.backend !== 'host-gw') {
  process.stderr.write('demo: --backend must be vxlan or host-gw\n');
  process.exit(1);
}
if (!Number.isFinite(holdSeconds) || holdSeconds < 0 || holdSeconds > 3600) {
  process.stderr.write('demo: --hold must be 0 to 3600 seconds\n');
  process.exit(1);
}

const say = (line: string): void => {
  process.stdout.write(`${line}\n`);
};

const lab = await LabCluster.create('d');
let failed = false;
try {
  say(`[1/5] underlay bridge 192.0.2.1/24 in namespace ${lab.underlayNs}; starting etcd there`);
  await lab.startEtcd();
  await lab.writeNetworkConfig({ Network: DEFAULT_NETWORK, Backend: { Type: values.backend } });
  say(`[2/5] network config written to etcd: ${DEFAULT_NETWORK}, backend ${values.backend}`);

  say(`[3/5] starting ${nodeCount} nodes, each running weftd in its own namespace`);
  for (let i = 1; i <= nodeCount; i++) lab.startDaemon(await lab.addNode(i));
  for (const node of lab.nodes) say(`      ${node.name} ${node.underlayIp.padEnd(13)} subnet ${await lab.waitForSubnet(node)}`);

  say('[4/5] one pod per node, attached by the weft CNI plugin (bundled conflist: weft -> bridge + host-local, then portmap)');
  const pods: LabPod[] = [];
  for (const node of lab.nodes) pods.push(await lab.addPod(node));
  for (const pod of pods) say(`      ${pod.ns} on ${pod.node.name}: ${pod.ip}`);

  say('[5/5] every pod pings every other pod');
  const matrix = await lab.connectivityMatrix();
  const header = ['from \\ to', ...pods.map((p) => p.ip)];
  say(`      ${header.map((h) => h.padEnd(14)).join('')}`);
  for (const from of pods) {
    const cells = pods.map((to) => (to === from ? '-' : matrix.find((r) => r.from === from && r.to === to)?.ok ? 'ok' : 'FAIL'));
    say(`      ${[from.ip, ...cells].map((c) => c.padEnd(14)).join('')}`);
  }
  const first = lab.nodes[0];
  if (first && values.backend === 'vxlan') {
    say(`\nkernel state on ${first.name}:`);
    say((await lab.nodeExec(first, 'ip', ['-d', 'link', 'show', 'flannel.1'])).trimEnd());
    say((await lab.nodeExec(first, 'ip', ['route', 'show', 'dev', 'flannel.1'])).trimEnd());
    say((await lab.nodeExec(first, 'bridge', ['fdb', 'show', 'dev', 'flannel.1'])).trimEnd());
  }
  failed = matrix.some((r) => !r.ok);
  say(failed ? '\nsome pods could not reach each other' : `\nall ${matrix.length} pod-to-pod paths work`);
  if (holdSeconds > 0) {
    say(`holding the cluster for ${holdSeconds} s (Ctrl-C tears it down); namespaces: ip netns list | grep ${lab.scope.prefix}`);
    await new Promise((resolve) => setTimeout(resolve, holdSeconds * 1000));
  }
} catch (err) {
  failed = true;
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
} finally {
  say('tearing down (CNI DEL for every pod, then daemons, etcd and namespaces)');
  await lab.dispose();
}
process.exit(failed ? 1 : 0);
