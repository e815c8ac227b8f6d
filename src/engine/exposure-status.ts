// Status composition: the EnvStatus every front end sees, built from a read-only view of what the
// controller holds (the plan, the reconciler's handles and failures, the last probe results).
// `since` stamps are the only state kept here (when an exposure's state or reason last changed).
import { urlAccess } from '../plan/access.js';
import { resolve } from 'node:path';
import type { Exposure, Plan } from '../plan/types.js';
import type { ProbeResult } from '../probe/index.js';
import type { ReasonCode } from '../reasons.js';
import type { EnvStatus, ExposureState, ExposureStatus } from '../status/types.js';
import { urlFor } from '../apply/local/ports.js';
import { processStartTime } from '../apply/local/proc-net.js';
import type { ExposureHandle, Runtime } from '../apply/types.js';
import { envIdFor } from './state.js';
import { linkReach } from '../status/reach.js';

/** Reasons whose exposure cannot come back by itself: state `failed` rather than `waiting`. */
const FAILED_REASONS: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['ApplyFailed', 'ProcessExited', 'ContainerNotRunning', 'PortInUse', 'ProxyThreadFailed', 'Forbidden', 'NotOwned', 'CommandNotFound']);

/** What status composition reads from the controller; nothing here is changed. */
export interface StatusView {
  readonly plan: Plan | undefined;
  readonly runtime: Runtime;
  readonly mode: 'up' | 'serve';
  readonly envId: string | undefined;
  readonly startedAt: string;
  /** The controller is stopping or stopped: every exposure shows as stopped. */
  readonly stopping: boolean;
  /** The exposures this runtime applies. */
  readonly exposures: readonly Exposure[];
  readonly userStopped: ReadonlySet<string>;
  readonly handles: ReadonlyMap<string, ExposureHandle>;
  readonly failures: ReadonlyMap<string, { spec: Exposure; message: string; reason: ReasonCode }>;
  readonly probes: ReadonlyMap<string, ProbeResult>;
  /** The exposures the operator applies for this environment (already composed). */
  readonly remote: readonly Omit<ExposureStatus, 'since'>[];
  /** The exposures behind `remote`, as planned. */
  readonly remoteExposures?: readonly Exposure[];
  readonly warnings: readonly string[];
  readonly extraNotes?: ((status: EnvStatus) => string[]) | undefined;
}

/** `since`: when each exposure's state or reason last changed (kept across status calls). */
export class SinceStamps {
  private readonly since = new Map<string, { key: string; at: string }>();

  stamp(s: Omit<ExposureStatus, 'since'>): ExposureStatus {
    const key = `${s.state}/${s.reason}`;
    let since = this.since.get(s.id);
    if (!since || since.key !== key) this.since.set(s.id, (since = { key, at: new Date().toISOString() }));
    return { ...s, since: since.at };
  }
}

/** The status now: plain data, the same for every front end. */
export function composeStatus(v: StatusView, stamps: SinceStamps): EnvStatus {
  const { runtime, plan } = v;
  const res = runtime.resources();
  const envFile = plan ? resolve(plan.source) : '';
  const pidStart = processStartTime(process.pid);
  const status: EnvStatus = {
    apiVersion: 'envserve/v1',
    kind: 'Status',
    envId: v.envId ?? (plan ? envIdFor(plan.source) : ''),
    envName: plan?.env.name ?? '',
    envFile,
    runtime: runtime.name,
    mode: v.mode,
    pid: process.pid,
    ...(pidStart !== undefined && { pidStartTime: pidStart }),
    startedAt: v.startedAt,
    processes: res.processes.map((p) => ({ ...p })), // copies: the live view compares the last status with the next
    ...(res.container ? { container: { ...res.container } } : {}),
    // A ClusterIP Service's row says how it is reached from here (issue 22).
    exposures: linkReach([...v.exposures.map((e) => exposureStatus(v, stamps, e)), ...v.remote.map((r) => stamps.stamp(r))], [...(plan?.exposures ?? []), ...(v.remoteExposures ?? [])]),
    notes: [...v.warnings, ...res.notes],
  };
  if (v.extraNotes) status.notes.push(...v.extraNotes(status));
  return status;
}

function exposureStatus(v: StatusView, stamps: SinceStamps, e: Exposure): ExposureStatus {
  const name = nameOf(v.plan, e);
  const access = urlAccess(e); // issue 22: who may open the URL
  const base = { id: e.id, ...(name ? { name } : {}), kind: e.kind, protocol: e.protocol, envPort: e.envPort, ...(access && { access }) };
  if (v.userStopped.has(e.id) || v.stopping) return stamps.stamp({ ...base, state: 'stopped', reason: 'Stopped', urls: [], ...(v.userStopped.has(e.id) && { message: 'stopped by the user' }) });
  const failure = v.failures.get(e.id);
  if (failure) return stamps.stamp({ ...base, state: 'failed', reason: failure.reason, urls: [], message: failure.message });
  const h = v.handles.get(e.id);
  if (!h) return stamps.stamp({ ...base, state: 'starting', reason: 'Starting', urls: [] });
  const p = v.probes.get(e.id);
  const cond = h.condition?.() ?? (p && !p.ok ? v.runtime.conditionFor?.(e) : undefined);
  let state: ExposureState;
  let reason: ReasonCode;
  const notes: string[] = [];
  if (cond?.blocking) {
    reason = cond.reason;
    state = FAILED_REASONS.has(reason) && !cond.transient ? 'failed' : 'waiting';
    notes.push(cond.message);
  } else if (!p) {
    state = 'starting';
    reason = 'Starting';
  } else {
    state = p.ok ? 'ready' : p.reason === 'Starting' ? 'starting' : 'waiting';
    reason = p.ok ? 'Ready' : cond?.explainsFailure ? cond.reason : p.reason;
    if (cond) notes.push(cond.message);
    else if (p.detail && (!p.ok || e.kind === 'k8s-service')) notes.push(p.detail);
  }
  const jupyter = v.plan?.env.jupyter;
  if (jupyter && jupyter.port === e.envPort) notes.push(jupyter.passwordHash ? 'password configured' : jupyter.tokenSet ? 'token configured' : 'no password');
  const urlPath = v.plan?.env.services.find((s) => s.port === e.envPort)?.urlPath;
  return stamps.stamp({
    ...base,
    state,
    reason,
    listen: h.listen,
    urls: h.urls ? h.urls() : [urlFor(e.protocol, h.listen.address, h.listen.port), ...(urlPath && urlPath !== '/' && e.protocol === 'http' ? [urlFor(e.protocol, h.listen.address, h.listen.port, urlPath)] : [])],
    ...inCluster(h),
    target: h.target,
    ...(p ? { answering: p.ok } : {}),
    ...(p?.httpStatus !== undefined && { httpStatus: p.httpStatus }),
    ...(notes.length ? { message: notes.join('; ') } : {}),
    // a port-forward's pod and reconnects; the restarts of the process or container behind it
    ...Object.fromEntries(Object.entries(h.details?.() ?? {}).filter(([, v]) => v !== undefined)),
  });
}

function inCluster(h: ExposureHandle): Pick<ExposureStatus, 'inCluster' | 'reach'> {
  const c = h.inCluster?.();
  if (!c?.urls.length) return {};
  return { inCluster: c.urls, ...(c.command && { reach: { command: c.command } }) };
}

export function nameOf(plan: Plan | undefined, e: Exposure): string | undefined {
  return e.name ?? plan?.env.services.find((s) => s.port === e.envPort)?.name;
}

export function displayName(plan: Plan | undefined, e: Exposure): string {
  return nameOf(plan, e) ?? `port ${e.envPort}`;
}
