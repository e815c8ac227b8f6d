// The plan source of a Kubernetes session, picked from the cluster and the options. The env file's
// plan gets its automatic Ingresses (ingressDomain / ENVSERVE_INGRESS_DOMAIN, ingressClass); then,
// when the cluster has envserve's operator and it is not turned off, the cluster exposures go to the
// operator as an ExposureSet and only the port-forwards run here; otherwise (direct mode) the
// caller's own rights apply them, after a warning for what a readable cluster policy would deny.
// The operator's client half sits a layer above the engine (src/operator/): it comes in as an
// OperatorClient (the one 'envserve' exports), so the engine imports nothing of the operator.
import { loadKubeClient, explainKubeError, type KubeClient } from '../apply/k8s/client.js';
import { parseSelector, resolveTarget, type TargetSpec } from '../apply/k8s/target.js';
import type { Exposure, Plan } from '../plan/types.js';
import { loginRefusals, NO_LOGIN_DIRECT, planForCluster, type Denial } from '../policy/cluster-plan.js';
import { IssuesError } from '../errors.js';
import { routeFlags } from '../policy/route.js';
import type { OperatorReason } from '../reasons.js';
import { MappedPlanSource, type PlanSource } from './plan-source.js';

/** What the operator decided about one generation of the environment's ExposureSet. */
export interface OperatorVerdict {
  /** The ExposureSet, as namespace/name. */
  set: string;
  state: 'Ready' | 'Admitted' | 'Denied';
  generation?: number;
  /** The operator's exposures (the port-forwards run here and are not listed). */
  exposures: { id: string; kind: Exposure['kind']; reason: OperatorReason; url?: string; addresses?: string[] }[];
  /** Denied: the operator's reasons, one line each. */
  denials: string[];
  /** The port-forwards that run from this machine (on a denial: those the policy allows). */
  forwards: string[];
  /** Set when the operator runs another minor version than this envserve. */
  skew?: string;
}

/** envserve's operator as a client sees it: found by its API group, reached through ExposureSets. */
export interface OperatorClient {
  installed(client: KubeClient): Promise<boolean>;
  /** The source that submits `inner`'s cluster exposures to the operator and yields what stays here. */
  planSource(inner: PlanSource, client: KubeClient, namespace: string, o: { signal: AbortSignal; selector?: Record<string, string>; onVerdict: (v: OperatorVerdict) => void }): PlanSource;
  /** Direct mode: what the cluster's policies (when this user may read them) would deny. */
  policyWarnings(client: KubeClient, plan: Plan, namespace: string): Promise<Denial[]>;
}

export interface K8sSourceOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  target?: TargetSpec;
  selector?: Record<string, string> | string;
  /** false: apply with the caller's rights even when the cluster has the operator (--no-operator). */
  operator?: boolean;
  /** Without it no operator is looked for and no policy is read. */
  operatorClient?: OperatorClient;
  ingressDomain?: string;
  ingressClass?: string;
  /** Automatic HTTPRoutes: `--gateway`, `--route-domain`, `--auto-expose` (else ENVSERVE_GATEWAY, ...). */
  gateway?: string;
  routeDomain?: string;
  autoExpose?: string;
  signal: AbortSignal;
  log: (line: string) => void;
  onVerdict: (v: OperatorVerdict) => void;
  env?: NodeJS.ProcessEnv;
}

export interface K8sSource {
  source: PlanSource;
  mode: 'operator' | 'direct';
  close(): void;
}

export async function k8sPlanSource(file: PlanSource, o: K8sSourceOptions): Promise<K8sSource> {
  const client: KubeClient = loadKubeClient({ ...(o.kubeconfig && { kubeconfig: o.kubeconfig }), ...(o.context && { context: o.context }), ...(o.namespace && { namespace: o.namespace }) });
  const target = o.target && (o.target.kind === 'deployment' || o.target.kind === 'pod') ? o.target : undefined;
  const namespace = target?.namespace ?? client.namespace;
  const selector = typeof o.selector === 'string' ? parseSelector(o.selector) : o.selector ?? (o.target?.kind === 'selector' ? o.target.labels : undefined);
  const domain = o.ingressDomain ?? ((o.env ?? process.env).ENVSERVE_INGRESS_DOMAIN || undefined);
  const routes = routeFlags(o, o.env ?? process.env);
  // Pure: no policies here (the operator applies them; direct mode only warns).
  const shaped = new MappedPlanSource(file, (plan: Plan) =>
    planForCluster(plan, { namespace, ...(domain !== undefined && { ingressDomain: domain }), ...(o.ingressClass !== undefined && { ingressClass: o.ingressClass }), ...routes }).plan,
  );
  const op = o.operatorClient;
  try {
    if (op && o.operator !== false && (await op.installed(client))) {
      // The operator's Services select the pods envserve forwards to.
      const podSelector = selector ?? (target ? (await resolveTarget(client, target, namespace, '')).serviceSelector : undefined);
      let skewTold = false;
      o.log(`envserve operator found in this cluster: the cluster exposures go to it as exposureset ${namespace}/<env> (--no-operator applies them with your own rights)`);
      const source = op.planSource(shaped, client, namespace, {
        signal: o.signal,
        ...(podSelector && { selector: podSelector }),
        onVerdict: (v) => {
          if (v.skew && !skewTold) o.log(`warning: ${v.skew}`);
          skewTold ||= v.skew !== undefined;
          o.onVerdict(v);
        },
      });
      return { source, mode: 'operator', close: () => client.close() };
    }
  } catch (e) {
    client.close();
    throw explainKubeError(e, `looking for the envserve operator (${client.server}, namespace ${namespace})`);
  }
  // Direct mode. Issue 22: a URL whose access level needs a login is refused before anything is
  // applied (exit 2), since nothing here would check the login.
  const direct = new MappedPlanSource(shaped, (plan: Plan) => {
    const refused = loginRefusals(plan, NO_LOGIN_DIRECT);
    if (!refused.length) return plan;
    const at = new Map(plan.exposures.map((e) => [e.id, e.position]));
    throw new IssuesError(
      refused.map((d) => ({ message: `${d.id}: ${d.message} [${d.reason}]`, ...(at.get(d.id) && { position: at.get(d.id)! }) })),
      `${refused.length} URL${refused.length === 1 ? ' needs' : 's need'} a login that nothing checks in direct mode; nothing was applied`,
    );
  });
  if (!op) return { source: direct, mode: 'direct', close: () => client.close() };
  // Direct mode: warn before anything is created (preflight and apply follow the load).
  const source = new MappedPlanSource(direct, async (plan: Plan) => {
    try {
      const at = new Map(plan.exposures.map((e) => [e.id, e.position]));
      for (const d of await op.policyWarnings(client, plan, namespace)) o.log(`warning: ${at.get(d.id) ? `${at.get(d.id)}: ` : ''}${d.id}: ${d.message} [${d.reason}] (a cluster policy would deny this; applying it with your own rights)`);
    } catch (e) {
      o.log(`warning: could not check the cluster's envserve policies: ${(e as Error).message}`);
    }
    return plan;
  });
  return { source, mode: 'direct', close: () => client.close() };
}
