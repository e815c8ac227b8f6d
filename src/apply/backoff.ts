// Capped exponential backoff, tilt-style (defaults: 50 ms, doubling, at most 15 s); a run that
// stayed healthy long enough resets it, so one blip after hours of uptime retries fast again.
// Shared by the Kubernetes watches and port-forwards and by restarts of local processes.
export interface BackoffOptions {
  initialMs?: number;
  maxMs?: number;
  factor?: number;
  /** A healthy run at least this long resets the delay. */
  resetAfterMs?: number;
}

export class Backoff {
  private readonly initialMs: number;
  private readonly maxMs: number;
  private readonly factor: number;
  private readonly resetAfterMs: number;
  private nextMs: number;
  private healthySince?: number;

  constructor(o: BackoffOptions = {}) {
    this.initialMs = o.initialMs ?? 50;
    this.maxMs = o.maxMs ?? 15_000;
    this.factor = o.factor ?? 2;
    this.resetAfterMs = o.resetAfterMs ?? 10_000;
    this.nextMs = this.initialMs;
  }

  /** Call when a run starts being healthy (a watch opened, a stream carried data). */
  healthy(now = Date.now()): void {
    this.healthySince ??= now;
  }

  /** The delay before the next attempt, after a failure. */
  next(now = Date.now()): number {
    if (this.healthySince !== undefined && now - this.healthySince >= this.resetAfterMs) this.nextMs = this.initialMs;
    this.healthySince = undefined;
    const d = this.nextMs;
    this.nextMs = Math.min(this.maxMs, this.nextMs * this.factor);
    return d;
  }

  reset(): void {
    this.nextMs = this.initialMs;
    this.healthySince = undefined;
  }
}

/** A sleep that an AbortSignal cuts short (resolves false when aborted). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
