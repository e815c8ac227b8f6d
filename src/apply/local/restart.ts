// When a process `up` started exits, it is started again after a capped exponential backoff:
// 1 s, doubling, at most 5 min; a run that lasted 10 min resets it — a crash loop slows down, a
// crash after a long healthy run comes back at once.
import type { BackoffOptions } from '../backoff.js';
import type { ProcessExit } from '../../status/types.js';

export const PROCESS_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 300_000, resetAfterMs: 600_000 };

/** Time and timers, so tests can drive the backoff with a fake clock. */
export interface Clock {
  now(): number;
  /** Calls `fn` after `ms`; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  after: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** "1 s", "4 min 16 s": a delay for people. */
export function fmtDelay(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min${s % 60 ? ` ${s % 60} s` : ''}`;
}

/** What an exposure's row shows of the process or container behind it (nothing when none was started). */
export function restartsOf(r: { restarts?: number; lastExit?: ProcessExit; state?: string } | undefined): { restarts?: number; lastExit?: ProcessExit } {
  if (!r || r.state === 'not-installed') return {};
  return { restarts: r.restarts ?? 0, ...(r.lastExit && { lastExit: r.lastExit }) };
}
