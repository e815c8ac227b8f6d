// When to probe each exposure. Observing is cheap and probing is not (a probe of a ClusterIP
// Service is a request through the API server), so probes run:
//   - soon after something changed (a watch event, a process exit: `changed(ids)`, debounced),
//   - when a user asks (`probeNow(ids)`: status, check, the page),
//   - otherwise on a slow schedule that backs off while results stay the same: minMs after a
//     change, doubling up to maxMs (never more than maxMs apart, so an app that stops answering
//     behind a Ready pod shows within maxMs), shortened by up to `jitter` so that many envserve
//     processes do not probe in step.
// Exposures that are due close together are probed in one round (one call to `probe`), so probes
// of the same backend can be shared by whoever runs them. Pure timing logic: the clock is injected.

export interface ProbeScheduleOptions {
  /** Probes these exposures; resolves with the ids whose result changed. Must not throw. */
  probe(ids: string[]): Promise<ReadonlySet<string>>;
  /** The interval right after a change (default 2 s). */
  minMs?: number;
  /** The longest interval between two probes of one exposure (default 30 s). */
  maxMs?: number;
  /** Changes that arrive within this window are probed together (default 50 ms). */
  debounceMs?: number;
  /** A fraction of the interval taken off at random, per round (default 0.2). */
  jitter?: number;
  random?: () => number;
  clock?: Clock;
}

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(t: unknown): void;
}

const realClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeJS.Timeout),
};

interface Entry {
  intervalMs: number;
  due: number;
  /** Bumped by changed(): a change during a round is not overwritten by that round's result. */
  gen: number;
  maxMs: number;
}

export class ProbeSchedule {
  readonly minMs: number;
  readonly maxMs: number;
  private readonly debounceMs: number;
  private readonly jitter: number;
  private readonly random: () => number;
  private readonly clock: Clock;
  private readonly entries = new Map<string, Entry>();
  private timer: unknown;
  private timerAt = Infinity;
  private running?: Promise<void>;
  private stopped = false;
  /** Rounds probed so far, and how many exposures in all (for tests and the bench). */
  readonly counts = { rounds: 0, probes: 0 };

  constructor(private readonly o: ProbeScheduleOptions) {
    this.minMs = o.minMs ?? 2000;
    this.maxMs = Math.max(this.minMs, o.maxMs ?? 30_000);
    this.debounceMs = o.debounceMs ?? 50;
    this.jitter = Math.min(0.5, Math.max(0, o.jitter ?? 0.2));
    this.random = o.random ?? Math.random;
    this.clock = o.clock ?? realClock;
  }

  /**
   * A new exposure: probed after `dueInMs` (with the others that are due then). `maxMs` lowers the
   * ceiling for this one: an exposure whose changes nobody reports is polled every minMs.
   */
  add(id: string, maxMs = this.maxMs, dueInMs = 0): void {
    if (!this.entries.has(id)) this.entries.set(id, { intervalMs: this.minMs, due: this.clock.now() + dueInMs, gen: 0, maxMs: Math.max(this.minMs, Math.min(this.maxMs, maxMs)) });
    this.arm();
  }

  remove(id: string): void {
    this.entries.delete(id);
  }

  has(id: string): boolean {
    return this.entries.has(id);
  }

  /** When the exposure is due next (ms since the epoch), for tests and diagnostics. */
  dueAt(id: string): number | undefined {
    return this.entries.get(id)?.due;
  }

  intervalOf(id: string): number | undefined {
    return this.entries.get(id)?.intervalMs;
  }

  /** Something observed about these exposures (all when omitted) changed: probe them soon. */
  changed(ids?: Iterable<string>): void {
    const at = this.clock.now() + this.debounceMs;
    for (const id of ids ?? this.entries.keys()) {
      const e = this.entries.get(id);
      if (!e) continue;
      e.intervalMs = this.minMs;
      e.due = Math.min(e.due, at);
      e.gen++;
    }
    this.arm();
  }

  /** A user asks: probes these exposures (all when omitted) now and resolves when done. */
  async probeNow(ids?: Iterable<string>): Promise<void> {
    const list = [...(ids ?? this.entries.keys())].filter((id) => this.entries.has(id));
    if (this.running) await this.running; // one round at a time; then ours
    if (this.stopped || list.length === 0) return;
    await this.round(list);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Sets the timer for the earliest due exposure (if not set earlier already). */
  private arm(): void {
    if (this.stopped || this.running) return; // a running round re-arms when it ends
    let next = Infinity;
    for (const e of this.entries.values()) next = Math.min(next, e.due);
    if (next === Infinity || next >= this.timerAt) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.timerAt = Infinity;
      void this.fire();
    }, Math.max(0, next - this.clock.now()));
  }

  private async fire(): Promise<void> {
    if (this.stopped || this.running) return;
    const now = this.clock.now();
    // Those due now, and those due soon (within a tenth of their interval): probed together.
    const ids = [...this.entries].filter(([, e]) => e.due <= now + Math.max(this.debounceMs, e.intervalMs / 10)).map(([id]) => id);
    if (ids.length > 0) await this.round(ids);
    this.arm();
  }

  private async round(ids: string[]): Promise<void> {
    let done!: () => void;
    this.running = new Promise<void>((r) => (done = r));
    try {
      this.counts.rounds++;
      this.counts.probes += ids.length;
      const gens = new Map(ids.map((id) => [id, this.entries.get(id)?.gen]));
      let changed: ReadonlySet<string>;
      try {
        changed = await this.o.probe(ids);
      } catch {
        changed = new Set(ids); // a probe that throws is a bug elsewhere; retry soon
      }
      const now = this.clock.now();
      const factor = 1 - this.jitter * this.random(); // one factor per round keeps the batch together
      for (const id of ids) {
        const e = this.entries.get(id);
        if (!e || e.gen !== gens.get(id)) continue; // changed while probing: probed again soon
        e.intervalMs = changed.has(id) ? this.minMs : Math.min(e.maxMs, e.intervalMs * 2);
        e.due = now + Math.round(e.intervalMs * factor);
      }
    } finally {
      this.running = undefined;
      done();
      this.arm();
    }
  }
}
