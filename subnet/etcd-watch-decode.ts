// etcd's WatchResponse (rpc.proto; Event and KeyValue from kv.proto), decoded from the wire straight
// into what the lease watch reads (see etcd-proto-reader.ts for why not etcd3's decoder). Under churn
// etcd3's decoder was ~10% of weftd's CPU, more than all our own lease handling.
import type { EtcdRecord, EtcdWatchEvent, EtcdWatchResponse } from './etcd-store.js';
import { headerRevision, keyValue, ProtoReader, Wire } from './etcd-proto-reader.js';

/** mvccpb.Event.EventType */
const DELETE_EVENT = 1;

/** Decodes one WatchResponse message (grpc-js hands its body, without the 5-byte frame header). */
export function decodeWatchResponse(buf: Buffer): EtcdWatchResponse {
  const res: EtcdWatchResponse = { events: [], revision: '0', created: false, canceled: false, compactRevision: '0' };
  const r = new ProtoReader(buf, 0, buf.length);
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === Wire.Bytes) res.revision = headerRevision(r.message());
    else if (field === 3 && wire === Wire.Varint) res.created = r.bool();
    else if (field === 4 && wire === Wire.Varint) res.canceled = r.bool();
    else if (field === 5 && wire === Wire.Varint) res.compactRevision = r.int64();
    else if (field === 11 && wire === Wire.Bytes) res.events.push(watchEvent(r.message()));
    else r.skip(wire);
  }
  return res;
}

/** mvccpb.Event: type (1) and kv (2); prev_kv (3, never asked for) is skipped. */
function watchEvent(r: ProtoReader): EtcdWatchEvent {
  let type: EtcdWatchEvent['type'] = 'put';
  let record: EtcdRecord = { key: '', value: '', leaseId: '0', modRevision: '0' };
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === Wire.Varint) type = r.varint() === DELETE_EVENT ? 'delete' : 'put';
    else if (field === 2 && wire === Wire.Bytes) record = keyValue(r.message());
    else r.skip(wire);
  }
  return { type, record };
}
