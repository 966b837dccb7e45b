// etcd's WatchResponse (rpc.proto; Event and KeyValue from kv.proto), decoded from the wire straight
// into what the lease watch reads (see etcd-proto-reader.ts for why not etcd3's decoder). Under churn
// etcd3's decoder was ~10% of weftd's CPU, more than all our own lease handling.
import type { EtcdRecord, EtcdWatchEvent, EtcdWatchResponse } from './etcd-store.js';
import { fieldTag, headerRevision, keyValue, ProtoReader, Wire } from './etcd-proto-reader.js';

/** mvccpb.Event.EventType */
const DELETE_EVENT = 1;
const HEADER = fieldTag(1, Wire.Bytes);
const CREATED = fieldTag(3, Wire.Varint);
const CANCELED = fieldTag(4, Wire.Varint);
const COMPACT_REVISION = fieldTag(5, Wire.Varint);
const EVENTS = fieldTag(11, Wire.Bytes);
const EVENT_TYPE = fieldTag(1, Wire.Varint);
const EVENT_KV = fieldTag(2, Wire.Bytes);

/** Decodes one WatchResponse message (grpc-js hands its body, without the 5-byte frame header). */
export function decodeWatchResponse(buf: Buffer): EtcdWatchResponse {
  const res: EtcdWatchResponse = { events: [], revision: '0', created: false, canceled: false, compactRevision: '0' };
  const r = new ProtoReader(buf, 0, buf.length);
  while (!r.done) {
    const tag = r.tag();
    if (tag === HEADER) res.revision = headerRevision(r.message());
    else if (tag === CREATED) res.created = r.bool();
    else if (tag === CANCELED) res.canceled = r.bool();
    else if (tag === COMPACT_REVISION) res.compactRevision = r.int64();
    else if (tag === EVENTS) res.events.push(watchEvent(r.message()));
    else r.skip(tag);
  }
  return res;
}

/** mvccpb.Event: type (1) and kv (2); prev_kv (3, never asked for) is skipped. */
function watchEvent(r: ProtoReader): EtcdWatchEvent {
  let type: EtcdWatchEvent['type'] = 'put';
  let record: EtcdRecord = { key: '', value: '', leaseId: '0', modRevision: '0' };
  while (!r.done) {
    const tag = r.tag();
    if (tag === EVENT_TYPE) type = r.varint() === DELETE_EVENT ? 'delete' : 'put';
    else if (tag === EVENT_KV) record = keyValue(r.message());
    else r.skip(tag);
  }
  return { type, record };
}
