// The dashboard on the engine running in this process (`envserve up|serve --ui`): the
// environment session's controller — its status stream and actions, unchanged. Typed structurally so that the UI depends
// on what it uses, not on the controller's class.
import type { ReasonCode } from '../reasons.js';
import type { EnvStatus } from '../status/types.js';
import { checkExposure, listenersOf, type CheckTarget } from './check-run.js';
import type { ActionResult, ClusterInfo, UiAction, UiEnvironment } from './types.js';

export interface ControllerLike {
  status(): EnvStatus;
  on(event: 'status', listener: (status: EnvStatus) => void): () => void;
  restartExposure(id: string): Promise<EnvStatus>;
  stopExposure(id: string): Promise<EnvStatus>;
  startExposure(id: string): Promise<EnvStatus>;
  probeNow(id?: string): Promise<EnvStatus>;
}

export interface InProcessOptions {
  /** `check` for one exposure; default: a probe round of that exposure (probeNow). */
  check?: (exposureId: string) => Promise<ActionResult>;
  cluster?: () => ClusterInfo | undefined;
}

/** What an action left behind, as the inline result: the exposure's new state and reason. */
/** `action`: ok = the action left it set up (not failed). `check`: ok = it answers. */
export function resultFor(status: EnvStatus, id: string, kind: 'action' | 'check' = 'action'): ActionResult {
  const e = status.exposures.find((x) => x.id === id);
  if (!e) return { ok: false, reason: 'NotFound', message: `no exposure ${id}` };
  const reason = (e as { reason?: ReasonCode }).reason;
  const latency = (e as { latencyMs?: number }).latencyMs;
  const ok = kind === 'check' ? e.state === 'ready' && e.answering !== false : e.state !== 'failed';
  return {
    ok,
    ...(reason ? { reason } : {}),
    message: `${e.state}${e.answering !== undefined ? `, ${e.answering ? 'answers' : 'does not answer'}` : ''}${latency !== undefined ? ` in ${Math.round(latency * 10) / 10} ms` : ''}${e.message ? ` — ${e.message}` : ''}`,
  };
}

export function controllerEnvironment(ctrl: ControllerLike, key: string, opts: InProcessOptions = {}): UiEnvironment {
  const run: Record<UiAction, (id: string) => Promise<EnvStatus>> = {
    restart: (id) => ctrl.restartExposure(id),
    stop: (id) => ctrl.stopExposure(id),
    start: (id) => ctrl.startExposure(id),
  };
  return {
    key,
    status: () => ctrl.status(),
    subscribe: (cb) => ctrl.on('status', cb),
    action: async (name, id) => resultFor(await run[name](id), id),
    check: opts.check ?? (async (id) => resultFor(await ctrl.probeNow(id), id, 'check')),
    ...(opts.cluster ? { cluster: opts.cluster } : {}),
  };
}

/** The parts of an environment session (src/engine/session.ts) the dashboard uses. */
export interface SessionLike {
  controller: ControllerLike;
  envId: string;
  runtime: { resources(): { cluster?: CheckTarget['cluster'] & ClusterInfo } };
}

/** `up|serve --ui`: the session's controller, its cluster (from the runtime), and `check` run here with the controller's listeners. */
export function dashboardEnvironment(session: SessionLike): UiEnvironment {
  const { controller: ctrl, runtime } = session;
  const cluster = () => runtime.resources().cluster;
  return controllerEnvironment(ctrl, session.envId, {
    cluster: () => {
      const c = cluster();
      return c ? { ...(c.server ? { server: c.server } : {}), ...(c.context ? { context: c.context } : {}), ...(c.namespace ? { namespace: c.namespace } : {}) } : undefined;
    },
    check: (id) => {
      const s = ctrl.status();
      const c = cluster();
      return checkExposure({ envFile: s.envFile, envName: s.envName, runtime: s.runtime, ...(c ? { cluster: c } : {}) }, id, listenersOf(s));
    },
  });
}
