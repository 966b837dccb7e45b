// The only importer of `etcd3`: the few etcd v3 operations the lease manager needs, in its own words
// (strings in, strings out; revisions and lease IDs stay decimal strings, as etcd's int64s do).
// The client is made on first use, so that constructing a manager never connects or throws.
import { readFileSync } from 'node:fs';
import { circuitBreaker, ConsecutiveBreaker, handleWhen } from 'cockatiel';
import { CompareResult, CompareTarget, Etcd3, isRecoverableError, type ICallable, type IDuplexStream, type IOptions, type IKeyValue, type IWatchRequest } from 'etcd3';
import { ConfigError } from './errors.js';
import { decodeWatchResponse } from './etcd-watch-decode.js';

export interface EtcdRecord {
  key: string;
  value: string;
  /** "0" when the key has no etcd lease. */
  leaseId: string;
  modRevision: string;
}

export interface EtcdListing {
  records: EtcdRecord[];
  /** The store revision the listing was read at: watch from revision + 1. */
  revision: string;
}

export interface EtcdWatchEvent {
  type: 'put' | 'delete';
  record: EtcdRecord;
}

export interface EtcdWatchResponse {
  events: EtcdWatchEvent[];
  /** Header revision: for a response without events (progress), everything up to it was sent. */
  revision: string;
  created: boolean;
  canceled: boolean;
  /** Non-zero when the start revision was compacted away: list again. */
  compactRevision: string;
}

export interface EtcdWatchHandlers {
  onResponse(response: EtcdWatchResponse): void;
  /** The stream failed or ended; no more responses follow. */
  onClosed(err: Error): void;
}

export interface EtcdWatch {
  cancel(): void;
}

/** The result of a conditional write: `revision` is the store revision after it (the key's mod revision on success). */
export interface TxnResult {
  succeeded: boolean;
  revision: string;
}

export interface EtcdStore {
  get(key: string): Promise<string | undefined>;
  list(prefix: string): Promise<EtcdListing>;
  grant(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }>;
  /** Seconds left on an etcd lease (-1 when it no longer exists). */
  timeToLive(id: string): Promise<number>;
  revoke(id: string): Promise<void>;
  /** Puts only when the key does not exist: If(Version(key) == 0) Then(Put). leaseId "0" = no lease. */
  create(key: string, value: string, leaseId: string): Promise<TxnResult>;
  /** Puts only when the key's mod revision is still `modRevision` (nobody wrote it since we read it). */
  replace(key: string, value: string, leaseId: string, modRevision: string): Promise<TxnResult>;
  watch(prefix: string, startRevision: string, handlers: EtcdWatchHandlers): EtcdWatch;
  close(): void;
}

export interface EtcdConnectionOptions {
  endpoints: string[];
  keyFile?: string | undefined;
  certFile?: string | undefined;
  caFile?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
  /** Deadline of each unary call, so that a hung server cannot stall a retry loop. */
  callTimeoutMs?: number | undefined;
}

/** etcd's Watch RPC (rpc.proto: service Watch, rpc Watch). */
const WATCH_METHOD = '/etcdserverpb.Watch/Watch';

type WatchStream = IDuplexStream<IWatchRequest, EtcdWatchResponse>;

/** etcd3-backed store. */
export class Etcd3Store implements EtcdStore {
  private client: Etcd3 | undefined;
  private closed = false;

  constructor(private readonly opts: EtcdConnectionOptions) {}

  async get(key: string): Promise<string | undefined> {
    const res = await this.etcd().kv.range({ key: Buffer.from(key) });
    const kv = res.kvs[0];
    return kv === undefined ? undefined : kv.value.toString('utf8');
  }

  async list(prefix: string): Promise<EtcdListing> {
    const res = await this.etcd().kv.range({ key: Buffer.from(prefix), range_end: prefixEnd(prefix) });
    return { records: res.kvs.map(toRecord), revision: res.header.revision };
  }

  async grant(ttlSeconds: number): Promise<{ id: string; ttlSeconds: number }> {
    const res = await this.etcd().leaseClient.leaseGrant({ TTL: ttlSeconds });
    return { id: res.ID, ttlSeconds: Number(res.TTL) };
  }

  async timeToLive(id: string): Promise<number> {
    const res = await this.etcd().leaseClient.leaseTimeToLive({ ID: id });
    return Number(res.TTL);
  }

  async revoke(id: string): Promise<void> {
    await this.etcd().leaseClient.leaseRevoke({ ID: id });
  }

  async create(key: string, value: string, leaseId: string): Promise<TxnResult> {
    const res = await this.etcd().kv.txn({
      compare: [{ key: Buffer.from(key), target: CompareTarget.Version, result: CompareResult.Equal, version: 0 }],
      success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease: leaseId } }],
    });
    return { succeeded: res.succeeded, revision: res.header.revision };
  }

  async replace(key: string, value: string, leaseId: string, modRevision: string): Promise<TxnResult> {
    const res = await this.etcd().kv.txn({
      compare: [{ key: Buffer.from(key), target: CompareTarget.Mod, result: CompareResult.Equal, mod_revision: modRevision }],
      success: [{ request_put: { key: Buffer.from(key), value: Buffer.from(value), lease: leaseId } }],
    });
    return { succeeded: res.succeeded, revision: res.header.revision };
  }

  /**
   * One raw watch stream, one watch on it. Reconnecting is the caller's job: etcd3's own watch
   * manager resumes from the header revision of the last response, which can skip events that were
   * still queued on the server, so we keep the revision ourselves and use the bare stream.
   */
  watch(prefix: string, startRevision: string, handlers: EtcdWatchHandlers): EtcdWatch {
    let done = false;
    let cancel: (() => void) | undefined;
    const close = (err: Error): void => {
      if (done) return;
      done = true;
      cancel?.();
      handlers.onClosed(err);
    };
    this.watchStream()
      .then((stream) => {
        // End our side first: etcd3 marks the host failed (closing every client of it and counting
        // towards its circuit breaker) on a stream error while the stream is still writable, and
        // our own cancel surfaces as a CANCELLED error.
        cancel = () => {
          stream.end();
          stream.cancel();
        };
        if (done) {
          cancel();
          return;
        }
        stream
          .on('data', (res: EtcdWatchResponse) => {
            if (!done) handlers.onResponse(res);
          })
          .on('error', (err: Error) => {
            close(err);
          })
          .on('end', () => {
            close(new Error('etcd closed the watch stream'));
          });
        stream.write({
          create_request: {
            key: Buffer.from(prefix),
            range_end: prefixEnd(prefix),
            start_revision: startRevision,
            progress_notify: true,
          },
        });
      })
      .catch((err: unknown) => {
        close(err instanceof Error ? err : new Error(String(err)));
      });
    return {
      cancel: () => {
        if (done) return;
        done = true;
        cancel?.();
      },
    };
  }

  /**
   * etcd3's WatchClient.watch() on the same pooled connection (its auth metadata, its marking of a
   * failed host), but with responses decoded by decodeWatchResponse instead of proto-loader's
   * decoder (see etcd-watch-decode.ts for why). Requests are encoded by etcd3's own serializer.
   */
  private watchStream(): Promise<WatchStream> {
    const pool = (this.etcd() as unknown as { pool?: ICallable<unknown> }).pool;
    if (typeof pool?.withConnection !== 'function') throw new Error('etcd3 has no connection pool where weft expects it (etcd3 changed: see subnet/etcd-store.ts)');
    return pool.withConnection('Watch', ({ resource, client, metadata }) => {
      const serialize = (client.constructor as { service?: Record<string, { requestSerialize?: (req: IWatchRequest) => Buffer }> })
        .service?.['Watch']?.requestSerialize;
      if (!serialize) throw new Error('etcd3\'s Watch client has no request serializer (etcd3 changed: see subnet/etcd-store.ts)');
      // No call options: a stream has no deadline (clientOptions gives streams none either).
      const stream = client.makeBidiStreamRequest(WATCH_METHOD, serialize, decodeWatchResponse, metadata, {});
      stream.on('error', (err: Error) => { if (stream.writable) pool.markFailed(resource, err); });
      return stream;
    });
  }

  close(): void {
    this.closed = true;
    this.client?.close();
    this.client = undefined;
  }

  private etcd(): Etcd3 {
    if (this.closed) throw new Error('etcd store is closed');
    this.client ??= new Etcd3(clientOptions(this.opts));
    return this.client;
  }
}

function clientOptions(opts: EtcdConnectionOptions): IOptions {
  if (opts.endpoints.length === 0) throw new ConfigError('--etcd-endpoints', 'no etcd endpoint given');
  const timeoutMs = opts.callTimeoutMs ?? 10_000;
  const options: IOptions = {
    hosts: opts.endpoints,
    // Streams (watch) live forever; unary calls get a deadline.
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    // Notice a silently dead server on an idle watch stream. Reconnect at least every 2 s (gRPC's own
    // default grows to 120 s), so that a member that comes back is used again within ~2 s.
    grpcOptions: {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.keepalive_timeout_ms': 10_000,
      'grpc.initial_reconnect_backoff_ms': 500,
      'grpc.max_reconnect_backoff_ms': 2000,
    },
    // etcd3 sets a member aside for 5 s after 3 failed calls (calls then fail at once, or go to another
    // member); 1 s keeps the recovery after an outage within our 2 s retry pacing.
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(3) }),
    },
  };
  const tls = Boolean(opts.keyFile && opts.certFile) || Boolean(opts.caFile) || opts.endpoints.some((e) => e.startsWith('https:'));
  if (tls) {
    // grpc-js uses the system roots when no CA is given.
    options.credentials = {
      rootCertificate: opts.caFile ? readTlsFile('--etcd-cafile', opts.caFile) : (undefined as unknown as Buffer),
      ...(opts.keyFile && opts.certFile
        ? {
            privateKey: readTlsFile('--etcd-keyfile', opts.keyFile),
            certChain: readTlsFile('--etcd-certfile', opts.certFile),
          }
        : {}),
    };
  }
  if (opts.username) options.auth = { username: opts.username, password: opts.password ?? '' };
  return options;
}

function readTlsFile(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(flag, `cannot read ${path}: ${(err as Error).message}`);
  }
}

function toRecord(kv: IKeyValue): EtcdRecord {
  return {
    key: kv.key.toString('utf8'),
    value: kv.value.toString('utf8'),
    leaseId: kv.lease,
    modRevision: kv.mod_revision,
  };
}

/** The range end that covers every key starting with `prefix`. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    const byte = end[i] ?? 0;
    if (byte < 0xff) {
      end[i] = byte + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}
