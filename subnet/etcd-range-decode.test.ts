// decodeRangeResponse against etcd3's own decoder (proto-loader over etcd3's rpc.proto, with etcd3's
// options): for bytes that protobufjs encodes, the listing must come out as the store built it from
// etcd3's decoded object, including 64-bit lease IDs and revisions beyond 2^53.
import { decodeRangeResponse } from './etcd-range-decode.js';
import { etcd3Method } from './testing/etcd3-rpc.js';

interface KeyValue { key: Buffer; value: Buffer; lease: string; mod_revision: string }
interface RangeResponse { header: { revision: string }; kvs: KeyValue[]; more: boolean; count: string }
const range = etcd3Method<RangeResponse>('etcdserverpb.KV', 'Range');

/** What the store's list() returned before, from etcd3's decoded object. */
function viaEtcd3(bytes: Buffer): unknown {
  const res = range.responseDeserialize(bytes);
  return {
    records: res.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), leaseId: kv.lease, modRevision: kv.mod_revision })),
    revision: res.header.revision,
  };
}

const header = { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: '9007199254740993', raft_term: '7' };
const kv = (key: string, value: string, lease: string, modRevision: string): object => ({
  key: Buffer.from(key), value: Buffer.from(value), lease, mod_revision: modRevision, create_revision: '18446744073709551', version: '2',
});
const SUBNETS = '/coreos.com/network/subnets/';
const CASES: Record<string, object> = {
  'an empty range': { header: { ...header, revision: '42' }, count: '0' },
  'leases with 64-bit lease IDs and an empty value': {
    header,
    kvs: [
      kv(`${SUBNETS}10.244.3.0-24`, '{"PublicIP":"192.0.2.3","BackendType":"vxlan"}', '7587868797233545000', '9007199254740992'),
      kv(`${SUBNETS}10.244.4.0-24`, '', '0', '129'),
      kv(`${SUBNETS}0.0.0.0-0&fd00:12:13::-56`, '{"PublicIPv6":"2001:db8::3","x":"é ✓"}', '-3', '130'),
      kv(`${SUBNETS}10.244.5.0-24`, '{}', '18446744073709551615', '131'),
    ],
    count: '4',
  },
  'revisions and lease IDs at every varint byte boundary': {
    header: { ...header, revision: '562949953421312' },
    kvs: ['127', '128', '16383', '16384', '2097151', '2097152', '268435455', '268435456', '2147483648', '4294967296', '562949953421311']
      .map((n, i) => kv(`/k${String(i)}`, n, n, n)),
  },
  'a limited range with more and a count beyond the keys': {
    header: { ...header, revision: '500' }, kvs: [kv('/k', 'v', '1', '2')], more: true, count: '9223372036854775807',
  },
};

describe('decodeRangeResponse', () => {
  it.each(Object.entries(CASES))('reads %s as etcd3 does', (_name, message) => {
    const bytes = range.responseSerialize(message);
    expect(decodeRangeResponse(bytes)).toEqual(viaEtcd3(bytes));
  });

  it('gives lease IDs above 2^53 exactly, as signed int64 strings', () => {
    const bytes = range.responseSerialize(CASES['leases with 64-bit lease IDs and an empty value'] ?? {});
    const leases = decodeRangeResponse(bytes).records.map((r) => r.leaseId);
    expect(leases).toEqual(['7587868797233545000', '0', '-3', '-1']);
  });

  it('reads an empty message as an empty listing at revision 0', () => {
    expect(decodeRangeResponse(Buffer.alloc(0))).toEqual({ records: [], revision: '0' });
  });

  it('refuses a truncated message', () => {
    const bytes = range.responseSerialize(CASES['leases with 64-bit lease IDs and an empty value'] ?? {});
    expect(() => decodeRangeResponse(bytes.subarray(0, bytes.length - 3))).toThrow(/truncated/);
  });
});
