// etcd's WatchResponse (rpc.proto; Event and KeyValue from kv.proto), decoded from the wire straight
// into what the lease watch reads. etcd3's own decoder (protobufjs through @grpc/proto-loader, with
// int64s as decimal strings) builds every field of every message, and turns each 64-bit number into
// a string by Long division: the cluster and member IDs and the raft term of every response too.
// Under churn that was ~10% of weftd's CPU, more than all our own lease handling. Here only the
// fields we use are read; the rest are skipped by wire type, as protobuf requires.
import type { EtcdRecord, EtcdWatchEvent, EtcdWatchResponse } from './etcd-store.js';

/** Protobuf wire types. */
const Wire = { Varint: 0, Fixed64: 1, Bytes: 2, Fixed32: 5 } as const;
type WireType = number;
/** mvccpb.Event.EventType */
const DELETE_EVENT = 1;

/** Reads one message (or a nested one) between `pos` and `end` of the buffer. */
class ProtoReader {
  constructor(private readonly buf: Buffer, private pos: number, private readonly end: number) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's number and wire type. */
  tag(): [number, WireType] {
    const tag = this.varint();
    if (typeof tag !== 'number') throw new Error('malformed watch response: field tag too large');
    return [Math.floor(tag / 8), tag % 8];
  }

  /** A varint: a number below 2^49 (every revision and length), a BigInt above. */
  varint(): number | bigint {
    let value = 0;
    for (let shift = 0; shift < 49; shift += 7) {
      const byte = this.byte();
      value += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return value;
    }
    let big = BigInt(value);
    for (let shift = 49n; shift < 70n; shift += 7n) {
      const byte = this.byte();
      big |= BigInt(byte & 0x7f) << shift;
      if (byte < 0x80) return big;
    }
    throw new Error('malformed watch response: varint longer than 10 bytes');
  }

  /** An int64 as the decimal string etcd3 would give (lease IDs use all 64 bits). */
  int64(): string {
    const v = this.varint();
    return typeof v === 'number' ? String(v) : BigInt.asIntN(64, v).toString();
  }

  bool(): boolean {
    return this.varint() !== 0;
  }

  utf8(): string {
    const [start, end] = this.span();
    return this.buf.toString('utf8', start, end);
  }

  /** A nested message. */
  message(): ProtoReader {
    const [start, end] = this.span();
    return new ProtoReader(this.buf, start, end);
  }

  skip(wire: WireType): void {
    if (wire === Wire.Varint) this.varint();
    else if (wire === Wire.Fixed64) this.advance(8);
    else if (wire === Wire.Bytes) this.span();
    else if (wire === Wire.Fixed32) this.advance(4);
    else throw new Error(`malformed watch response: wire type ${String(wire)}`);
  }

  private span(): [number, number] {
    const length = this.varint();
    if (typeof length !== 'number') throw new Error('malformed watch response: length too large');
    const start = this.pos;
    this.advance(length);
    return [start, this.pos];
  }

  private advance(bytes: number): void {
    if (this.pos + bytes > this.end) throw new Error('malformed watch response: truncated');
    this.pos += bytes;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new Error('malformed watch response: truncated');
    return this.buf[this.pos++] ?? 0;
  }
}

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

/** ResponseHeader: only `revision` (3); the cluster and member IDs and raft term are skipped. */
function headerRevision(r: ProtoReader): string {
  let revision = '0';
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 3 && wire === Wire.Varint) revision = r.int64();
    else r.skip(wire);
  }
  return revision;
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

/** mvccpb.KeyValue: key (1), mod_revision (3), value (5), lease (6). */
function keyValue(r: ProtoReader): EtcdRecord {
  const record: EtcdRecord = { key: '', value: '', leaseId: '0', modRevision: '0' };
  while (!r.done) {
    const [field, wire] = r.tag();
    if (field === 1 && wire === Wire.Bytes) record.key = r.utf8();
    else if (field === 3 && wire === Wire.Varint) record.modRevision = r.int64();
    else if (field === 5 && wire === Wire.Bytes) record.value = r.utf8();
    else if (field === 6 && wire === Wire.Varint) record.leaseId = r.int64();
    else r.skip(wire);
  }
  return record;
}
