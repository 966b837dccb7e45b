// The controller's view of the API: @kubernetes/client-node informers (list, then watch; the
// library lists again itself when a watch answers 410 Gone) for Pods, Namespaces and
// NetworkPolicies. On any other error an informer keeps its last objects, so rules stay as they
// are while the API server is away, and it is started again after a capped backoff.
import { CoreV1Api, makeInformer, NetworkingV1Api, type KubeConfig, type KubernetesObject, type Informer, type ObjectCache } from '@kubernetes/client-node';
import type { Logger } from 'winston';
import { Backoff } from '../subnet/backoff.js';
import type { PolicyWorld } from './cluster-view.js';

export interface PolicySources {
  /** True once each of the three kinds has been listed at least once. */
  synced(): boolean;
  world(): PolicyWorld;
  /** Called after every add, update, delete and (re)list. */
  onChange(listener: () => void): void;
  start(): void;
  stop(): Promise<void>;
}

type Watched = KubernetesObject & { metadata?: { name?: string; namespace?: string } };

export class InformerSources implements PolicySources {
  private readonly informers: { kind: string; informer: Informer<Watched> & ObjectCache<Watched>; listed: boolean; backoff: Backoff }[] = [];
  private readonly listeners: (() => void)[] = [];
  private stopped = false;

  constructor(kc: KubeConfig, private readonly logger: Logger) {
    const core = kc.makeApiClient(CoreV1Api);
    const networking = kc.makeApiClient(NetworkingV1Api);
    this.add(kc, 'pods', '/api/v1/pods', () => core.listPodForAllNamespaces());
    this.add(kc, 'namespaces', '/api/v1/namespaces', () => core.listNamespace());
    this.add(kc, 'networkpolicies', '/apis/networking.k8s.io/v1/networkpolicies', () => networking.listNetworkPolicyForAllNamespaces());
  }

  synced(): boolean {
    return this.informers.every((i) => i.listed);
  }

  world(): PolicyWorld {
    const list = (kind: string): Watched[] => [...(this.informers.find((i) => i.kind === kind)?.informer.list() ?? [])];
    return {
      pods: list('pods'),
      namespaces: list('namespaces'),
      policies: list('networkpolicies'),
    };
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  start(): void {
    for (const entry of this.informers) void entry.informer.start().catch((err: unknown) => { this.failed(entry, err); });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.informers.map((i) => i.informer.stop()));
  }

  private add(kc: KubeConfig, kind: string, path: string, list: () => Promise<{ items: Watched[]; metadata?: { resourceVersion?: string } }>): void {
    const entry = {
      kind,
      listed: false,
      backoff: new Backoff({ initialMs: 500, maxMs: 30_000 }),
      informer: makeInformer<Watched>(kc, path, async () => {
        const result = await list();
        entry.listed = true;
        entry.backoff.reset();
        this.changed();
        return result;
      }),
    };
    entry.informer.on('add', () => { this.changed(); });
    entry.informer.on('update', () => { this.changed(); });
    entry.informer.on('delete', () => { this.changed(); });
    entry.informer.on('error', (err: unknown) => { this.failed(entry, err); });
    this.informers.push(entry);
  }

  private failed(entry: (typeof this.informers)[number], err: unknown): void {
    if (this.stopped) return;
    const delayMs = entry.backoff.next();
    this.logger.warn('watch failed; keeping the last rules and starting it again', { kind: entry.kind, retryMs: delayMs, error: describe(err) });
    setTimeout(() => {
      if (!this.stopped) void entry.informer.start().catch((again: unknown) => { this.failed(entry, again); });
    }, delayMs);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
