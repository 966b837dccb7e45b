import { abortableSleep, Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles from initialMs up to maxMs, and starts over after reset()', () => {
    const b = new Backoff({ initialMs: 100, maxMs: 1000, jitter: 0 });
    expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it('takes up to `jitter` off each delay', () => {
    expect(new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, random: () => 1 }).next()).toBe(500);
    expect(new Backoff({ initialMs: 1000, maxMs: 1000, jitter: 0.5, random: () => 0 }).next()).toBe(1000);
    const b = new Backoff({ initialMs: 1000, maxMs: 30_000 });
    for (let i = 0; i < 100; i++) {
      const d = b.next();
      expect(d).toBeGreaterThanOrEqual(800 * Math.min(2 ** i, 30));
      expect(d).toBeLessThanOrEqual(30_000);
    }
  });
});

describe('abortableSleep', () => {
  it('sleeps, and rejects with the reason as soon as the signal aborts', async () => {
    const t0 = Date.now();
    await abortableSleep(30, new AbortController().signal);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);

    const ac = new AbortController();
    const sleeping = abortableSleep(60_000, ac.signal);
    setTimeout(() => { ac.abort(new Error('stop')); }, 10);
    await expect(sleeping).rejects.toThrow('stop');
    await expect(abortableSleep(10, AbortSignal.abort(new Error('already')))).rejects.toThrow('already');
  });
});
