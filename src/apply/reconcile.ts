// Desired exposures (from the plan) against running ones, by id: same spec → nothing;
// changed → stop + start; gone → stop. Failures are recorded per exposure, not thrown, so one
// broken exposure does not take the others down.
import type { Exposure } from '../plan/types.js';
import { isReasonCode, type ReasonCode } from '../reasons.js';
import type { ExposureHandle, Runtime } from './types.js';

export interface ExposureDiff {
  start: Exposure[];
  stop: string[];
  unchanged: string[];
}

/** Pure: what to do to go from `running` to `desired`. A changed spec is in both stop and start. */
export function diffExposures(desired: readonly Exposure[], running: ReadonlyMap<string, Exposure>): ExposureDiff {
  const diff: ExposureDiff = { start: [], stop: [], unchanged: [] };
  const wanted = new Set<string>();
  for (const e of desired) {
    wanted.add(e.id);
    const cur = running.get(e.id);
    if (!cur) diff.start.push(e);
    else if (sameSpec(cur, e)) diff.unchanged.push(e.id);
    else {
      diff.stop.push(e.id);
      diff.start.push(e);
    }
  }
  for (const id of running.keys()) if (!wanted.has(id)) diff.stop.push(id);
  return diff;
}

/** Specs compare by content; the declaring position is not part of what runs. */
export function sameSpec(a: Exposure, b: Exposure): boolean {
  return canonical({ ...a, position: '' }) === canonical({ ...b, position: '' });
}

function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) =>
    val && typeof val === 'object' && !Array.isArray(val)
      ? Object.fromEntries(Object.entries(val as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : 1)))
      : val,
  );
}

export class Reconciler {
  readonly handles = new Map<string, ExposureHandle>();
  readonly failures = new Map<string, { spec: Exposure; message: string; reason: ReasonCode }>();

  constructor(private readonly runtime: Runtime) {}

  async apply(desired: readonly Exposure[]): Promise<ExposureDiff> {
    const running = new Map<string, Exposure>();
    for (const [id, h] of this.handles) running.set(id, h.spec);
    for (const [id, f] of this.failures) running.set(id, f.spec);
    const diff = diffExposures(desired, running);
    await Promise.all(diff.stop.map((id) => this.stopOne(id)));
    for (const e of diff.start) await this.startOne(e);
    return diff;
  }

  async startOne(e: Exposure): Promise<void> {
    try {
      this.handles.set(e.id, await this.runtime.expose(e));
    } catch (err) {
      const reason = (err as { reason?: unknown }).reason;
      this.failures.set(e.id, { spec: e, message: (err as Error).message, reason: isReasonCode(reason) ? reason : 'ApplyFailed' });
    }
  }

  async stopOne(id: string): Promise<void> {
    this.failures.delete(id);
    const h = this.handles.get(id);
    if (!h) return;
    this.handles.delete(id);
    await h.stop().catch(() => {});
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.handles.keys()].map((id) => this.stopOne(id)));
    this.failures.clear();
  }
}
