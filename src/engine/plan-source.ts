// Where the controller's plan comes from: a watched env file today; a string, or a custom resource
// in the operator, later. The controller asks for the plan again whenever the source says it may
// have changed, and reconciles whatever differs.
import { unwatchFile, watchFile } from 'node:fs';
import { planFromFile, type PlanOptions } from '../envfile/from-file.js';
import type { Exposure, Plan } from '../plan/types.js';
import type { ExposureStatus } from '../status/types.js';
import type { OwnedObject } from '../status/records.js';

export interface PlanSource {
  /** For messages: "build.envd". */
  readonly description: string;
  /** The plan now. Throws (a UserError / SourceError) when the input is invalid. */
  load(): Promise<Plan>;
  /** Calls `onChange` whenever the plan may have changed, until `signal` aborts. */
  watch(onChange: () => void, signal: AbortSignal): void;
  /** Set when another system applies part of the plan (the in-cluster operator). */
  readonly remote?: RemoteExposures;
}

/**
 * The exposures another system applies for this environment, as that system reports them: shown
 * in the status next to the local ones, and what it holds in the cluster recorded as owned, so
 * `down` removes it.
 */
export interface RemoteExposures {
  /** Without `since`: the controller stamps every row alike. */
  status(): Omit<ExposureStatus, 'since'>[];
  owned(): OwnedObject[];
  /** The exposures it applies, as planned: status rows of both lists link to each other (a ClusterIP's row names its Ingress). */
  exposures?(): readonly Exposure[];
  /** Calls `onChange` whenever `status()` may have changed, until `signal` aborts. */
  watch(onChange: () => void, signal: AbortSignal): void;
  /** The controller stops: `up` removes what the other system holds (everything goes with `up`); `serve` leaves it for `down`. */
  release(mode: 'up' | 'serve'): Promise<void>;
}

/** An env file, polled (watchFile follows editors that replace the file). */
export class FilePlanSource implements PlanSource {
  constructor(
    readonly file: string,
    private readonly opts: PlanOptions = {},
    private readonly intervalMs = 500,
  ) {}

  get description(): string {
    return this.file;
  }

  async load(): Promise<Plan> {
    return planFromFile(this.file, this.opts);
  }

  watch(onChange: () => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    const listener = (cur: { mtimeMs: number; size: number }, prev: { mtimeMs: number; size: number }) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) onChange();
    };
    watchFile(this.file, { interval: this.intervalMs }, listener);
    signal.addEventListener('abort', () => unwatchFile(this.file, listener), { once: true });
  }
}

/** A plan held in memory; `set()` replaces it (tests, embedding programs, the operator's resources). */
export class StaticPlanSource implements PlanSource {
  private listeners = new Set<() => void>();
  constructor(private plan: Plan, readonly description = 'plan') {}

  async load(): Promise<Plan> {
    return this.plan;
  }

  set(plan: Plan): void {
    this.plan = plan;
    for (const l of this.listeners) l();
  }

  watch(onChange: () => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    this.listeners.add(onChange);
    signal.addEventListener('abort', () => this.listeners.delete(onChange), { once: true });
  }
}

/**
 * Another source's plan, shaped on every load: the cluster's view of it (automatic Ingresses), or
 * what stays on this machine when an operator takes the cluster exposures. Watches the inner source.
 */
export class MappedPlanSource implements PlanSource {
  constructor(
    private readonly inner: PlanSource,
    private readonly map: (plan: Plan) => Plan | Promise<Plan>,
    readonly remote?: RemoteExposures,
  ) {}

  get description(): string {
    return this.inner.description;
  }

  async load(): Promise<Plan> {
    return this.map(await this.inner.load());
  }

  watch(onChange: () => void, signal: AbortSignal): void {
    this.inner.watch(onChange, signal);
  }
}
