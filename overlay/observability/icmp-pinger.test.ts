import { echoRequest, parseEchoReply } from './icmp-pinger.js';

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
