// ICMP echo over raw sockets (raw-socket, a native module), one per family: ICMP for IPv4 targets,
// ICMPv6 for IPv6 targets. Needs CAP_NET_RAW, which weftd has (NET_RAW in the manifest). Many
// echoes may be in flight; replies are matched by our identifier, the sequence number and the
// source address. The module is loaded on open(), so nothing that merely imports this file needs
// the native build.
import { createRequire } from 'node:module';
import { FAMILIES, IpAddress, type IpFamily } from '../../subnet/ip-address.js';

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
  createSocket(options: { addressFamily: number; protocol: number }): RawSocket;
  createChecksum(...buffers: Buffer[]): number;
  writeChecksum(buffer: Buffer, offset: number, checksum: number): Buffer;
  AddressFamily: { IPv4: number; IPv6: number };
  Protocol: { ICMP: number; ICMPv6: number };
}

/** What differs between ICMP and ICMPv6 echo: data, so that both go through the same code. */
export interface EchoFamily {
  addressFamily: 'IPv4' | 'IPv6';
  protocol: 'ICMP' | 'ICMPv6';
  requestType: number;
  replyType: number;
  /**
   * The kernel fills the ICMPv6 checksum itself (it covers a pseudo-header with the source address,
   * which only the kernel knows); the ICMP checksum is ours to write.
   */
  kernelChecksum: boolean;
  /** A raw IPv4 socket hands over the IP header too; a raw IPv6 socket only the ICMPv6 message. */
  receivesIpHeader: boolean;
  /**
   * IPv6 answers an echo to an anycast address from a unicast one (RFC 4443 4.2). A vxlan peer's
   * subnet address (fd00:..:3::, on flannel-v6.<VNI>) is also the subnet-router anycast address of
   * its cni0 prefix once forwarding is on, so its replies come from the peer's underlay address:
   * such a reply is matched by identifier and sequence alone.
   */
  repliesFromAnotherAddress: boolean;
}

export const ECHO_FAMILIES: Readonly<Record<IpFamily, EchoFamily>> = {
  ipv4: { addressFamily: 'IPv4', protocol: 'ICMP', requestType: 8, replyType: 0, kernelChecksum: false, receivesIpHeader: true, repliesFromAnotherAddress: false },
  ipv6: { addressFamily: 'IPv6', protocol: 'ICMPv6', requestType: 128, replyType: 129, kernelChecksum: true, receivesIpHeader: false, repliesFromAnotherAddress: true },
};

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
    private readonly sockets: ReadonlyMap<IpFamily, RawSocket>,
    private readonly identifier: number,
    onError: (err: Error) => void,
  ) {
    for (const [family, socket] of sockets) {
      socket.on('message', (buffer, source) => {
        this.onMessage(family, buffer, source);
      });
      socket.on('error', onError);
    }
  }

  /**
   * Opens a raw socket per family asked for (IPv4 only unless told: a node with IPv6 disabled has
   * no ICMPv6 socket to open); throws when the native module or CAP_NET_RAW is missing.
   */
  static open(onError: (err: Error) => void, families: readonly IpFamily[] = ['ipv4']): IcmpPinger {
    const raw = createRequire(import.meta.url)('raw-socket') as RawSocketModule;
    const sockets = new Map<IpFamily, RawSocket>();
    try {
      for (const family of new Set(families)) {
        const { addressFamily, protocol } = ECHO_FAMILIES[family];
        sockets.set(family, raw.createSocket({ addressFamily: raw.AddressFamily[addressFamily], protocol: raw.Protocol[protocol] }));
      }
    } catch (err) {
      for (const socket of sockets.values()) socket.close();
      throw err;
    }
    // A random identifier per pinger: several pingers (or processes) can share a namespace.
    return new IcmpPinger(raw, sockets, Math.floor(Math.random() * 0x10000), onError);
  }

  ping(address: IpAddress, timeoutMs: number): Promise<number | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    const socket = this.sockets.get(address.family);
    if (socket === undefined) {
      return Promise.reject(new Error(`cannot ping ${address.toString()}: no ${FAMILIES[address.family].label} socket was opened`));
    }
    const echo = ECHO_FAMILIES[address.family];
    this.sequence = (this.sequence + 1) & 0xffff;
    const sequence = this.sequence;
    this.pending.get(sequence)?.resolve(undefined); // wrapped around onto a stale probe
    const packet = echoRequest(this.identifier, sequence, echo.requestType);
    if (!echo.kernelChecksum) this.raw.writeChecksum(packet, 2, this.raw.createChecksum(packet));
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
      socket.send(packet, 0, packet.length, address.toString(), (err) => {
        // e.g. ENETUNREACH when no route leads there: a lost probe, reported as such.
        if (err) finish(undefined);
      });
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const entry of [...this.pending.values()]) entry.resolve(undefined);
    for (const socket of this.sockets.values()) socket.close();
  }

  private onMessage(family: IpFamily, buffer: Buffer, source: string): void {
    const echo = ECHO_FAMILIES[family];
    const reply = parseEchoReply(buffer, echo);
    if (reply?.identifier !== this.identifier) return;
    // Sequence numbers are shared by the families' sockets: the reply must come in on the target's.
    const entry = this.pending.get(reply.sequence);
    if (entry?.address.family !== family) return;
    const fromTarget = IpAddress.parse(source, family)?.equals(entry.address) ?? false;
    if (fromTarget || echo.repliesFromAnotherAddress) entry.resolve(performance.now() - entry.sentAt);
  }
}

/** An echo request with an 8-byte payload; the checksum field is left zero (the caller or kernel fills it). */
export function echoRequest(identifier: number, sequence: number, type = ECHO_FAMILIES.ipv4.requestType): Buffer {
  const packet = Buffer.alloc(16);
  packet.writeUInt8(type, 0);
  packet.writeUInt16BE(identifier, 4);
  packet.writeUInt16BE(sequence, 6);
  packet.write('weftprob', 8, 'ascii');
  return packet;
}

/** The identifier and sequence of an echo reply as a raw socket of `echo`'s family hands it over. */
export function parseEchoReply(buffer: Buffer, echo: EchoFamily = ECHO_FAMILIES.ipv4): { identifier: number; sequence: number } | undefined {
  if (buffer.length < 1) return undefined;
  const headerLength = echo.receivesIpHeader ? ((buffer[0] ?? 0) & 0x0f) * 4 : 0;
  if ((echo.receivesIpHeader && headerLength < 20) || buffer.length < headerLength + 8) return undefined;
  if (buffer[headerLength] !== echo.replyType) return undefined;
  return { identifier: buffer.readUInt16BE(headerLength + 4), sequence: buffer.readUInt16BE(headerLength + 6) };
}
