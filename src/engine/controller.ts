// The environment controller: the one engine under every front end (`up`/`serve`, the control
// socket, the dashboard, the operator). It owns the runtime, the reconciler and the probes:
//
//   PlanSource ──load/watch──▶ EnvController.run(signal)
//                                 preflight → (up) start the environment → reconcile → settle
//                                 every plan change: added → applied, changed → replaced, gone →
//                                 removed (and pruned from the cluster)
//                                 probe rounds (ProbeScheduler) → status() → 'status' events
//                                 signal aborted: stop exposures, the environment, remove the record
//
// Front ends subscribe to events ('status', 'started', 'reload', 'log', 'stopping', 'stopped') and
// call the actions (restartExposure, stopExposure, startExposure, probeNow, stop). Reconciles and
// actions run one at a time, in order. Status composition is in exposure-status.ts, the state
// record in state-record.ts.
import { RuntimeFailure, UserError } from '../errors.js';
import type { Exposure, Plan } from '../plan/types.js';
import { probeAll, summarize, targetsFor, type ProbeResult, type TargetResult } from '../probe/index.js';
import type { EnvStatus } from '../status/types.js';
import { isWildcard } from '../apply/local/ports.js';
import { Reconciler, type ExposureDiff } from '../apply/reconcile.js';
import type { Runtime } from '../apply/types.js';
import { TypedEmitter } from './events.js';
import { composeStatus, displayName, SinceStamps } from './exposure-status.js';
import type { PlanSource } from './plan-source.js';
import { BackoffScheduler, type ProbeScheduler } from './scheduler.js';
import type { OwnedObject } from '../status/records.js';
import type { StateStore } from './state.js';
import { stateRecord } from './state-record.js';

export interface EnvControllerOptions {
  source: PlanSource;
  runtime: Runtime;
  /** `up` starts the environment; `serve` only exposes one that already runs. */
  mode: 'up' | 'serve';
  /** --listen: overrides every exposure's listen address. */
  listenOverride?: string;
  /** Where the state record goes; none = nothing is written (tests, embedding programs). */
  store?: StateStore;
  /** The control socket a front end serves for this controller, recorded in the state record. */
  controlSocket?: string;
  /** Default: probe probeIntervalMs (2 s) after a change, backing off to 30 s while nothing changes (watched exposures). */
  scheduler?: ProbeScheduler;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  /** How long start-up waits for every exposure to answer before reporting (default 0). */
  settleMs?: number;
  /** Extra notes computed from the status (WSL URLs, ...). */
  extraNotes?: (status: EnvStatus) => string[];
  /** Default: src/probe's probeAll (tests pass a fake). */
  probeTargets?: typeof probeAll;
}

export type ReloadEvent =
  | { ok: true; added: string[]; changed: string[]; removed: string[]; unchanged: string[]; notes: string[]; warnings: Plan['warnings'] }
  | { ok: false; error: Error };

export interface EnvControllerEvents {
  [k: string]: unknown[];
  /** The status changed (state, reason, message, URLs, processes, notes). */
  status: [EnvStatus];
  /** Start-up finished: everything applied and settled. */
  started: [EnvStatus];
  /** The plan source changed: what was applied, or why the new plan was refused. */
  reload: [ReloadEvent];
  /** Progress for people. */
  log: [string];
  stopping: [];
  stopped: [];
}

export class EnvController extends TypedEmitter<EnvControllerEvents> {
  private plan?: Plan;
  private readonly reconciler: Reconciler;
  private readonly scheduler: ProbeScheduler;
  private readonly probes = new Map<string, ProbeResult>();
  private readonly stamps = new SinceStamps();
  /** Exposures the user stopped (stopExposure): not applied until startExposure. */
  private readonly userStopped = new Set<string>();
  private readonly warnings: string[] = [];
  private readonly startedAt = new Date().toISOString();
  private queue: Promise<unknown> = Promise.resolve();
  private stopper?: AbortController;
  private phase: 'idle' | 'starting' | 'running' | 'stopping' | 'stopped' = 'idle';
  private lastEmitted = '';

  constructor(private readonly opts: EnvControllerOptions) {
    super();
    this.reconciler = new Reconciler(opts.runtime);
    this.scheduler = opts.scheduler ?? new BackoffScheduler(opts.probeIntervalMs ?? 2000);
  }

  get runtime(): Runtime {
    return this.opts.runtime;
  }

  /**
   * Runs the environment until `signal` aborts (or stop() is called): start-up, then reconcile on
   * every plan change and probe. Resolves once everything it started is stopped. A failure during
   * start-up rolls everything back and rejects. Aborting during start-up stops promptly.
   */
  async run(signal: AbortSignal): Promise<void> {
    if (this.phase !== 'idle') throw new Error('EnvController.run() was already called');
    this.phase = 'starting';
    this.stopper = new AbortController();
    const stop = AbortSignal.any([signal, this.stopper.signal]);
    // A runtime event names the exposures it concerns (a Service lost its endpoints), or none: all.
    const onRuntimeChange = (ids?: readonly string[]) => this.scheduler.poke(ids);
    try {
      await this.start(stop);
      if (stop.aborted) return;
      this.phase = 'running';
      this.emit('started', this.status());
      this.scheduler.run((ids) => this.probeRound(ids), stop);
      this.opts.runtime.on?.('change', onRuntimeChange);
      this.opts.source.watch(() => void this.enqueue(() => this.reload()), stop);
      this.opts.source.remote?.watch(() => this.publish(), stop);
      await new Promise<void>((r) => (stop.aborted ? r() : stop.addEventListener('abort', () => r(), { once: true })));
    } finally {
      this.phase = 'stopping';
      this.emit('stopping');
      this.opts.runtime.off?.('change', onRuntimeChange);
      this.stopper.abort();
      await this.queue.catch(() => undefined);
      await this.teardown();
      this.phase = 'stopped';
      this.emit('stopped');
    }
  }

  /** Asks run() to stop everything and return (the control socket's `stop`). */
  stop(): void {
    this.stopper?.abort();
  }

  /** The exposures this runtime applies (the others are reported as notes). */
  private exposures(plan = this.plan): Exposure[] {
    if (!plan) return [];
    return plan.exposures.filter((e) => (this.opts.runtime.kinds as readonly string[]).includes(e.kind));
  }

  private desired(plan = this.plan): Exposure[] {
    return this.exposures(plan).filter((e) => !this.userStopped.has(e.id));
  }

  private async start(signal: AbortSignal): Promise<void> {
    const { runtime, mode } = this.opts;
    const plan = (this.plan = await this.opts.source.load());
    for (const e of plan.exposures) {
      if (!this.exposures().includes(e)) this.warnings.push(`${e.position}: ${e.kind} exposure ${e.id} is not applied by the ${runtime.name} runtime`);
    }
    const startOpts = { mode, signal, ...(this.opts.listenOverride !== undefined && { listenOverride: this.opts.listenOverride }) };
    await runtime.preflight(plan, this.exposures(), startOpts);
    // Recorded before anything starts, so `status` and `down` find this envserve during start-up.
    this.writeState();
    if (signal.aborted) return;
    if (mode === 'up') {
      this.emit('log', `starting the environment (${runtime.name} runtime)`);
      await runtime.startEnvironment(plan, this.exposures(), startOpts);
      // Recorded at once, so `down` finds these processes/the container even if we die next.
      this.writeState();
      if (signal.aborted) return;
    }
    await this.reconciler.apply(this.desired());
    if (signal.aborted) return;
    // At start, a failure is not left half-applied: the caller's finally rolls everything back.
    if (this.reconciler.failures.size) {
      const failures = [...this.reconciler.failures.values()];
      const reasons = new Set(failures.map((f) => f.reason));
      const msgs = failures.map((f) => `${f.spec.position}: ${f.message}`);
      throw new RuntimeFailure(`could not expose:\n${msgs.join('\n')}\nnothing was left running`, undefined, reasons.size === 1 ? [...reasons][0]! : 'ApplyFailed');
    }
    await runtime.prune?.(this.desired());
    for (const h of this.reconciler.handles.values()) {
      if (isWildcard(h.listen.address)) {
        this.warnings.push(`${displayName(this.plan, h.spec)} listens on ${h.listen.address === '::' ? '[::]' : '0.0.0.0'}:${h.listen.port}: reachable from the network, not only from this machine`);
      }
    }
    await this.probeRound();
    const deadline = Date.now() + (this.opts.settleMs ?? 0);
    while (!signal.aborted && Date.now() < deadline && ![...this.reconciler.handles.keys()].every((id) => this.probes.get(id)?.ok)) {
      await new Promise((r) => setTimeout(r, 100));
      await this.probeRound();
    }
  }

  private async teardown(): Promise<void> {
    await this.reconciler.stopAll();
    await this.opts.source.remote?.release(this.opts.mode).catch((e: Error) => this.emit('log', `could not remove what the operator holds for this environment: ${e.message} (envserve down does)`));
    await this.opts.runtime.stopEnvironment();
    const store = this.opts.store;
    if (!store) return;
    // `serve` leaves its cluster objects for `down`: keep the record of them, marked stopped.
    if (this.owned().length > 0) this.writeState(this.status(), new Date().toISOString());
    else store.remove();
  }

  /** Runs `fn` after every reconcile/action queued before it. */
  private enqueue<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** The plan source changed: reconcile the new plan against what runs. */
  private async reload(): Promise<void> {
    if (this.phase !== 'running') return;
    const before = this.plan!;
    let next: Plan;
    try {
      next = await this.opts.source.load();
    } catch (e) {
      this.emit('reload', { ok: false, error: e as Error });
      return;
    }
    const notes: string[] = [];
    const { runtime, mode } = this.opts;
    if (mode === 'up' && JSON.stringify(before.env) !== JSON.stringify(next.env)) {
      notes.push('build() changed: restart envserve up to apply it (the running environment was kept)');
    }
    const fixed = runtime.fixedExposures?.(mode);
    if (fixed) {
      if (JSON.stringify(before.exposures) !== JSON.stringify(next.exposures)) notes.push(fixed);
      this.emit('reload', { ok: true, added: [], changed: [], removed: [], unchanged: this.exposures().map((e) => e.id), notes, warnings: next.warnings });
      return;
    }
    // Check what can fail for the exposures that are new, before changing anything.
    const running = new Set([...this.reconciler.handles.keys(), ...this.reconciler.failures.keys()]);
    const added = this.desired(next).filter((e) => !running.has(e.id));
    try {
      await runtime.preflight(next, this.exposures(next), { mode, reload: { added }, ...(this.opts.listenOverride !== undefined && { listenOverride: this.opts.listenOverride }) });
    } catch (e) {
      this.emit('reload', { ok: false, error: e as Error });
      return;
    }
    this.plan = next;
    const diff: ExposureDiff = await this.reconciler.apply(this.desired());
    await runtime.prune?.(this.desired()).catch((e: Error) => this.emit('log', `removing what is no longer wanted: ${e.message}`));
    for (const id of diff.stop) this.probes.delete(id);
    await this.probeRound();
    const startedIds = diff.start.map((e) => e.id);
    this.emit('reload', {
      ok: true,
      added: startedIds.filter((id) => !diff.stop.includes(id)),
      changed: startedIds.filter((id) => diff.stop.includes(id)),
      removed: diff.stop.filter((id) => !startedIds.includes(id)),
      unchanged: diff.unchanged,
      notes,
      warnings: next.warnings,
    });
  }

  // ---- actions (front ends: the control socket, the dashboard) ----

  private spec(id: string): Exposure {
    const e = this.exposures().find((x) => x.id === id);
    if (!e && this.opts.source.remote?.status().some((r) => r.id === id)) {
      throw new UserError(`${id} is applied in the cluster by the envserve operator, not by this envserve`, 'change it in the env file (every change is submitted again), or see kubectl get exposuresets', 'InvalidInput');
    }
    if (!e) throw new UserError(`no exposure ${JSON.stringify(id)} in this environment`, `exposures: ${this.exposures().map((x) => x.id).join(', ') || 'none'}`, 'NotFound');
    return e;
  }

  private running(): void {
    if (this.phase !== 'running') throw new RuntimeFailure(`the environment is ${this.phase}`, undefined, 'NotRunning');
  }

  /** Stops and starts one exposure again (a port-forward gets a new listener, a Service is re-applied). */
  restartExposure(id: string): Promise<EnvStatus> {
    return this.enqueue(async () => {
      this.running();
      const e = this.spec(id);
      this.userStopped.delete(id);
      await this.reconciler.stopOne(id);
      this.probes.delete(id);
      await this.reconciler.startOne(e);
      await this.probeRound([id]);
      return this.status();
    });
  }

  /** Stops one exposure until startExposure (or a restart of envserve); Kubernetes objects are removed. */
  stopExposure(id: string): Promise<EnvStatus> {
    return this.enqueue(async () => {
      this.running();
      this.spec(id);
      this.userStopped.add(id);
      await this.reconciler.stopOne(id);
      this.probes.delete(id);
      await this.opts.runtime.prune?.(this.desired());
      this.publish();
      return this.status();
    });
  }

  startExposure(id: string): Promise<EnvStatus> {
    return this.enqueue(async () => {
      this.running();
      const e = this.spec(id);
      this.userStopped.delete(id);
      if (!this.reconciler.handles.has(id)) {
        await this.reconciler.stopOne(id); // clears an earlier failure
        await this.reconciler.startOne(e);
      }
      await this.probeRound([id]);
      return this.status();
    });
  }

  /** Probes now (one exposure, or all) and returns the status. */
  async probeNow(id?: string): Promise<EnvStatus> {
    this.running();
    if (id !== undefined) this.spec(id);
    await this.probeRound(id !== undefined ? [id] : undefined);
    return this.status();
  }

  // ---- probing and status ----

  /**
   * Probes these exposures (all when omitted) and publishes the status; resolves with the ids
   * whose result changed (the scheduler backs off the others). Identical targets in one round are
   * probed once (forty forwards to one pod port, forty Services in front of the same pods).
   */
  private async probeRound(ids?: readonly string[]): Promise<ReadonlySet<string>> {
    const changed = new Set<string>();
    if (this.phase === 'stopping' || this.phase === 'stopped') return changed;
    const { runtime } = this.opts;
    await runtime.refresh?.().catch(() => false);
    const ctx = { ...(runtime.api && { api: runtime.api }), ...(this.opts.probeTimeoutMs !== undefined && { timeoutMs: this.opts.probeTimeoutMs }) };
    const handles = [...this.reconciler.handles.values()].filter((h) => !ids || ids.includes(h.spec.id));
    // What the runtime already knows (a pod gone, endpoints gone) shows now, not after the probes.
    this.publish();
    const shared = new Map<string, Promise<TargetResult[]>>();
    await Promise.all(
      handles.map(async (h) => {
        // An exposure that cannot answer (no Ready pod, no load balancer) is not probed.
        const cond = h.condition?.();
        let result: ProbeResult;
        if (cond?.blocking) result = { ok: false, reason: cond.reason, detail: cond.message };
        else {
          const targets = targetsFor(h.spec, h.observed());
          const key = JSON.stringify(targets);
          let p = shared.get(key);
          if (!p) shared.set(key, (p = (this.opts.probeTargets ?? probeAll)(targets, ctx)));
          result = summarize(await p);
        }
        // The handle may have been replaced meanwhile (a reload): keep only a current result.
        if (this.reconciler.handles.get(h.spec.id) !== h) return;
        const prev = this.probes.get(h.spec.id);
        if (!prev || prev.ok !== result.ok || prev.reason !== result.reason || prev.detail !== result.detail) changed.add(h.spec.id);
        this.probes.set(h.spec.id, result);
      }),
    );
    this.publish();
    this.scheduler.sync?.([...this.reconciler.handles.values()].map((h) => ({ id: h.spec.id, watched: h.watched === true })));
    return changed;
  }

  /** Emits 'status' and writes the state record when anything users see changed. */
  private publish(): void {
    if (this.phase === 'stopping' || this.phase === 'stopped' || this.phase === 'idle') return;
    const s = this.status();
    const text = JSON.stringify(s);
    if (text === this.lastEmitted) return;
    this.lastEmitted = text;
    this.writeState(s);
    this.emit('status', s);
  }

  private writeState(s = this.status(), stoppedAt?: string): void {
    const store = this.opts.store;
    if (!store) return;
    store.write(stateRecord({ status: s, runtime: this.opts.runtime, handles: this.reconciler.handles.values(), owned: this.owned(), controlSocket: this.opts.controlSocket, stoppedAt }));
  }

  /** What envserve holds in the cluster for this environment: the runtime's objects and the operator's resource. */
  private owned(): OwnedObject[] {
    return [...(this.opts.runtime.resources().owned ?? []), ...(this.opts.source.remote?.owned() ?? [])];
  }

  /** The status now: plain data, the same for every front end. */
  status(): EnvStatus {
    return composeStatus(
      {
        plan: this.plan,
        runtime: this.opts.runtime,
        mode: this.opts.mode,
        envId: this.opts.store?.envId,
        startedAt: this.startedAt,
        stopping: this.phase === 'stopping' || this.phase === 'stopped',
        exposures: this.exposures(),
        userStopped: this.userStopped,
        handles: this.reconciler.handles,
        failures: this.reconciler.failures,
        probes: this.probes,
        remote: this.opts.source.remote?.status() ?? [],
        remoteExposures: this.opts.source.remote?.exposures?.() ?? [],
        warnings: this.warnings,
        extraNotes: this.opts.extraNotes,
      },
      this.stamps,
    );
  }
}
