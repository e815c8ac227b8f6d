// One `up` or `serve`: checks everything first, starts the environment (up), applies the
// exposures through the reconciler, then keeps the status current and the state file written on
// change, until stop(). When to probe is the scheduler's call (probe/scheduler.ts): after a change
// the runtime observed, when asked (tick), else on a schedule that backs off while nothing changes.
import { resolve } from 'node:path';
import { RuntimeFailure } from '../errors.js';
import type { Exposure, Plan } from '../plan/types.js';
import { ProbeScheduler } from '../probe/scheduler.js';
import { probe } from '../status/probe.js';
import type { StatusStore } from '../status/store.js';
import type { EnvStatus, ExposureStatus } from '../status/types.js';
import { isWildcard, urlFor } from './local/ports.js';
import { processStartTime } from './local/proc-net.js';
import { Reconciler, type ExposureDiff } from './reconcile.js';
import type { Runtime, StartOptions } from './types.js';

export interface SessionOptions extends StartOptions {
  /** Replaced by updatePlan() when the env file changes. */
  plan: Plan;
  runtime: Runtime;
  store: StatusStore;
  /** Extra notes computed from the applied listeners (WSL URLs, ...). */
  extraNotes?: (status: EnvStatus) => string[];
  /** The shortest interval between two probes of an exposure (default 2 s). */
  probeIntervalMs?: number;
}

/** Probes of one round in flight at once (a probe may be a request through the API server). */
const PROBE_CONCURRENCY = 16;

export class Session {
  private readonly reconciler: Reconciler;
  private readonly probes = new Map<string, { answering: boolean; detail?: string }>();
  private readonly warnings: string[] = [];
  private readonly startedAt = new Date().toISOString();
  private stopped = false;
  readonly scheduler: ProbeScheduler;
  private readonly unsubscribe = new Map<string, () => void>();
  private readonly listeners = new Set<(s: EnvStatus) => void>();

  constructor(private readonly opts: SessionOptions) {
    this.reconciler = new Reconciler(opts.runtime);
    const minMs = Math.max(100, opts.probeIntervalMs ?? 2000);
    this.scheduler = new ProbeScheduler({ minMs, maxMs: opts.runtime.maxProbeIntervalMs ?? minMs, probe: (ids) => this.probeRound(ids) });
  }

  /** Called with the status after every probe round that changed it (the state file was written). */
  onStatus(listener: (s: EnvStatus) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Something outside the handles changed (a local process exited): probe everything soon. */
  changed(): void {
    this.scheduler.changed();
  }

  /** The scheduler follows the running handles: new ones probed at once, gone ones forgotten. */
  private syncSchedule(): void {
    const running = this.reconciler.handles;
    for (const [id, off] of this.unsubscribe) {
      if (running.has(id)) continue;
      off();
      this.unsubscribe.delete(id);
      this.scheduler.remove(id);
      this.probes.delete(id);
    }
    for (const [id, h] of running) {
      if (this.unsubscribe.has(id)) continue;
      // Only exposures whose changes are reported may back off; the others are polled.
      this.unsubscribe.set(id, h.onChange?.(() => this.scheduler.changed([id])) ?? (() => undefined));
      this.scheduler.add(id, h.onChange ? this.scheduler.maxMs : this.scheduler.minMs);
    }
  }

  /** The exposures this runtime applies; the others are reported as notes. */
  get exposures(): Exposure[] {
    return this.opts.plan.exposures.filter((e) => (this.opts.runtime.kinds as readonly string[]).includes(e.kind));
  }

  async start(): Promise<void> {
    const { plan, runtime } = this.opts;
    for (const e of plan.exposures) {
      if (!this.exposures.includes(e)) this.warnings.push(`${e.position}: ${e.kind} exposure ${e.id} is not applied by the ${runtime.name} runtime`);
    }
    await runtime.preflight(plan, this.exposures, this.opts);
    try {
      if (this.opts.mode === 'up') {
        await runtime.startEnvironment(plan, this.exposures, this.opts);
        // Recorded at once, so `down` finds these processes/the container even if we die next.
        this.opts.store.write(this.status());
      }
      await this.reconciler.apply(this.exposures);
      // At start, a failure is not left half-applied: roll everything back.
      if (this.reconciler.failures.size) {
        const msgs = [...this.reconciler.failures.values()].map((f) => `${f.spec.position}: ${f.message}`);
        throw new RuntimeFailure(`could not expose:\n${msgs.join('\n')}\nnothing was left running`);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    for (const h of this.reconciler.handles.values()) {
      if (isWildcard(h.listen.address)) {
        this.warnings.push(`${this.displayName(h.spec)} listens on ${h.listen.address === '::' ? '[::]' : '0.0.0.0'}:${h.listen.port}: reachable from the network, not only from this machine`);
      }
    }
    this.syncSchedule();
    await this.tick();
  }

  /** Probes until every exposure answers or `ms` pass: `up` shows a settled status, not "starting". */
  async waitUntilAnswering(ms: number, everyMs = 100): Promise<void> {
    const deadline = Date.now() + ms;
    while (!this.stopped && Date.now() < deadline) {
      if ([...this.reconciler.handles.keys()].every((id) => this.probes.get(id)?.answering)) return;
      await new Promise((r) => setTimeout(r, everyMs));
      await this.tick();
    }
  }

  /** Probes every exposure now (a user asked), writes the state file if anything changed. */
  async tick(): Promise<boolean> {
    if (this.stopped) return false;
    const before = this.writes;
    await this.scheduler.probeNow();
    if (this.stopped) return false;
    return this.write() || this.writes > before;
  }

  private writes = 0;
  private write(): boolean {
    if (this.stopped) return false;
    const status = this.status();
    if (!this.opts.store.write(status)) return false;
    this.writes++;
    for (const l of this.listeners) l(status);
    return true;
  }

  /** One round of the scheduler: refreshes the runtime, probes these exposures, writes the state. */
  private async probeRound(ids: string[]): Promise<Set<string>> {
    const changed = new Set<string>();
    if (this.stopped) return changed;
    await this.opts.runtime.refresh?.().catch(() => false);
    const queue = ids.map((id) => this.reconciler.handles.get(id)).filter((h) => h !== undefined);
    const worker = async () => {
      for (let h = queue.shift(); h; h = queue.shift()) {
        let r: { answering: boolean; detail?: string };
        try {
          if (h.probe) {
            const p = await h.probe();
            r = { answering: p.answering, ...(p.message ? { detail: p.message } : {}) };
          } else r = await probe(h.probeEndpoint, h.spec.protocol);
        } catch (e) {
          r = { answering: false, detail: `probe failed: ${(e as Error).message}` };
        }
        const prev = this.probes.get(h.spec.id);
        if (!prev || prev.answering !== r.answering || prev.detail !== r.detail) changed.add(h.spec.id);
        this.probes.set(h.spec.id, r);
      }
    };
    await Promise.all(Array.from({ length: Math.min(PROBE_CONCURRENCY, queue.length) }, worker));
    this.write();
    return changed;
  }

  status(): EnvStatus {
    const { plan, runtime } = this.opts;
    const res = runtime.resources();
    const exposures: ExposureStatus[] = this.exposures.map((e) => this.exposureStatus(e));
    const status: EnvStatus = {
      apiVersion: 'envserve/v1',
      kind: 'Status',
      envName: plan.env.name,
      envFile: resolve(plan.source),
      runtime: runtime.name,
      mode: this.opts.mode,
      pid: process.pid,
      ...(processStartTime(process.pid) !== undefined ? { pidStartTime: processStartTime(process.pid)! } : {}),
      startedAt: this.startedAt,
      processes: res.processes,
      ...(res.container ? { container: res.container } : {}),
      exposures,
      notes: [...this.warnings, ...res.notes],
    };
    if (this.opts.extraNotes) status.notes.push(...this.opts.extraNotes(status));
    return status;
  }

  private exposureStatus(e: Exposure): ExposureStatus {
    const base = { id: e.id, ...(this.nameOf(e) ? { name: this.nameOf(e)! } : {}), kind: e.kind, protocol: e.protocol, envPort: e.envPort };
    const failure = this.reconciler.failures.get(e.id);
    if (failure) return { ...base, state: 'failed', urls: [], message: failure.message };
    const h = this.reconciler.handles.get(e.id);
    if (!h) return { ...base, state: this.stopped ? 'stopped' : 'starting', urls: [] };
    const p = this.probes.get(e.id);
    const cond = h.condition?.();
    const notes: string[] = [];
    if (cond?.message) notes.push(cond.message);
    else if (p && p.detail && (!p.answering || h.probe)) notes.push(p.detail);
    const jupyter = this.opts.plan.env.jupyter;
    if (jupyter && jupyter.port === e.envPort) notes.push(jupyter.passwordHash ? 'password configured' : jupyter.tokenSet ? 'token configured' : 'no password');
    const urlPath = this.opts.plan.env.services.find((s) => s.port === e.envPort)?.urlPath;
    return {
      ...base,
      state: cond?.state ?? (p === undefined ? 'starting' : p.answering ? 'ready' : 'waiting'),
      listen: h.listen,
      urls: h.urls ? h.urls() : [urlFor(e.protocol, h.listen.address, h.listen.port), ...(urlPath && urlPath !== '/' && e.protocol === 'http' ? [urlFor(e.protocol, h.listen.address, h.listen.port, urlPath)] : [])],
      target: h.target,
      ...(p ? { answering: p.answering } : {}),
      ...(notes.length ? { message: notes.join('; ') } : {}),
    };
  }

  private nameOf(e: Exposure): string | undefined {
    return e.name ?? this.opts.plan.env.services.find((s) => s.port === e.envPort)?.name;
  }

  private displayName(e: Exposure): string {
    return this.nameOf(e) ?? `port ${e.envPort}`;
  }

  /**
   * The env file changed while running: re-apply its exposures (same → kept, changed → restarted,
   * gone → stopped). The environment itself (processes, the container and the ports the engine
   * published) is not restarted: the returned notes say when that would be needed.
   */
  async updatePlan(plan: Plan): Promise<{ diff: ExposureDiff; notes: string[] }> {
    const notes: string[] = [];
    const before = this.opts.plan;
    if (this.opts.mode === 'up' && JSON.stringify(before.env) !== JSON.stringify(plan.env)) {
      notes.push('build() changed: restart envserve up to apply it (the running environment was kept)');
    }
    if (this.opts.mode === 'up' && this.opts.runtime.name === 'docker') {
      // The engine publishes ports when it creates the container: they cannot change in place.
      if (JSON.stringify(before.exposures) !== JSON.stringify(plan.exposures)) notes.push('the container publishes its ports when created: restart envserve up to apply the new exposures');
      return { diff: { start: [], stop: [], unchanged: this.exposures.map((e) => e.id) }, notes };
    }
    this.opts.plan = plan;
    const diff = await this.reconciler.apply(this.exposures);
    this.syncSchedule();
    await this.tick();
    return { diff, notes };
  }

  /** Stops exposures, then the environment; removes the state file. Idempotent. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.scheduler.stop();
    for (const off of this.unsubscribe.values()) off();
    this.unsubscribe.clear();
    await this.reconciler.stopAll();
    await this.opts.runtime.stopEnvironment();
    this.opts.store.remove();
  }
}
