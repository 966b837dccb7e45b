// decodeWatchResponse against etcd3's own decoder (proto-loader over etcd3's rpc.proto, with etcd3's
// options): for bytes that protobufjs encodes, the fields the lease watch reads must come out the
// same, including 64-bit lease IDs and revisions beyond 2^53.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { decodeWatchResponse } from './etcd-watch-decode.js';

interface KeyValue { key: Buffer; value: Buffer; lease: string; mod_revision: string }
interface WatchResponse {
  header: { revision: string };
  created: boolean;
  canceled: boolean;
  compact_revision: string;
  events: { type: string; kv: KeyValue }[];
}
interface WatchMethod {
  responseSerialize(value: object): Buffer;
  responseDeserialize(bytes: Buffer): WatchResponse;
}
interface ProtoLoader { loadSync(file: string, options: object): Record<string, Record<string, WatchMethod>> }

const etcd3 = createRequire(import.meta.url).resolve('etcd3');
const protoLoader = createRequire(etcd3)('@grpc/proto-loader') as ProtoLoader;
// etcd3's options (lib/connection-pool.js).
const OPTIONS = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };
const watchMethod = protoLoader.loadSync(join(dirname(etcd3), '..', 'proto', 'rpc.proto'), OPTIONS)['etcdserverpb.Watch']?.['Watch'];
if (!watchMethod) throw new Error('etcd3\'s rpc.proto has no etcdserverpb.Watch/Watch');
const watch: WatchMethod = watchMethod;

/** What the store handed the lease watch before, from etcd3's decoded object. */
function viaEtcd3(bytes: Buffer): unknown {
  const res = watch.responseDeserialize(bytes);
  return {
    events: res.events.map((ev) => ({
      type: ev.type.toUpperCase() === 'DELETE' ? 'delete' : 'put',
      record: { key: ev.kv.key.toString('utf8'), value: ev.kv.value.toString('utf8'), leaseId: ev.kv.lease, modRevision: ev.kv.mod_revision },
    })),
    revision: res.header.revision,
    created: res.created,
    canceled: res.canceled,
    compactRevision: res.compact_revision,
  };
}

const header = { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: '9007199254740993', raft_term: '7' };
const kv = (key: string, value: string, lease: string, modRevision: string): object => ({
  key: Buffer.from(key), value: Buffer.from(value), lease, mod_revision: modRevision, create_revision: '3', version: '2',
});
const CASES: Record<string, object> = {
  'created, no events': { header: { ...header, revision: '42' }, watch_id: '0', created: true },
  'a progress notice': { header: { ...header, revision: '1234567' } },
  'puts and a delete with a previous value': {
    header: { ...header, revision: '130' },
    events: [
      { type: 'PUT', kv: kv('/coreos.com/network/subnets/10.244.3.0-24', '{"PublicIP":"192.0.2.3","BackendType":"vxlan"}', '7587868797233545000', '128') },
      { type: 'DELETE', kv: kv('/coreos.com/network/subnets/10.244.4.0-24', '', '0', '129'), prev_kv: kv('/x', 'old', '5', '12') },
      { type: 'PUT', kv: kv('/coreos.com/network/subnets/0.0.0.0-0&fd00:12:13::-56', '{"PublicIPv6":"2001:db8::3","x":"é ✓"}', '-3', '130') },
    ],
  },
  'compacted': { header: { ...header, revision: '500' }, compact_revision: '400', canceled: true, cancel_reason: 'mvcc: required revision has been compacted' },
  'a fragment (not asked for; read as is)': { header, fragment: true, watch_id: '9223372036854775807', events: [{ type: 'PUT', kv: kv('/k', 'v', '1', '2') }] },
};

describe('decodeWatchResponse', () => {
  it.each(Object.entries(CASES))('reads %s as etcd3 does', (_name, message) => {
    const bytes = watch.responseSerialize(message);
    expect(decodeWatchResponse(bytes)).toEqual(viaEtcd3(bytes));
  });

  it('reads an empty message as proto3 defaults (etcd3 gave a null header there)', () => {
    expect(decodeWatchResponse(Buffer.alloc(0))).toEqual({ events: [], revision: '0', created: false, canceled: false, compactRevision: '0' });
  });

  it('refuses a truncated message', () => {
    const bytes = watch.responseSerialize(CASES['puts and a delete with a previous value'] ?? {});
    expect(() => decodeWatchResponse(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
  });
});
