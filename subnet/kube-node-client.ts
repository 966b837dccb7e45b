// The few API-server calls the Kubernetes lease manager makes, behind a small interface so that the
// manager can be tested with a fake. The real implementation uses @kubernetes/client-node for plain
// requests and its own streaming GET for watches, so that every call obeys an AbortSignal and a timeout
// (the library's Watch cannot be aborted while it waits for response headers).
import * as http from 'node:http';
import * as https from 'node:https';
import { createInterface } from 'node:readline';
import {
  ApiException,
  CoreV1Api,
  type KubeConfig,
  Observable,
  PatchStrategy,
  type ConfigurationOptions,
  type ObservableMiddleware,
} from '@kubernetes/client-node';
import { TransientError } from './errors.js';

export type NodeWatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

/** The parts of a Node we read (client-node's KubeNode fits; tests use plain objects). */
export interface KubeNode {
  metadata?:
    | { name?: string | undefined; annotations?: Record<string, string> | undefined; resourceVersion?: string | undefined }
    | undefined;
  spec?: { podCIDR?: string | undefined; podCIDRs?: string[] | undefined } | undefined;
  status?: { conditions?: { type?: string | undefined; status?: string | undefined }[] | undefined } | undefined;
}

/** The fields of KubeNode and nothing else: the name, annotations, version, pod CIDRs and condition types. */
export function leaseFieldsOf(node: KubeNode): KubeNode {
  const { metadata, spec, status } = node;
  return {
    metadata: metadata && { name: metadata.name, annotations: metadata.annotations, resourceVersion: metadata.resourceVersion },
    spec: spec && { podCIDR: spec.podCIDR, podCIDRs: spec.podCIDRs },
    status: status && { conditions: status.conditions?.map(({ type, status: value }) => ({ type, status: value })) },
  };
}

export interface KubePod {
  spec?: { nodeName?: string | undefined } | undefined;
}

export interface NodeList {
  nodes: KubeNode[];
  resourceVersion: string;
}

export interface KubeNodeClient {
  getNode(name: string, signal: AbortSignal): Promise<KubeNode>;
  /** Strategic-merge patch of the nodes/status subresource (annotations and conditions). */
  patchNodeStatus(name: string, patch: object, signal: AbortSignal): Promise<void>;
  listNodes(signal: AbortSignal): Promise<NodeList>;
  /**
   * Streams node events after `resourceVersion` until the server ends the stream (resolves) or it
   * fails (rejects; ResourceExpiredError when the version is too old, 410 Gone).
   */
  watchNodes(
    resourceVersion: string,
    onEvent: (type: NodeWatchEventType, node: KubeNode) => void,
    signal: AbortSignal,
  ): Promise<void>;
  getPod(namespace: string, name: string, signal: AbortSignal): Promise<KubePod>;
}

/** The API server answered with an HTTP error; `status` is its code (403, 404, 410 ...). */
export class KubeApiError extends TransientError {
  constructor(
    readonly status: number,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The watch's resourceVersion was compacted away: list again. */
export class ResourceExpiredError extends KubeApiError {}

export interface ClientNodeOptions {
  /** Per request (not per watch stream). */
  requestTimeoutMs?: number;
  /** The server closes a watch after this; a silent stream is abandoned a little later. */
  watchTimeoutSeconds?: number;
  /**
   * Nodes per list request (default 500). A real Node carries kilobytes the lease layer never reads
   * (status.images, managedFields, nodeInfo ...): pages bound what one response parses at once, and
   * each Node is cut down on arrival, so a large cluster's list leaves no peak behind in the heap.
   */
  listPageSize?: number;
}

export class ClientNodeKubeClient implements KubeNodeClient {
  private readonly core: CoreV1Api;
  private readonly requestTimeoutMs: number;
  private readonly watchTimeoutSeconds: number;
  private readonly listPageSize: number;

  constructor(
    private readonly kc: KubeConfig,
    options: ClientNodeOptions = {},
  ) {
    this.core = kc.makeApiClient(CoreV1Api);
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
    this.watchTimeoutSeconds = options.watchTimeoutSeconds ?? 300;
    this.listPageSize = options.listPageSize ?? 500;
  }

  async getNode(name: string, signal: AbortSignal): Promise<KubeNode> {
    return this.call(`get node ${name}`, signal, (opts) => this.core.readNode({ name }, opts));
  }

  async patchNodeStatus(name: string, patch: object, signal: AbortSignal): Promise<void> {
    await this.call(
      `patch node ${name} status`,
      signal,
      (opts) => this.core.patchNodeStatus({ name, body: patch }, opts),
      PatchStrategy.StrategicMergePatch,
    );
  }

  /** In pages (one consistent snapshot), each Node cut down to what the lease layer reads as it arrives. */
  async listNodes(signal: AbortSignal): Promise<NodeList> {
    const nodes: KubeNode[] = [];
    let resourceVersion = '';
    let next: string | undefined;
    do {
      const query = { limit: this.listPageSize, ...(next !== undefined && { _continue: next }) };
      const page = await this.call('list nodes', signal, (opts) => this.core.listNode(query, opts));
      for (const node of page.items) nodes.push(leaseFieldsOf(node));
      resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
      next = page.metadata?._continue || undefined;
    } while (next !== undefined);
    return { nodes, resourceVersion };
  }

  async getPod(namespace: string, name: string, signal: AbortSignal): Promise<KubePod> {
    return this.call(`get pod ${namespace}/${name}`, signal, (opts) =>
      this.core.readNamespacedPod({ namespace, name }, opts),
    );
  }

  async watchNodes(
    resourceVersion: string,
    onEvent: (type: NodeWatchEventType, node: KubeNode) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError(0, 'watch nodes: the kubeconfig has no current cluster');
    const url = new URL('/api/v1/nodes', cluster.server);
    url.searchParams.set('watch', 'true');
    url.searchParams.set('resourceVersion', resourceVersion);
    url.searchParams.set('allowWatchBookmarks', 'true');
    url.searchParams.set('timeoutSeconds', String(this.watchTimeoutSeconds));

    const options: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
    await this.kc.applyToHTTPSOptions(options);
    // The server ends the stream after timeoutSeconds; if it went silent (host gone), give up soon after.
    const deadline = AbortSignal.timeout((this.watchTimeoutSeconds + 30) * 1000);
    const streamSignal = AbortSignal.any([signal, deadline]);
    const transport = url.protocol === 'http:' ? http : https;

    await new Promise<void>((resolve, reject) => {
      const req = transport.request(url, { ...options, signal: streamSignal }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          const status = res.statusCode ?? 0;
          const ErrorClass = status === 410 ? ResourceExpiredError : KubeApiError;
          reject(new ErrorClass(status, `watch nodes: HTTP ${status} ${res.statusMessage ?? ''}`.trim()));
          return;
        }
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        let failure: Error | undefined;
        lines.on('line', (line) => {
          if (failure || line.trim() === '') return;
          try {
            const event = JSON.parse(line) as { type?: string; object?: unknown };
            if (event.type === 'ERROR') {
              failure = watchErrorOf(event.object);
              req.destroy();
              return;
            }
            if (isNodeEventType(event.type)) onEvent(event.type, leaseFieldsOf(event.object as KubeNode));
          } catch (err) {
            failure = new KubeApiError(0, `watch nodes: unreadable event (${(err as Error).message})`, { cause: err });
            req.destroy();
          }
        });
        lines.on('close', () => {
          if (failure) reject(failure);
          else resolve();
        });
        // readline re-emits the response's errors (e.g. "aborted" when the connection drops).
        const onStreamError = (err: Error): void => {
          reject(failure ?? streamError(err, signal));
        };
        res.on('error', onStreamError);
        lines.on('error', onStreamError);
      });
      req.on('error', (err) => {
        reject(streamError(err, signal));
      });
      req.end();
    });
  }

  /** Runs one request with a timeout, the caller's signal, optional Content-Type, and typed errors. */
  private async call<T>(
    what: string,
    signal: AbortSignal,
    request: (opts: ConfigurationOptions) => Promise<T>,
    contentType?: string,
  ): Promise<T> {
    const combined = AbortSignal.any([signal, AbortSignal.timeout(this.requestTimeoutMs)]);
    const middleware: ObservableMiddleware = {
      pre: (ctx) => {
        ctx.setSignal(combined);
        if (contentType) ctx.setHeaderParam('Content-Type', contentType);
        return new Observable(Promise.resolve(ctx));
      },
      post: (res) => new Observable(Promise.resolve(res)),
    };
    try {
      return await request({ middleware: [middleware], middlewareMergeStrategy: 'append' });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      if (err instanceof ApiException) {
        const reason = apiExceptionReason(err);
        throw new KubeApiError(err.code, `${what}: HTTP ${err.code}${reason ? ` ${reason}` : ''}`, { cause: err });
      }
      const message = err instanceof Error ? err.message : String(err);
      throw new KubeApiError(0, `${what}: ${message}`, { cause: err });
    }
  }
}

function isNodeEventType(type: unknown): type is NodeWatchEventType {
  return type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED' || type === 'BOOKMARK';
}

/** An ERROR event carries a metav1.Status; 410 (Expired / Gone) means "list again". */
function watchErrorOf(status: unknown): KubeApiError {
  const s = (status ?? {}) as { code?: unknown; message?: unknown; reason?: unknown };
  const code = typeof s.code === 'number' ? s.code : 0;
  const message = `watch nodes: ${typeof s.message === 'string' ? s.message : 'error event'}`;
  return code === 410 || s.reason === 'Expired' || s.reason === 'Gone'
    ? new ResourceExpiredError(410, message)
    : new KubeApiError(code, message);
}

function streamError(err: Error, signal: AbortSignal): Error {
  if (signal.aborted) return signal.reason instanceof Error ? signal.reason : err;
  return new KubeApiError(0, `watch nodes: ${err.message}`, { cause: err });
}

/** The server's Status message, e.g. `nodes "x" is forbidden: ...`. */
function apiExceptionReason(err: ApiException<unknown>): string {
  const body: unknown = err.body;
  if (typeof body === 'string') {
    try {
      const parsed = JSON.parse(body) as { message?: unknown };
      if (typeof parsed.message === 'string') return parsed.message;
    } catch {
      return body.slice(0, 200);
    }
  }
  if (typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string') {
    return (body as { message: string }).message;
  }
  return '';
}
