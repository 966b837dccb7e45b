// Retry pacing shared by every loop that talks to a store: capped exponential backoff with jitter
// (so that many nodes restarted together do not hammer etcd in lockstep) and a sleep that an
// AbortSignal ends at once.

export interface BackoffOptions {
  /** First delay. */
  initialMs: number;
  /** No delay is ever longer than this (before jitter). */
  maxMs: number;
  /** Growth per failure; 2 unless told. */
  factor?: number | undefined;
  /** Fraction of each delay that is randomised: 0.2 gives delays in [0.8 d, d]. */
  jitter?: number | undefined;
  /** Injected in tests; Math.random otherwise. */
  random?: (() => number) | undefined;
}

export class Backoff {
  private attempt = 0;

  constructor(private readonly opts: BackoffOptions) {}

  /** The delay to wait before the next try; each call grows the following one, up to maxMs. */
  next(): number {
    const { initialMs, maxMs, factor = 2, jitter = 0.2, random = Math.random } = this.opts;
    const base = Math.min(maxMs, initialMs * factor ** this.attempt);
    if (base < maxMs) this.attempt += 1; // stop growing once capped: no overflow to Infinity
    return Math.round(base * (1 - jitter * random()));
  }

  /** After a success: the next failure starts again from initialMs. */
  reset(): void {
    this.attempt = 0;
  }
}

export type Sleep = (ms: number, signal: AbortSignal) => Promise<void>;

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(abortReason(signal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(signal));
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** The signal's reason as an Error (AbortSignal.abort() without a reason gives a DOMException). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : new Error(typeof reason === 'string' ? reason : 'aborted');
}
