// When the controller probes. The controller only says "probe these now" (a reload, an action, a
// runtime event) and hands over the probe round; the scheduler decides when rounds run. Today:
// every `intervalMs`, plus at once when poked. A watch-driven scheduler (probe when something
// changed, else on a slow jittered backoff) replaces this object alone.

export type ProbeRound = (ids?: readonly string[]) => Promise<void>;

export interface ProbeScheduler {
  /** Starts running rounds until `signal` aborts. */
  run(round: ProbeRound, signal: AbortSignal): void;
  /** Probe soon: these exposures, or all of them. */
  poke(ids?: readonly string[]): void;
}

export class PeriodicScheduler implements ProbeScheduler {
  private round?: ProbeRound;
  private busy = false;
  /** A poke while a round runs: undefined = none, 'all' or a set of ids. */
  private pending: 'all' | Set<string> | undefined;
  private timer?: NodeJS.Timeout;
  private signal?: AbortSignal;

  constructor(readonly intervalMs = 2000) {}

  run(round: ProbeRound, signal: AbortSignal): void {
    this.round = round;
    this.signal = signal;
    if (signal.aborted) return;
    this.timer = setInterval(() => this.poke(), Math.max(50, this.intervalMs));
    signal.addEventListener('abort', () => clearInterval(this.timer), { once: true });
  }

  poke(ids?: readonly string[]): void {
    if (!this.round || this.signal?.aborted) return;
    if (this.busy) {
      if (!ids || this.pending === 'all') this.pending = 'all';
      else this.pending = new Set([...(this.pending ?? []), ...ids]);
      return;
    }
    this.busy = true;
    void this.round(ids)
      .catch(() => undefined) // a round records its own failures in the status
      .finally(() => {
        this.busy = false;
        const p = this.pending;
        this.pending = undefined;
        if (p) this.poke(p === 'all' ? undefined : [...p]);
      });
  }
}
