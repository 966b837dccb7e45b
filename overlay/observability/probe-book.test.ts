import { compareSubnets, ProbeBook, type ProbeTarget } from './probe-book.js';
import { ip } from '../../test/addresses.js';

const at = new Date('2026-11-22T10:00:00Z');
const target = (peer: string, address = peer.replace(/\/\d+$/, '')): ProbeTarget => ({ peer, address: ip(address) });
const book = (): ProbeBook => new ProbeBook({ brokenAfter: 3, windowSize: 4 });

describe('ProbeBook round robin', () => {
  it('visits peers in subnet order and wraps around', () => {
    const b = book();
    b.setTargets([target('10.244.10.0/24'), target('10.244.2.0/24'), target('10.244.9.0/24')]);
    const seen = Array.from({ length: 7 }, () => b.next()?.peer);
    expect(seen).toEqual([
      '10.244.2.0/24', '10.244.9.0/24', '10.244.10.0/24', '10.244.2.0/24', '10.244.9.0/24', '10.244.10.0/24', '10.244.2.0/24',
    ]);
  });

  it('resumes after the last peer probed when the set changes, even if that peer left', () => {
    const b = book();
    b.setTargets([target('10.244.1.0/24'), target('10.244.3.0/24'), target('10.244.5.0/24')]);
    expect(b.next()?.peer).toBe('10.244.1.0/24');
    expect(b.next()?.peer).toBe('10.244.3.0/24');
    b.setTargets([target('10.244.1.0/24'), target('10.244.4.0/24'), target('10.244.5.0/24')]);
    expect(b.next()?.peer).toBe('10.244.4.0/24');
    expect(b.next()?.peer).toBe('10.244.5.0/24');
    expect(b.next()?.peer).toBe('10.244.1.0/24');
  });

  it('has nothing to probe without peers', () => {
    expect(book().next()).toBeUndefined();
  });

  it('orders subnets numerically, not as text', () => {
    expect(['10.244.10.0/24', '10.244.9.0/24', '9.0.0.0/8'].sort(compareSubnets)).toEqual(['9.0.0.0/8', '10.244.9.0/24', '10.244.10.0/24']);
  });
});

describe('ProbeBook results', () => {
  it('marks a peer broken after K timeouts in a row and healthy after one reply', () => {
    const b = book();
    const t = target('10.244.1.0/24');
    b.setTargets([t]);
    b.record(t, undefined, at);
    b.record(t, undefined, at);
    expect(b.summary(10).broken).toEqual([]);
    b.record(t, undefined, at);
    expect(b.summary(10).broken.map((r) => r.peer)).toEqual(['10.244.1.0/24']);
    b.record(t, 0.4, at);
    const summary = b.summary(10);
    expect(summary.broken).toEqual([]);
    expect(summary.worst[0]).toMatchObject({ peer: '10.244.1.0/24', sent: 4, lost: 3, lossRatio: 0.75, lastRttMs: 0.4, consecutiveTimeouts: 0 });
  });

  it('keeps only the recent window for the loss ratio', () => {
    const b = book();
    const t = target('10.244.1.0/24');
    b.setTargets([t]);
    for (let i = 0; i < 4; i++) b.record(t, undefined, at);
    for (let i = 0; i < 4; i++) b.record(t, 1, at);
    expect(b.summary(10)).toMatchObject({ lossRatio: 0, broken: [] });
  });

  it('aggregates loss over all peers and ranks broken peers first', () => {
    const b = book();
    const [a, c, d] = [target('10.244.1.0/24'), target('10.244.2.0/24'), target('10.244.3.0/24')];
    b.setTargets([a, c, d]);
    b.record(a, 5, at);
    b.record(a, undefined, at); // 50 % loss, not broken
    for (let i = 0; i < 3; i++) b.record(c, undefined, at); // broken
    b.record(d, 0.1, at);
    b.record(d, 0.2, at);
    const summary = b.summary(2);
    expect(summary.lossRatio).toBeCloseTo(4 / 7);
    expect(summary.worst.map((r) => r.peer)).toEqual(['10.244.2.0/24', '10.244.1.0/24']);
    expect(summary).toMatchObject({ peers: 3, probed: 3 });
  });

  it('drops the history of a peer that moved to another address and ignores late results for it', () => {
    const b = book();
    const old = target('10.244.1.0/24', '192.0.2.1');
    b.setTargets([old]);
    for (let i = 0; i < 3; i++) b.record(old, undefined, at);
    const moved = target('10.244.1.0/24', '192.0.2.2');
    b.setTargets([moved]);
    b.record(old, undefined, at);
    expect(b.summary(10)).toMatchObject({ probed: 0, broken: [] });
  });
});
