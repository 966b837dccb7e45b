// The protobuf wire format, read by hand for the few etcd responses weft decodes itself (watch and
// range): etcd3's decoder (protobufjs through @grpc/proto-loader, with int64s as decimal strings)
// builds every field of every message and turns each 64-bit number into a string by Long division.
// Here only the fields we use are read; the rest are skipped by wire type, as protobuf requires.
import type { EtcdRecord } from './etcd-store.js';

/** Protobuf wire types. */
export const Wire = { Varint: 0, Fixed64: 1, Bytes: 2, Fixed32: 5 } as const;
export type WireType = number;

/** A field's tag as it is on the wire: its number and wire type in one varint. */
export function fieldTag(field: number, wire: WireType): number {
  return field * 8 + wire;
}

/** Reads one message (or a nested one) between `pos` and `end` of the buffer. */
export class ProtoReader {
  constructor(private readonly buf: Buffer, private pos: number, private readonly end: number) {}

  get done(): boolean {
    return this.pos >= this.end;
  }

  /** The next field's tag (see fieldTag): compared whole, so that no pair is made per field. */
  tag(): number {
    const tag = this.varint();
    if (typeof tag !== 'number') throw new Error('malformed etcd response: field tag too large');
    return tag;
  }

  /** A varint: a number below 2^49 (every revision and length), a BigInt above. */
  varint(): number | bigint {
    // Small integer arithmetic for the first 4 bytes (below 2^28: every tag and length).
    let value = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      const byte = this.byte();
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
    for (let shift = 28; shift < 49; shift += 7) {
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
    throw new Error('malformed etcd response: varint longer than 10 bytes');
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
    const start = this.span();
    return this.buf.toString('utf8', start, this.pos);
  }

  /** A nested message. */
  message(): ProtoReader {
    const start = this.span();
    return new ProtoReader(this.buf, start, this.pos);
  }

  /** Skips the field whose tag was just read. */
  skip(tag: number): void {
    const wire = tag % 8;
    if (wire === Wire.Varint) this.varint();
    else if (wire === Wire.Fixed64) this.advance(8);
    else if (wire === Wire.Bytes) this.span();
    else if (wire === Wire.Fixed32) this.advance(4);
    else throw new Error(`malformed etcd response: wire type ${String(wire)}`);
  }

  /** Moves past a length-delimited field; returns where its bytes start (they end at `pos`). */
  private span(): number {
    const length = this.varint();
    if (typeof length !== 'number') throw new Error('malformed etcd response: length too large');
    const start = this.pos;
    this.advance(length);
    return start;
  }

  private advance(bytes: number): void {
    if (this.pos + bytes > this.end) throw new Error('malformed etcd response: truncated');
    this.pos += bytes;
  }

  private byte(): number {
    if (this.pos >= this.end) throw new Error('malformed etcd response: truncated');
    return this.buf[this.pos++] ?? 0;
  }
}

/** ResponseHeader: only `revision` (3); the cluster and member IDs and raft term are skipped. */
const HEADER_REVISION = fieldTag(3, Wire.Varint);
export function headerRevision(r: ProtoReader): string {
  let revision = '0';
  while (!r.done) {
    const tag = r.tag();
    if (tag === HEADER_REVISION) revision = r.int64();
    else r.skip(tag);
  }
  return revision;
}

/** mvccpb.KeyValue: key (1), mod_revision (3), value (5), lease (6). */
const KV_KEY = fieldTag(1, Wire.Bytes);
const KV_MOD_REVISION = fieldTag(3, Wire.Varint);
const KV_VALUE = fieldTag(5, Wire.Bytes);
const KV_LEASE = fieldTag(6, Wire.Varint);
export function keyValue(r: ProtoReader): EtcdRecord {
  const record: EtcdRecord = { key: '', value: '', leaseId: '0', modRevision: '0' };
  while (!r.done) {
    const tag = r.tag();
    if (tag === KV_KEY) record.key = r.utf8();
    else if (tag === KV_MOD_REVISION) record.modRevision = r.int64();
    else if (tag === KV_VALUE) record.value = r.utf8();
    else if (tag === KV_LEASE) record.leaseId = r.int64();
    else r.skip(tag);
  }
  return record;
}
