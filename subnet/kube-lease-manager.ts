// Leases in Kubernetes mode, as flannel's kube subnet manager keeps them: the node's subnet is the pod
// CIDR that kube-controller-manager assigned, and the rest of the lease is published as annotations on
// our Node object. Peers are the other nodes carrying `<P>/kube-subnet-manager: "true"`, followed with a
// list + watch that resumes from the last resourceVersion and lists again after a 410.
// Nothing expires here: a node's lease lives as long as its Node object.
import { readFile as fsReadFile } from 'node:fs/promises';
import type { Logger } from 'winston';
import { abortableSleep } from './backoff.js';
import { ConfigError, RemoteDataError } from './errors.js';
import {
  annotationKeys,
  leaseAnnotations,
  nodeName,
  nodePodCidr,
  type AnnotationKeys,
} from './kube-annotations.js';
import type { KubeNode, KubeNodeClient } from './kube-node-client.js';
import { ResourceExpiredError } from './kube-node-client.js';
import { lacksNetworkCondition, networkAvailablePatch } from './kube-node-condition.js';
import { ownNodeHints, publishedAddress, type OwnNodeHints } from './kube-own-node.js';
import { deliver, PeerNodes } from './kube-peer-nodes.js';
import { checkAcquireOptions, leaseSubnet, sameSubnets, type AcquireOptions, type Lease, type LeaseAttrs, type LeaseManager, type LeaseWatcher, type SubnetPool } from './lease.js';
import type { IpAddress } from './ip-address.js';
import type { IpPrefix } from './ip-prefix.js';

export interface KubeLeaseManagerOptions {
  client: KubeNodeClient;
  nodeName: string;
  /** flannel.alpha.coreos.com unless --kube-annotation-prefix says otherwise. */
  annotationPrefix?: string | undefined;
  netConfigPath: string;
  logger: Logger;
  /** Called for every failed API call that will be retried (metrics count them). */
  onStoreError?: ((err: Error) => void) | undefined;
  /** Retry delays for API-server errors and for a pod CIDR not assigned yet. */
  backoff?: { initialMs: number; maxMs: number } | undefined;
  /** Injected in tests. */
  sleep?: ((ms: number, signal: AbortSignal) => Promise<void>) | undefined;
  readFile?: ((path: string) => Promise<string>) | undefined;
}

export class KubeLeaseManager implements LeaseManager {
  private readonly keys: AnnotationKeys;
  private readonly log: Logger;
  private readonly sleep: (ms: number, signal: AbortSignal) => Promise<void>;
  private readonly readFile: (path: string) => Promise<string>;
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly closed = new AbortController();
  /** What acquireLease published: kept so that a deleted and re-created Node gets it again. */
  private own: { options: AcquireOptions; lease: Lease } | undefined;
  private ownNodeMissing = false;
  /** Set once markNetworkAvailable succeeded: a Node registered again gets the condition again too. */
  private networkMarked = false;
  private republishing: Promise<void> | undefined;

  constructor(private readonly opts: KubeLeaseManagerOptions) {
    this.keys = annotationKeys(opts.annotationPrefix);
    this.log = opts.logger.child({ component: 'kube-lease-manager', node: opts.nodeName });
    this.sleep = opts.sleep ?? abortableSleep;
    this.readFile = opts.readFile ?? ((path) => fsReadFile(path, 'utf8'));
    this.initialMs = opts.backoff?.initialMs ?? 1000;
    this.maxMs = opts.backoff?.maxMs ?? 30_000;
  }

  async readNetworkConfig(_signal: AbortSignal): Promise<string> {
    try {
      return await this.readFile(this.opts.netConfigPath);
    } catch (err) {
      throw new ConfigError(
        '--net-config-path',
        `cannot read ${this.opts.netConfigPath} (${(err as Error).message}); mount the net-conf.json ConfigMap there`,
      );
    }
  }

  /** Reads our node once (retrying while the API server is unreachable). */
  async readOwnNodeHints(signal: AbortSignal): Promise<OwnNodeHints> {
    const node = await this.retry('read own node', (s) => this.opts.client.getNode(this.opts.nodeName, s), signal);
    return ownNodeHints(node, this.keys, this.log);
  }

  async acquireLease(options: AcquireOptions, signal: AbortSignal): Promise<Lease> {
    const { pool, ipv6Pool, attrs } = options;
    checkAcquireOptions(options);
    let delayMs = this.initialMs;
    for (;;) {
      const node = await this.retry('read own node', (s) => this.opts.client.getNode(this.opts.nodeName, s), signal);
      // Only the families we run: an IPv6-only network ignores the IPv4 pod CIDR of a dual-stack cluster, as flannel does.
      const subnet = pool && nodePodCidr(node);
      const ipv6Subnet = ipv6Pool && nodePodCidr(node, 'ipv6');
      const ipv4Missing = pool !== undefined && subnet === undefined;
      if (ipv4Missing || (ipv6Pool !== undefined && ipv6Subnet === undefined)) {
        this.log.warn(
          `node ${this.opts.nodeName} ${ipv4Missing ? '' : 'IPv6 '}pod cidr not assigned; waiting for kube-controller-manager ` +
            `(--allocate-node-cidrs) or for spec.podCIDR${pool && ipv6Pool ? 's' : ''} to be set; retrying in ${delayMs} ms`,
        );
        await this.sleep(delayMs, signal);
        delayMs = Math.min(delayMs * 2, this.maxMs);
        continue;
      }
      if (subnet) checkInNetwork(this.opts.nodeName, subnet, pool, 'Network');
      if (ipv6Subnet) checkInNetwork(this.opts.nodeName, ipv6Subnet, ipv6Pool, 'IPv6Network');

      const publishedIp = attrs.publicIp && this.publishedIp(node, attrs.publicIp);
      const publishedIpv6 = this.publishedIpv6(node, attrs);
      const wanted = leaseAnnotations(this.keys, attrs, publishedIp, publishedIpv6);
      const current = node.metadata?.annotations ?? {};
      if (Object.entries(wanted).some(([key, value]) => current[key] !== value)) {
        await this.retry(
          'annotate own node',
          (s) => this.opts.client.patchNodeStatus(this.opts.nodeName, { metadata: { annotations: wanted } }, s),
          signal,
        );
        this.log.info('published lease annotations', {
          subnet: leaseSubnet({ subnet, ipv6Subnet }).toString(),
          ...(publishedIp && { publicIp: publishedIp.toString() }),
          ...(publishedIpv6 && { publicIpv6: publishedIpv6.toString() }),
        });
      }
      // Like flannel, the lease carries our own attributes: the override only changes what peers see.
      const lease = { ...attrs, subnet, ipv6Subnet, expiresAt: undefined };
      this.own = { options, lease };
      return lease;
    }
  }

  /** Sets NodeNetworkUnavailable=False (reason FlannelIsUp) once routes are in place; again on a re-created Node. */
  async markNetworkAvailable(signal: AbortSignal): Promise<void> {
    await this.retry(
      'set NetworkUnavailable=False',
      (s) => this.opts.client.patchNodeStatus(this.opts.nodeName, networkAvailablePatch(new Date()), s),
      signal,
    );
    this.networkMarked = true;
    this.log.info('node condition NetworkUnavailable=False (FlannelIsUp)');
  }

  async watchLeases(watcher: LeaseWatcher, signal: AbortSignal): Promise<void> {
    const both = AbortSignal.any([signal, this.closed.signal]);
    const stopped = (): boolean => both.aborted; // a call, so that narrowing does not assume `false`
    const peers = new PeerNodes(this.keys, this.opts.nodeName, this.log);
    let resourceVersion: string | undefined;
    let delayMs = this.initialMs;
    while (!stopped()) {
      try {
        resourceVersion ??= await this.listPeers(peers, watcher, both);
        const startedAt = Date.now();
        await this.opts.client.watchNodes(
          resourceVersion,
          (type, node) => {
            resourceVersion = node.metadata?.resourceVersion ?? resourceVersion;
            for (const batch of peers.apply(type, node)) deliver(watcher, batch, this.log);
            if (type !== 'BOOKMARK' && nodeName(node) === this.opts.nodeName) this.ownNodeSeen(type === 'DELETED' ? undefined : node, watcher);
          },
          both,
        );
        // A normal end (server-side timeout): watch again at once, unless streams keep ending instantly.
        if (Date.now() - startedAt > 1000) {
          delayMs = this.initialMs;
          continue;
        }
        await this.sleep(delayMs, both);
        delayMs = Math.min(delayMs * 2, this.maxMs);
      } catch (err) {
        if (stopped()) break;
        if (err instanceof ResourceExpiredError) {
          this.log.info(`node watch expired (${err.message}); listing nodes again`);
          resourceVersion = undefined;
          continue;
        }
        this.opts.onStoreError?.(err as Error);
        this.log.warn(`node watch failed, retrying in ${delayMs} ms: ${(err as Error).message}`);
        try {
          await this.sleep(delayMs, both);
        } catch {
          break;
        }
        delayMs = Math.min(delayMs * 2, this.maxMs);
      }
    }
  }

  /**
   * Lists the Nodes into `peers` and the watcher; returns the list's resourceVersion. A method of
   * its own so that the list dies with its frame: a local of the watch loop would stay alive in the
   * loop's suspended frame for as long as the watch runs.
   */
  private async listPeers(peers: PeerNodes, watcher: LeaseWatcher, signal: AbortSignal): Promise<string> {
    const list = await this.opts.client.listNodes(signal);
    deliver(watcher, peers.snapshot(list.nodes), this.log);
    this.ownNodeSeen(list.nodes.find((n) => nodeName(n) === this.opts.nodeName), watcher);
    this.log.debug('listed nodes', { resourceVersion: list.resourceVersion, peers: peers.size });
    return list.resourceVersion;
  }

  async close(): Promise<void> {
    this.closed.abort(new Error('lease manager closed'));
    await this.republishing;
  }

  /**
   * Our Node as the watch last saw it (undefined: deleted). flannel publishes its annotations only at
   * start, so a Node deleted and registered again by kubelet stayed invisible to peers until a restart;
   * here a Node that lacks what we published (annotations, and the NetworkUnavailable condition once
   * set) gets it again (and a new pod CIDR becomes our new lease).
   */
  private ownNodeSeen(node: KubeNode | undefined, watcher: LeaseWatcher): void {
    const own = this.own;
    if (own === undefined) return;
    if (node === undefined) {
      if (!this.ownNodeMissing) this.log.warn(`own node ${this.opts.nodeName} was deleted; publishing our annotations again once it is registered again`);
      this.ownNodeMissing = true;
      return;
    }
    let subnetsKept: boolean;
    try {
      subnetsKept = sameSubnets(own.lease, { subnet: own.lease.subnet && nodePodCidr(node), ipv6Subnet: own.lease.ipv6Subnet && nodePodCidr(node, 'ipv6') });
    } catch {
      subnetsKept = false; // acquireLease reports it
    }
    const current = node.metadata?.annotations ?? {};
    const { attrs } = own.options;
    const publishedIp = attrs.publicIp && this.publishedIp(node, attrs.publicIp, { quiet: true });
    const wanted = leaseAnnotations(this.keys, attrs, publishedIp, this.publishedIpv6(node, attrs, { quiet: true }));
    const published = Object.entries(wanted).every(([key, value]) => current[key] === value);
    const conditionLost = this.networkMarked && lacksNetworkCondition(node);
    if (published && !conditionLost && subnetsKept) {
      this.ownNodeMissing = false;
      return;
    }
    this.republishing ??= this.republish(own, watcher).finally(() => {
      this.republishing = undefined;
    });
  }

  /** Publishes our lease on our Node again (waiting for its pod CIDR); a new subnet goes to the watcher. */
  private async republish(own: { options: AcquireOptions; lease: Lease }, watcher: LeaseWatcher): Promise<void> {
    this.log.warn(`own node ${this.opts.nodeName} lacks our lease annotations or its NetworkUnavailable condition (re-created?); publishing them again`);
    try {
      const lease = await this.acquireLease({ ...own.options, previousSubnet: own.lease.subnet, previousIpv6Subnet: own.lease.ipv6Subnet }, this.closed.signal);
      // flannel sets the condition once at start; a Node registered again starts without it.
      if (this.networkMarked) await this.markNetworkAvailable(this.closed.signal);
      this.ownNodeMissing = false;
      if (!sameSubnets(lease, own.lease)) {
        this.log.warn(`own node has a new pod CIDR ${leaseSubnet(lease).toString()} (was ${leaseSubnet(own.lease).toString()})`);
        watcher.onOwnLeaseChanged(lease);
      }
    } catch (err) {
      if (!this.closed.signal.aborted) this.log.error(`could not publish our lease annotations again: ${(err as Error).message}`);
    }
  }

  /** The address of `own`'s family to publish (see publishedAddress); `quiet` at every event of our Node (heartbeats). */
  private publishedIp(node: KubeNode, own: IpAddress, { quiet = false } = {}): IpAddress {
    return publishedAddress(node, this.keys, own, quiet ? undefined : this.log);
  }

  private publishedIpv6(node: KubeNode, attrs: LeaseAttrs, { quiet = false } = {}): IpAddress | undefined {
    return attrs.publicIpv6 && this.publishedIp(node, attrs.publicIpv6, { quiet });
  }

  /** Retries an API call with capped backoff until it succeeds or the signal aborts. */
  private async retry<T>(what: string, call: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    const both = AbortSignal.any([signal, this.closed.signal]);
    let delayMs = this.initialMs;
    for (;;) {
      try {
        return await call(both);
      } catch (err) {
        if (both.aborted) throw both.reason;
        if (err instanceof ConfigError || err instanceof RemoteDataError) throw err;
        this.opts.onStoreError?.(err as Error);
        this.log.warn(`${what} failed, retrying in ${delayMs} ms: ${(err as Error).message}`);
        await this.sleep(delayMs, both);
        delayMs = Math.min(delayMs * 2, this.maxMs);
      }
    }
  }
}

/** A pod CIDR outside the configured network is a mismatch between net-conf.json and the cluster. */
function checkInNetwork(nodeName: string, subnet: IpPrefix, pool: SubnetPool, field: 'Network' | 'IPv6Network'): void {
  if (pool.network.containsPrefix(subnet)) return;
  throw new ConfigError(
    field,
    `node ${nodeName} has pod CIDR ${subnet.toString()}, outside ${field} ${pool.network.toString()}; ` +
      `make net-conf.json ${field} match kube-controller-manager's --cluster-cidr`,
  );
}
