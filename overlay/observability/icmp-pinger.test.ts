import { ECHO_FAMILIES, echoRequest, parseEchoReply } from './icmp-pinger.js';

/** An IPv4 header (no options unless told) in front of an ICMP message. */
function withIpHeader(icmp: Buffer, optionWords = 0): Buffer {
  const header = Buffer.alloc(20 + optionWords * 4);
  header[0] = 0x40 | (5 + optionWords);
  return Buffer.concat([header, icmp]);
}

describe('ICMP echo encoding', () => {
  it('writes type 8, identifier and sequence', () => {
    const packet = echoRequest(0x1234, 0xbeef);
    expect(packet[0]).toBe(8);
    expect(packet.readUInt16BE(4)).toBe(0x1234);
    expect(packet.readUInt16BE(6)).toBe(0xbeef);
  });

  it('reads a reply behind an IP header of any length', () => {
    const reply = echoRequest(7, 9);
    reply[0] = 0;
    expect(parseEchoReply(withIpHeader(reply))).toEqual({ identifier: 7, sequence: 9 });
    expect(parseEchoReply(withIpHeader(reply, 2))).toEqual({ identifier: 7, sequence: 9 });
  });

  it('ignores requests, other ICMP types and truncated packets', () => {
    expect(parseEchoReply(withIpHeader(echoRequest(7, 9)))).toBeUndefined();
    const unreachable = echoRequest(7, 9);
    unreachable[0] = 3;
    expect(parseEchoReply(withIpHeader(unreachable))).toBeUndefined();
    expect(parseEchoReply(Buffer.alloc(0))).toBeUndefined();
    expect(parseEchoReply(withIpHeader(Buffer.from([0, 0, 0])))).toBeUndefined();
    const badIhl = withIpHeader(echoRequest(7, 9));
    badIhl[0] = 0x42;
    expect(parseEchoReply(badIhl)).toBeUndefined();
  });
});

describe('ICMPv6 echo encoding', () => {
  const v6 = ECHO_FAMILIES.ipv6;

  it('writes type 128 and leaves the checksum to the kernel', () => {
    const packet = echoRequest(0x1234, 0xbeef, v6.requestType);
    expect(packet[0]).toBe(128);
    expect(packet.readUInt16BE(2)).toBe(0);
    expect(packet.readUInt16BE(4)).toBe(0x1234);
    expect(v6.kernelChecksum).toBe(true);
  });

  it('reads a type 129 reply with no IP header in front (a raw IPv6 socket strips it)', () => {
    const reply = echoRequest(7, 9, v6.replyType);
    expect(parseEchoReply(reply, v6)).toEqual({ identifier: 7, sequence: 9 });
    expect(parseEchoReply(withIpHeader(reply), v6)).toBeUndefined();
  });

  it('ignores its own request, neighbour discovery, an IPv4 echo reply and truncated packets', () => {
    expect(parseEchoReply(echoRequest(7, 9, v6.requestType), v6)).toBeUndefined();
    expect(parseEchoReply(echoRequest(7, 9, 135), v6)).toBeUndefined();
    expect(parseEchoReply(echoRequest(7, 9, 0), v6)).toBeUndefined();
    expect(parseEchoReply(Buffer.from([129, 0, 0, 0, 0, 7]), v6)).toBeUndefined();
  });
});
