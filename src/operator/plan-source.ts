// `serve`/`up --runtime k8s` with an operator present, as a plan source for the EnvController: every
// plan the env file yields is submitted as the ExposureSet (server-side apply as the user), the
// operator's verdict is awaited, and the controller gets only what stays on this machine (host
// exposures, admitted port-forwards). A denial is not an error: the port-forwards the policy allows
// still run, and the front end prints the verdict.
import { RuntimeFailure } from '../errors.js';
import type { KubeClient } from '../apply/k8s/client.js';
import { MappedPlanSource, type PlanSource } from '../engine/plan-source.js';
import type { Plan } from '../plan/types.js';
import { serveThroughOperator, type ThroughOperator } from './cli-client.js';

export interface OperatorSourceOptions {
  /** Stops a wait for the operator (the front end's stop signal). */
  signal: AbortSignal;
  /** The pods the operator's Services select (default: the environment's, envserve.dev/env=<name>). */
  selector?: Record<string, string>;
  /** Every verdict, for the front end to print (Ready with URLs, or the denial). */
  onVerdict: (r: ThroughOperator) => void;
  timeoutMs?: number;
  noOperatorMs?: number;
}

export function operatorPlanSource(inner: PlanSource, client: Pick<KubeClient, 'request' | 'watch'>, namespace: string, o: OperatorSourceOptions): PlanSource {
  return new MappedPlanSource(inner, async (plan: Plan) => {
    const r = await serveThroughOperator(client, plan, namespace, {
      signal: o.signal,
      ...(o.selector && { selector: o.selector }),
      ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
      ...(o.noOperatorMs !== undefined && { noOperatorMs: o.noOperatorMs }),
    });
    if (r.verdict.state === 'NoOperator') {
      if (o.signal.aborted) return r.localPlan; // stopped while waiting: nothing to say
      throw new RuntimeFailure(r.verdict.message, 'envserve serve --no-operator exposes directly with your own rights', 'ClusterUnreachable');
    }
    o.onVerdict(r);
    return r.localPlan;
  });
}

