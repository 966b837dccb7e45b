// weftd's memory in kube mode: a real kube-apiserver (test/lab/kube-apiserver.ts) with N fake
// peer Nodes (pod CIDR + flannel's annotations), weftd started as Node n1; VmRSS after settling.
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { LabCluster, type LabNode } from '../lab/cluster.js';
import { KUBE_APISERVER_BINARY, type KubeApiServer } from '../lab/kube-apiserver.js';
import { sleep } from './convergence.js';
import { BENCH_NETWORK, fakePeer } from './fake-leases.js';
import { median, waitForEntries } from './kernel-state.js';
import { rssMib, startWeftd } from './weftd-process.js';

const ANNOTATION = 'flannel.alpha.coreos.com';
const CREATES_IN_FLIGHT = 16;

export function kubeAvailable(): boolean {
  return existsSync(KUBE_APISERVER_BINARY);
}

async function createPeerNodes(server: KubeApiServer, peers: number): Promise<void> {
  for (let i = 0; i < peers; i += CREATES_IN_FLIGHT) {
    await Promise.all(Array.from({ length: Math.min(CREATES_IN_FLIGHT, peers - i) }, (_, k) => {
      const p = fakePeer(i + k);
      return server.createNode(`peer-${i + k}`, p.subnet, {
        [`${ANNOTATION}/kube-subnet-manager`]: 'true',
        [`${ANNOTATION}/backend-type`]: 'vxlan',
        [`${ANNOTATION}/backend-data`]: JSON.stringify({ VNI: 1, VtepMAC: p.mac }),
        [`${ANNOTATION}/public-ip`]: p.publicIp,
      });
    }));
  }
}

/** A lab node n1 and what weftd needs to run in kube mode against a kube-apiserver holding N peer Nodes. */
export interface KubeBenchLab {
  lab: LabCluster;
  node: LabNode;
  store: { kubeconfig: string; netConf: string };
}

export async function withKubeLab<T>(peers: number, body: (k: KubeBenchLab) => Promise<T>): Promise<T> {
  const lab = await LabCluster.create('k');
  try {
    const server = await lab.startKubeApiServer('AlwaysAllow');
    await createPeerNodes(server, peers);
    await server.createNode('n1', '10.0.0.0/24');
    const kubeconfig = await server.writeKubeconfig(server.adminToken, join(lab.workDir, 'kubeconfig-bench'), server.url);
    const netConf = join(lab.workDir, 'net-conf.json');
    await lab.writeKubeNetConf({ Network: BENCH_NETWORK, SubnetLen: 24, Backend: { Type: 'vxlan' } });
    const node = await lab.addNode(1);
    return await body({ lab, node, store: { kubeconfig, netConf } });
  } finally {
    await lab.dispose();
  }
}

/** RSS (MiB) of weftd in kube mode with `peers` peer Nodes, settleMs after it converged; one run each. */
export async function kubeRss(peers: number, runs: number, settleMs: number, progress: (l: string) => void): Promise<number> {
  return withKubeLab(peers, async ({ lab, node, store }) => {
    const samples: number[] = [];
    for (let r = 0; r < runs; r++) {
      // The last run's subnet.env would pass for this one's readiness.
      await rm(node.subnetFile, { force: true });
      const daemon = startWeftd(lab, node, { store });
      await lab.waitForSubnet(node, 60_000);
      if (peers > 0) await waitForEntries(lab.scope, node.ns, peers, performance.now(), 120_000);
      await sleep(settleMs);
      samples.push(await rssMib(daemon.pid));
      await lab.stopDaemon(node);
    }
    progress(`  kube mode, ${peers} peers: RSS ${samples.map((s) => s.toFixed(0)).join(', ')} MiB`);
    return median(samples);
  });
}
