// When the controller probes. The controller only says "probe these now" (a reload, an action, a
// runtime event) and hands over the probe round; the scheduler decides when rounds run.
//   PeriodicScheduler — every `intervalMs`, plus at once when poked.
//   BackoffScheduler (the default) — at once when poked (a watch saw a change), else on a slow
//     jittered schedule per exposure that backs off while results stay the same, never more than
//     30 s apart (src/probe/schedule.ts); exposures whose changes nobody watches stay at intervalMs.
import { ProbeSchedule } from '../probe/schedule.js';

/** Probes these exposures (all when omitted); may resolve with the ids whose result changed. */
export type ProbeRound = (ids?: readonly string[]) => Promise<ReadonlySet<string> | void>;

/** An exposure the controller runs; `watched`: the runtime reports its changes ('change' events). */
export interface ScheduledExposure {
  id: string;
  watched: boolean;
}

export interface ProbeScheduler {
  /** Starts running rounds until `signal` aborts. */
  run(round: ProbeRound, signal: AbortSignal): void;
  /** Probe soon: these exposures, or all of them. */
  poke(ids?: readonly string[]): void;
  /** The exposures that run now (called after every probe round). */
  sync?(exposures: readonly ScheduledExposure[]): void;
}

export class BackoffScheduler implements ProbeScheduler {
  private schedule?: ProbeSchedule;
  private readonly known = new Map<string, boolean>();

  constructor(
    readonly intervalMs = 2000,
    readonly maxMs = 30_000,
  ) {}

  run(round: ProbeRound, signal: AbortSignal): void {
    if (signal.aborted) return;
    const schedule = (this.schedule = new ProbeSchedule({
      minMs: Math.max(50, this.intervalMs),
      maxMs: this.maxMs,
      probe: async (ids) => {
        const changed = await round(ids).catch(() => undefined);
        return changed ?? new Set(ids); // a round that cannot tell counts as a change
      },
    }));
    for (const [id, watched] of this.known) schedule.add(id, watched ? this.maxMs : this.intervalMs, this.intervalMs);
    signal.addEventListener('abort', () => schedule.stop(), { once: true });
  }

  poke(ids?: readonly string[]): void {
    this.schedule?.changed(ids);
  }

  sync(exposures: readonly ScheduledExposure[]): void {
    const now = new Map(exposures.map((e) => [e.id, e.watched]));
    for (const [id, watched] of this.known) {
      if (now.get(id) === watched) continue;
      this.known.delete(id);
      this.schedule?.remove(id);
    }
    for (const [id, watched] of now) {
      if (this.known.has(id)) continue;
      this.known.set(id, watched);
      this.schedule?.add(id, watched ? this.maxMs : this.intervalMs, this.intervalMs); // just probed
    }
  }

  /** How long until this exposure's next probe at the latest (tests, diagnostics). */
  intervalOf(id: string): number | undefined {
    return this.schedule?.intervalOf(id);
  }
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
