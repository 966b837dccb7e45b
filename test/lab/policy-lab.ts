// A node for policy tests: a namespace with a bridge (10.244.1.1/24, fd00:1::1/64) as the CNI
// bridge plugin makes it, pod namespaces on veths, and an "outside" namespace routed through the
// node (192.0.2.2, standing for another node or host). Every pod and the outside run the probe
// agent (test/lab/netpol-agent.ts). Everything lives in the scope's namespaces.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NetnsScope } from './netns.js';

const AGENT = fileURLToPath(new URL('./netpol-agent.js', import.meta.url));

export interface PolicyLabPod {
  name: string;
  ns: string;
  ip: string;
  ip6: string;
}

export interface ProbeResult {
  ok: number;
  failed: number;
}

class Agent {
  private nextId = 1;
  private readonly waiting = new Map<number, (result: ProbeResult) => void>();
  readonly ready: Promise<void>;

  constructor(readonly process: ChildProcess) {
    let markReady: () => void = () => undefined;
    this.ready = new Promise((resolve) => { markReady = resolve; });
    if (!process.stdout) throw new Error('agent has no stdout');
    createInterface({ input: process.stdout }).on('line', (line) => {
      const message = JSON.parse(line) as { ready?: boolean; id?: number } & ProbeResult;
      if (message.ready) markReady();
      if (message.id !== undefined) {
        this.waiting.get(message.id)?.({ ok: message.ok, failed: message.failed });
        this.waiting.delete(message.id);
      }
    });
  }

  probe(protocol: 'tcp' | 'udp', host: string, port: number, options: { timeoutMs?: number; count?: number; intervalMs?: number } = {}): Promise<ProbeResult> {
    const id = this.nextId++;
    const request = { id, protocol, host, port, timeoutMs: options.timeoutMs ?? 400, count: options.count ?? 1, intervalMs: options.intervalMs ?? 0 };
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.process.stdin?.write(`${JSON.stringify(request)}\n`);
    });
  }
}

export class PolicyLab {
  readonly pods: PolicyLabPod[] = [];
  private readonly agents = new Map<string, Agent>();
  outsideNs = '';

  private constructor(readonly scope: NetnsScope, readonly nodeNs: string) {}

  static async create(podNames: readonly string[]): Promise<PolicyLab> {
    const scope = new NetnsScope();
    try {
      const nodeNs = await scope.createNamespace('pnode');
      const lab = new PolicyLab(scope, nodeNs);
      await scope.exec(nodeNs, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1']);
      await scope.ipBatch(nodeNs, [
        'link add cni0 type bridge', 'addr add 10.244.1.1/24 dev cni0', 'addr add fd00:1::1/64 dev cni0 nodad', 'link set cni0 up',
      ]);
      for (const [i, name] of podNames.entries()) await lab.addPod(name, i + 11);
      await lab.addOutside();
      await Promise.all([...lab.agents.values()].map((a) => a.ready));
      return lab;
    } catch (err) {
      await scope.dispose();
      throw err;
    }
  }

  pod(name: string): PolicyLabPod {
    const pod = this.pods.find((p) => p.name === name);
    if (!pod) throw new Error(`no pod ${name}`);
    return pod;
  }

  /** Probes from a pod (or "outside", or "node" for the node itself) to an address. */
  probe(from: string, protocol: 'tcp' | 'udp', host: string, port: number, options: { timeoutMs?: number; count?: number; intervalMs?: number } = {}): Promise<ProbeResult> {
    const agent = this.agents.get(from);
    if (!agent) throw new Error(`no agent ${from}`);
    return agent.probe(protocol, host, port, options);
  }

  /** One probe: true when it was answered. */
  async reaches(from: string, protocol: 'tcp' | 'udp', host: string, port: number): Promise<boolean> {
    return (await this.probe(from, protocol, host, port)).ok === 1;
  }

  async dispose(): Promise<void> {
    await this.scope.dispose();
  }

  private async addPod(name: string, host: number): Promise<void> {
    const ns = await this.scope.createNamespace(`p${name}`);
    const hostSide = `veth${name}`;
    const ip = `10.244.1.${String(host)}`;
    const ip6 = `fd00:1::${String(host)}`;
    await this.scope.ipBatch(this.nodeNs, [`link add ${hostSide} type veth peer name eth0 netns ${ns}`, `link set ${hostSide} master cni0 up`]);
    await this.scope.ipBatch(ns, [
      `addr add ${ip}/24 dev eth0`, `addr add ${ip6}/64 dev eth0 nodad`, 'link set eth0 up',
      'route add default via 10.244.1.1', 'route add default via fd00:1::1',
    ]);
    this.pods.push({ name, ns, ip, ip6 });
    this.startAgent(name, ns);
  }

  private async addOutside(): Promise<void> {
    const ns = await this.scope.createNamespace('pout');
    await this.scope.ipBatch(this.nodeNs, ['link add vout type veth peer name eth0 netns ' + ns, 'addr add 192.0.2.1/24 dev vout', 'link set vout up']);
    await this.scope.ipBatch(ns, ['addr add 192.0.2.2/24 dev eth0', 'link set eth0 up', 'route add default via 192.0.2.1']);
    this.outsideNs = ns;
    this.startAgent('outside', ns);
    this.startAgent('node', this.nodeNs);
  }

  private startAgent(name: string, ns: string): void {
    // The node's agent serves other ports so that it does not shadow anything.
    const ports = name === 'node' ? '8080' : '80,81';
    const child = this.scope.spawn(ns, process.execPath, [AGENT, name, ports]);
    child.stderr?.resume();
    this.agents.set(name, new Agent(child));
  }
}
