// One cold decode of a 5000-lease RangeResponse in this fresh process, by etcd3's decoder (plus the
// store's former mapping to records) or by weft's (subnet/etcd-range-decode.ts): what weftd pays for
// its first listing at start. Run: node --expose-gc dist/test/bench/range-decode-cold.js etcd3|weft
import { decodeRangeResponse } from '../../subnet/etcd-range-decode.js';
import type { EtcdListing } from '../../subnet/etcd-store.js';
import { etcd3Method } from '../../subnet/testing/etcd3-rpc.js';

interface RangeResponse { header: { revision: string }; kvs: { key: Buffer; value: Buffer; lease: string; mod_revision: string }[] }
const range = etcd3Method<RangeResponse>('etcdserverpb.KV', 'Range');

function viaEtcd3(bytes: Buffer): EtcdListing {
  const res = range.responseDeserialize(bytes);
  const records = res.kvs.map((kv) => ({ key: kv.key.toString('utf8'), value: kv.value.toString('utf8'), leaseId: kv.lease, modRevision: kv.mod_revision }));
  return { records, revision: res.header.revision };
}

function flannelLeases(count: number): Buffer {
  const kvs = Array.from({ length: count }, (_, i) => ({
    key: Buffer.from(`/coreos.com/network/subnets/10.${String(244 + (i >> 8))}.${String(i & 255)}.0-24`),
    value: Buffer.from(`{"PublicIP":"192.0.2.${String(i & 255)}","BackendType":"vxlan","BackendData":{"VtepMAC":"aa:bb:cc:dd:${(i >> 8).toString(16)}:${(i & 255).toString(16)}"}}`),
    lease: String(7587868797233545000n + BigInt(i)),
    mod_revision: String(1000 + i),
    create_revision: String(1000 + i),
    version: '1',
  }));
  const header = { cluster_id: '14841639068965178418', member_id: '10276657743932975437', revision: '6000', raft_term: '7' };
  return range.responseSerialize({ header, kvs, count: String(count) });
}

const decoder = process.argv[2];
if (decoder !== 'etcd3' && decoder !== 'weft') throw new Error('usage: range-decode-cold.js etcd3|weft');
const bytes = flannelLeases(5000);
(globalThis as { gc?: () => void }).gc?.();
const started = performance.now();
const cpu = process.cpuUsage();
const listing = decoder === 'etcd3' ? viaEtcd3(bytes) : decodeRangeResponse(bytes);
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ decoder, records: listing.records.length, wallMs: +(performance.now() - started).toFixed(1), cpuMs: (used.user + used.system) / 1000 }));
