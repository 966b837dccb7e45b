// etcd's RangeResponse (rpc.proto), decoded from the wire straight into a listing (see
// etcd-proto-reader.ts for why not etcd3's decoder). At start with 5000 leases, etcd3's decoder and
// its garbage were ~150 ms of weftd's CPU to convergence.
import type { IRangeRequest } from 'etcd3';
import type { EtcdListing } from './etcd-store.js';
import { fieldTag, headerRevision, keyValue, ProtoReader, Wire } from './etcd-proto-reader.js';

const HEADER = fieldTag(1, Wire.Bytes);
const KVS = fieldTag(2, Wire.Bytes);

/**
 * Decodes one RangeResponse message: header (1) revision and kvs (2). `more` (3) and `count` (4)
 * are skipped: weft never sets a limit, so etcd sends every key of the range.
 */
export function decodeRangeResponse(buf: Buffer): EtcdListing {
  const listing: EtcdListing = { records: [], revision: '0' };
  const r = new ProtoReader(buf, 0, buf.length);
  while (!r.done) {
    const tag = r.tag();
    if (tag === HEADER) listing.revision = headerRevision(r.message());
    else if (tag === KVS) listing.records.push(keyValue(r.message()));
    else r.skip(tag);
  }
  return listing;
}

/** The part of etcd3's connection pool used here: its hosts (one gRPC client per service per host). */
export interface RangePool { hosts?: { getServiceClient(service: 'KV'): object }[] }

/** What weft adds to etcd3's KV client class: Range, with decodeRangeResponse as its deserializer. */
export const RAW_RANGE_METHOD = 'weftRawRange';

interface UnaryClient {
  makeUnaryRequest(path: string, serialize: (req: IRangeRequest) => Buffer, deserialize: (buf: Buffer) => EtcdListing, ...rest: unknown[]): unknown;
}
type KVClientClass = { prototype: Record<string, unknown>; service?: Record<string, { path: string; requestSerialize: (req: IRangeRequest) => Buffer }> };

/**
 * Adds RAW_RANGE_METHOD to the prototype of etcd3's KV client class (one class for every host and
 * every reconnect), made as grpc-js makes `range`: a unary call to etcd's Range with etcd3's request
 * serializer. pool.exec then calls it as it would call `range`.
 */
export function installRawRange(pool: RangePool): void {
  const client = pool.hosts?.[0]?.getServiceClient('KV');
  const clientClass = client?.constructor as KVClientClass | undefined;
  if (!clientClass) throw new Error('etcd3 has no hosts where weft expects them (etcd3 changed: see subnet/etcd-range-decode.ts)');
  if (RAW_RANGE_METHOD in clientClass.prototype) return;
  const range = clientClass.service?.['Range'];
  if (!range) throw new Error('etcd3\'s KV client has no Range method (etcd3 changed: see subnet/etcd-range-decode.ts)');
  clientClass.prototype[RAW_RANGE_METHOD] = function rawRange(this: UnaryClient, ...args: unknown[]): unknown {
    return this.makeUnaryRequest(range.path, range.requestSerialize, decodeRangeResponse, ...args);
  };
}
