// `serve`/`up --runtime k8s` with an operator present, as a plan source for the EnvController: every
// plan the env file yields is submitted as the ExposureSet (server-side apply as the user), the
// operator's verdict is awaited, and the controller gets only what stays on this machine (host
// exposures, admitted port-forwards). A denial is not an error: the port-forwards the policy allows
// still run, and the front end prints the verdict. After that the ExposureSet is followed, so the
// status (and every front end on it) shows the operator's exposures as the operator reports them
// (one Informer of the ExposureSet, the same list + watch the runtime uses for its Services).
// `up` deletes the ExposureSet when it stops; after `serve` it stays, recorded as owned, for `down`.
import { urlAccess } from '../../plan/access.js';
import { RuntimeFailure } from '../../errors.js';
import type { KubeClient } from '../../apply/k8s/client.js';
import type { Informer } from '../../apply/k8s/informer.js';
import { deleteAndWait } from '../../apply/k8s/owned.js';
import { MappedPlanSource, type PlanSource, type RemoteExposures } from '../../engine/plan-source.js';
import type { OwnedObject } from '../../status/records.js';
import type { Exposure, Plan } from '../../plan/types.js';
import { isReasonCode, type ReasonCode } from '../../reasons.js';
import type { ExposureState, ExposureStatus } from '../../status/types.js';
import { exposureSetInformer, serveThroughOperator, type ThroughOperator } from './cli-client.js';
import { API_VERSION, KIND, type ExposureSet, type ExposureSetStatus } from '../resource.js';

export interface OperatorSourceOptions {
  /** Stops a wait for the operator (the front end's stop signal), and following the ExposureSet. */
  signal: AbortSignal;
  /** The pods the operator's Services select (default: the environment's, envserve.dev/env=<name>). */
  selector?: Record<string, string>;
  /** Every verdict, for the front end to print (Ready with URLs, or the denial). */
  onVerdict: (r: ThroughOperator) => void;
  timeoutMs?: number;
  noOperatorMs?: number;
  readyGraceMs?: number;
}

export function operatorPlanSource(inner: PlanSource, client: Pick<KubeClient, 'request' | 'watch'>, namespace: string, o: OperatorSourceOptions): PlanSource {
  const remote = new OperatorExposures(client, o.signal);
  return new MappedPlanSource(inner, async (plan: Plan) => {
    const r = await serveThroughOperator(client, plan, namespace, {
      signal: o.signal,
      ...(o.selector && { selector: o.selector }),
      ...(o.timeoutMs !== undefined && { timeoutMs: o.timeoutMs }),
      ...(o.noOperatorMs !== undefined && { noOperatorMs: o.noOperatorMs }),
      // Not Ready soon after being admitted: go on (with `up`, the pods the Services select are
      // started after this), and the status shows the operator's exposures becoming Ready.
      readyGraceMs: o.readyGraceMs ?? 5000,
    });
    remote.submitted(plan, r.set);
    if (r.verdict.state === 'NoOperator') {
      if (o.signal.aborted) return r.localPlan; // stopped while waiting: nothing to say
      throw new RuntimeFailure(r.verdict.message, 'envserve serve --no-operator exposes directly with your own rights', 'ClusterUnreachable');
    }
    remote.update(r.verdict.status);
    o.onVerdict(r);
    return r.localPlan;
  }, remote);
}

/** The operator's side of the environment: its ExposureSet, followed for as long as `serve` runs. */
export class OperatorExposures implements RemoteExposures {
  private plan?: Plan;
  private set?: { namespace: string; name: string };
  private latest?: ExposureSetStatus;
  private following?: Informer<ExposureSet>;
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly client: Pick<KubeClient, 'request' | 'watch'>,
    private readonly signal: AbortSignal,
  ) {}

  submitted(plan: Plan, set: ExposureSet): void {
    this.plan = plan;
    const { namespace, name } = set.metadata;
    if (this.set?.name !== name || this.set.namespace !== namespace) this.follow(namespace, name);
    this.set = { namespace, name };
  }

  update(status: ExposureSetStatus | undefined): void {
    if (!status || JSON.stringify(status) === JSON.stringify(this.latest)) return;
    this.latest = status;
    for (const l of this.listeners) l();
  }

  owned(): OwnedObject[] {
    return this.set ? [{ kind: KIND, namespace: this.set.namespace, name: this.set.name }] : [];
  }

  exposures(): readonly Exposure[] {
    return this.plan?.exposures ?? [];
  }

  /** Every exposure the operator applies (all but the port-forwards it admitted: those run here). */
  status(): Omit<ExposureStatus, 'since'>[] {
    const plan = this.plan;
    const st = this.latest;
    if (!plan || !st) return [];
    const rows: Omit<ExposureStatus, 'since'>[] = [];
    for (const r of st.exposures ?? []) {
      if (r.kind === 'k8s-port-forward' && r.decision === 'Admitted') continue;
      const e = plan.exposures.find((x) => x.id === r.id);
      if (!e) continue; // an older generation's exposure, gone from the file
      const state: ExposureState = r.decision === 'Denied' ? 'failed' : r.ready ? 'ready' : 'waiting';
      // The operator's own codes map onto the status's: Invalid is InvalidInput; Admitted (and a code an
      // operator of another version writes that this one does not know) is Starting: not observed yet.
      const reason: ReasonCode = r.reason === 'Invalid' ? 'InvalidInput' : isReasonCode(r.reason) ? r.reason : 'Starting';
      const scheme = e.protocol === 'http' ? 'http' : 'tcp';
      let urls = r.url ? [r.url] : (r.addresses ?? []).map((a) => `${scheme}://${a}`);
      let inCluster: string[] = [];
      if (e.kind === 'k8s-service') {
        // Its first address is the ClusterIP (src/operator/observe.ts), which answers only inside the
        // cluster, and `<node>:port` names no node: only the load balancer's are URLs (issue 22).
        const [clusterIP, ...rest] = r.addresses ?? [];
        const asUrl = (a: string) => `${scheme}://${a}${scheme === 'http' ? '/' : ''}`;
        inCluster = clusterIP ? [asUrl(clusterIP)] : [];
        urls = rest.filter((a) => !a.startsWith('<node>')).map(asUrl);
      }
      rows.push({
        id: r.id,
        ...(e.name !== undefined && { name: e.name }),
        kind: e.kind,
        protocol: e.protocol,
        envPort: e.envPort,
        state,
        reason,
        urls,
        ...(inCluster.length && { inCluster }),
        ...(urlAccess(e) && { access: urlAccess(e) }),
        ...(r.object && { target: `${r.object} (applied by the envserve operator)` }),
        ...((r.message || state !== 'ready') && { message: r.message ?? `the operator reports ${r.reason}` }),
      });
    }
    return rows;
  }

  async release(mode: 'up' | 'serve'): Promise<void> {
    if (mode !== 'up' || !this.set) return;
    const { namespace, name } = this.set;
    await deleteAndWait(this.client, [{ apiVersion: API_VERSION, kind: KIND, metadata: { name, namespace } }]);
    this.set = undefined;
  }

  watch(onChange: () => void, signal: AbortSignal): void {
    if (signal.aborted) return;
    this.listeners.add(onChange);
    signal.addEventListener('abort', () => this.listeners.delete(onChange), { once: true });
  }

  /** Follows the ExposureSet until the front end stops (API errors are retried; the status keeps its last value meanwhile). */
  private follow(namespace: string, name: string): void {
    this.following?.stop();
    if (this.signal.aborted) return;
    const sets = exposureSetInformer(this.client, namespace, name);
    sets.on('change', (_name: string, s?: ExposureSet) => s && this.update(s.status));
    this.signal.addEventListener('abort', () => sets.stop(), { once: true });
    sets.startInBackground();
    this.following = sets;
  }
}
