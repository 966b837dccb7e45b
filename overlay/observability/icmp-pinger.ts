// ICMP echo over one raw socket (raw-socket, a native module): needs CAP_NET_RAW, which weftd has
// (NET_RAW in the manifest). Many echoes may be in flight; replies are matched by our identifier,
// the sequence number and the source address. The module is loaded on open(), so nothing that merely
// imports this file needs the native build.
import { createRequire } from 'node:module';
import { IpAddress } from '../../subnet/ip-address.js';

/** Sends one echo and resolves with the RTT in ms, or undefined when no reply came in time. */
export interface Pinger {
  ping(address: IpAddress, timeoutMs: number): Promise<number | undefined>;
  close(): void;
}

// The part of raw-socket's untyped API we use.
interface RawSocket {
  on(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  send(buffer: Buffer, offset: number, length: number, address: string, after: (err: Error | null) => void): this;
  close(): void;
}
interface RawSocketModule {
  createSocket(options: { protocol: number }): RawSocket;
  createChecksum(...buffers: Buffer[]): number;
  writeChecksum(buffer: Buffer, offset: number, checksum: number): Buffer;
  Protocol: { ICMP: number };
}

const ECHO_REPLY = 0;
const ECHO_REQUEST = 8;

interface Pending {
  address: IpAddress;
  sentAt: number;
  resolve: (rttMs: number | undefined) => void;
  timer: NodeJS.Timeout;
}

export class IcmpPinger implements Pinger {
  private readonly pending = new Map<number, Pending>();
  private sequence = 0;
  private closed = false;

  private constructor(
    private readonly raw: RawSocketModule,
    private readonly socket: RawSocket,
    private readonly identifier: number,
    private readonly onError: (err: Error) => void,
  ) {
    socket.on('message', (buffer, source) => {
      this.onMessage(buffer, source);
    });
    socket.on('error', (err) => {
      this.onError(err);
    });
  }

  /** Opens the raw socket; throws when the native module or CAP_NET_RAW is missing. */
  static open(onError: (err: Error) => void): IcmpPinger {
    const raw = createRequire(import.meta.url)('raw-socket') as RawSocketModule;
    const socket = raw.createSocket({ protocol: raw.Protocol.ICMP });
    // A random identifier per socket: several pingers (or processes) can share a namespace.
    return new IcmpPinger(raw, socket, Math.floor(Math.random() * 0x10000), onError);
  }

  ping(address: IpAddress, timeoutMs: number): Promise<number | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    this.sequence = (this.sequence + 1) & 0xffff;
    const sequence = this.sequence;
    this.pending.get(sequence)?.resolve(undefined); // wrapped around onto a stale probe
    const packet = echoRequest(this.identifier, sequence);
    this.raw.writeChecksum(packet, 2, this.raw.createChecksum(packet));
    return new Promise((resolve) => {
      const finish = (rttMs: number | undefined): void => {
        const entry = this.pending.get(sequence);
        if (entry?.resolve !== finish) return;
        clearTimeout(entry.timer);
        this.pending.delete(sequence);
        resolve(rttMs);
      };
      const timer = setTimeout(() => { finish(undefined); }, timeoutMs);
      this.pending.set(sequence, { address, sentAt: performance.now(), resolve: finish, timer });
      this.socket.send(packet, 0, packet.length, address.toString(), (err) => {
        // e.g. ENETUNREACH when no route leads there: a lost probe, reported as such.
        if (err) finish(undefined);
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of [...this.pending.values()]) entry.resolve(undefined);
    this.socket.close();
  }

  private onMessage(buffer: Buffer, source: string): void {
    const reply = parseEchoReply(buffer);
    if (reply?.identifier !== this.identifier) return;
    const entry = this.pending.get(reply.sequence);
    if (entry === undefined || IpAddress.parse(source)?.equals(entry.address) !== true) return;
    entry.resolve(performance.now() - entry.sentAt);
  }
}

/** An echo request with an 8-byte payload; the checksum field is left zero for the caller to fill. */
export function echoRequest(identifier: number, sequence: number): Buffer {
  const packet = Buffer.alloc(16);
  packet.writeUInt8(ECHO_REQUEST, 0);
  packet.writeUInt16BE(identifier, 4);
  packet.writeUInt16BE(sequence, 6);
  packet.write('weftprob', 8, 'ascii');
  return packet;
}

/** The identifier and sequence of an echo reply as a raw IPv4 socket hands it over (IP header first). */
export function parseEchoReply(buffer: Buffer): { identifier: number; sequence: number } | undefined {
  if (buffer.length < 1) return undefined;
  const headerLength = ((buffer[0] ?? 0) & 0x0f) * 4;
  if (headerLength < 20 || buffer.length < headerLength + 8) return undefined;
  if (buffer[headerLength] !== ECHO_REPLY) return undefined;
  return { identifier: buffer.readUInt16BE(headerLength + 4), sequence: buffer.readUInt16BE(headerLength + 6) };
}
