// The controller's work queue, in client-go's shape (workqueue.TypedRateLimitingInterface): keys,
// not events, so a burst of changes to one object is one reconcile; a key being processed is never
// handed to a second worker (added again meanwhile, it comes back once the first is done); a key
// whose reconcile failed waits an exponential, capped, per-key delay that success resets; and
// `addAfter` for a reconcile that asked to be looked at again later.

/** Time and timers, swappable so the tests drive them. Monotonic: a wall-clock jump moves nothing. */
export interface Clock {
  now(): number;
  /** Calls fn after ms; returns the cancel. */
  setTimer(fn: () => void, ms: number): () => void;
}

export const realClock: Clock = {
  now: () => performance.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface WorkQueueOptions {
  /** The first retry's delay after an error (default 250 ms); it doubles per failure ... */
  baseDelayMs?: number;
  /** ... up to this (default 30 s). */
  maxDelayMs?: number;
  clock?: Clock;
}

export class WorkQueue<K = string> {
  private readonly order: K[] = [];
  /** Keys waiting to be processed (in `order`, or parked while in flight). */
  private readonly dirty = new Set<K>();
  private readonly processing = new Set<K>();
  private readonly delayed = new Map<K, { at: number; cancel: () => void }>();
  private readonly failures = new Map<K, number>();
  private readonly waiters: ((k: K | undefined) => void)[] = [];
  private closed = false;
  private readonly clock: Clock;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(o: WorkQueueOptions = {}) {
    this.clock = o.clock ?? realClock;
    this.baseDelayMs = o.baseDelayMs ?? 250;
    this.maxDelayMs = o.maxDelayMs ?? 30_000;
  }

  /** Queues the key unless it is already waiting; a key in flight comes back after done(). */
  add(k: K): void {
    if (this.closed || this.dirty.has(k)) return;
    this.dirty.add(k);
    if (!this.processing.has(k)) this.ready(k);
  }

  /** Adds the key after ms; an earlier pending add of the same key wins. */
  addAfter(k: K, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(k);
    const at = this.clock.now() + ms;
    const cur = this.delayed.get(k);
    if (cur && cur.at <= at) return;
    cur?.cancel();
    const cancel = this.clock.setTimer(() => {
      this.delayed.delete(k);
      this.add(k);
    }, ms);
    this.delayed.set(k, { at, cancel });
  }

  /** After a failed reconcile: adds the key after its backoff, which doubles per failure. Returns the delay. */
  addRateLimited(k: K): number {
    const n = this.failures.get(k) ?? 0;
    this.failures.set(k, n + 1);
    const ms = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
    this.addAfter(k, ms);
    return ms;
  }

  /** After a successful reconcile: the key's backoff starts over. */
  forget(k: K): void {
    this.failures.delete(k);
  }

  /** How many times in a row the key failed. */
  failuresOf(k: K): number {
    return this.failures.get(k) ?? 0;
  }

  /** The next key to process (it is in flight until done(k)); undefined once shut down or aborted. */
  get(signal?: AbortSignal): Promise<K | undefined> {
    if (this.order.length) return Promise.resolve(this.take(this.order.shift()!));
    if (this.closed || signal?.aborted) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const waiter = (k: K | undefined) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(k);
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve(undefined);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** The worker finished the key: if it was added meanwhile, it is queued again now. */
  done(k: K): void {
    this.processing.delete(k);
    if (this.dirty.has(k)) this.ready(k);
  }

  /** Keys queued and not in flight. */
  get length(): number {
    return this.order.length;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  shutDown(): void {
    this.closed = true;
    for (const d of this.delayed.values()) d.cancel();
    this.delayed.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  private ready(k: K): void {
    const w = this.waiters.shift();
    if (w) w(this.take(k));
    else this.order.push(k);
  }

  private take(k: K): K {
    this.dirty.delete(k);
    this.processing.add(k);
    return k;
  }
}
