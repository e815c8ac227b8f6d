// The dashboard's `check` button: runCheck (src/check/run.ts, the report `envserve check -o json`
// prints) for the environment, in this process, narrowed to one exposure and shown inline. The
// port-forward listeners come from the engine's status (the controller's own in `up --ui`, the
// control socket's stream in `envserve dashboard`), not read back from the state file. No debug
// pod: a button click creates nothing in the cluster.
import type { CheckOptions } from '../check/run.js';
import type { CheckReport } from '../check/types.js';
import { UserError } from '../errors.js';
import type { EnvStatus } from '../status/types.js';
import { checkResultFor } from './check-result.js';
import type { ActionResult } from './types.js';

export interface CheckTarget {
  envFile: string;
  envName: string;
  runtime: string;
  cluster?: { kubeconfig?: string; context?: string; namespace?: string };
}

export type Listeners = Map<string, { address: string; port: number }>;

/** The listeners the engine holds for its port-forward exposures, by exposure id. */
export function listenersOf(status: EnvStatus | undefined): Listeners {
  const out: Listeners = new Map();
  for (const e of status?.exposures ?? []) if (e.kind === 'k8s-port-forward' && e.listen) out.set(e.id, { address: e.listen.address, port: e.listen.port });
  return out;
}

const RUNTIMES = ['local', 'docker', 'k8s'] as const;

/** What the button asks of runCheck: the environment's file and name, its runtime and cluster, no debug pod. */
export function checkOptions(t: CheckTarget, listeners?: Listeners): CheckOptions {
  const c = t.cluster;
  const runtime = RUNTIMES.find((r) => r === t.runtime);
  return {
    file: t.envFile,
    name: t.envName,
    ...(runtime && { runtime }),
    debugPod: false,
    ...(c?.kubeconfig && { kubeconfig: c.kubeconfig }),
    ...(c?.context && { context: c.context }),
    ...(c?.namespace && { namespace: c.namespace }),
    ...(listeners && listeners.size > 0 && { localListeners: listeners }),
  };
}

export type RunCheck = (o: CheckOptions) => Promise<CheckReport>;

// Loaded on demand, as the CLI's `check` does: the Kubernetes client is heavy, and a dashboard
// nobody clicks `check` on would pay for it.
const loadRunCheck: RunCheck = async (o) => (await import('../check/run.js')).runCheck(o);

/** Runs the check and narrows its report to the exposure; an error is the result, not a throw. */
export async function checkExposure(t: CheckTarget, exposureId: string, listeners?: Listeners, run: RunCheck = loadRunCheck): Promise<ActionResult> {
  try {
    return checkResultFor(await run(checkOptions(t, listeners)), exposureId);
  } catch (e) {
    return { ok: false, reason: e instanceof UserError ? 'InvalidInput' : 'Internal', message: `envserve check failed: ${(e as Error).message}` };
  }
}
