// Many netlink requests packed into one datagram, only the last asking for an acknowledgement
// (part of the rtnetlink adapter). The kernel handles messages in order and answers failures with
// an error carrying their sequence number, so once that last acknowledgement arrives every
// failure of the datagram is known.
import type { RtNetlinkSocket } from 'netlink';
import { constants as osConstants } from 'node:os';
import { NetlinkError } from './netlink-error.js';
import { encodeWriteInto, MAX_WRITE_BYTES } from './rtnetlink-encode.js';
import type { KernelWrite } from './rtnetlink-types.js';

/** Bytes of messages packed into one datagram at most; well inside the kernel's default socket buffers. */
const DATAGRAM_BYTES = 32 * 1024;
const NLMSG_ERROR = 2;

export interface Datagram {
  bytes: Buffer;
  /** The writes it carries, by sequence number; the last one asks for the acknowledgement. */
  writes: { seq: number; write: KernelWrite }[];
}

/** Cuts `writes` into datagrams of at most DATAGRAM_BYTES, one at a time, each encoded into one buffer. */
export function* packDatagrams(writes: readonly KernelWrite[], nextSeq: () => number, port: number): Generator<Datagram> {
  for (let start = 0; start < writes.length; ) {
    const chunk: { seq: number; write: KernelWrite }[] = [];
    const buffer = Buffer.alloc(DATAGRAM_BYTES);
    let bytes = 0;
    while (start < writes.length) {
      const write = writes[start++] as KernelWrite;
      const seq = nextSeq();
      const last = start === writes.length || bytes + 2 * MAX_WRITE_BYTES > DATAGRAM_BYTES;
      bytes = encodeWriteInto(write, seq, port, last, buffer, bytes);
      chunk.push({ seq, write });
      if (last) break;
    }
    yield { bytes: buffer.subarray(0, bytes), writes: chunk };
  }
}

/** Sends one datagram; resolves with the errno name of every message that failed, by sequence number. */
export function sendDatagram(socket: RtNetlinkSocket, datagram: Datagram): Promise<Map<number, string>> {
  const lastSeq = datagram.writes.at(-1)?.seq ?? 0;
  const errors = new Map<number, string>();
  const netlink = socket.socket;
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      netlink.ref(false);
      netlink.off('message', onMessage);
      netlink.off('error', onError);
    };
    const onMessage = (messages: { type: number; seq: number; data: Buffer }[]): void => {
      for (const msg of messages) {
        if (msg.type !== NLMSG_ERROR) continue;
        const errno = msg.data.readInt32LE(0);
        if (errno !== 0) errors.set(msg.seq, errnoName(-errno));
        if (msg.seq === lastSeq) {
          cleanup();
          resolve(errors);
        }
      }
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(NetlinkError.from('write batch', `ending at sequence ${lastSeq}`, err));
    };
    netlink.ref(true); // the package only keeps the event loop alive for its own requests
    netlink.on('message', onMessage);
    netlink.on('error', onError);
    netlink.socket.send(datagram.bytes, {}, (err?: Error) => {
      if (err) onError(err);
    });
  });
}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, value]) => [value, name]));

function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `errno ${errno}`;
}
