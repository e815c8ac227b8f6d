// A plan as the cluster will see it: automatic Ingresses added (domain and class from flags, the
// environment or the policies), validated again, then every exposure decided by the policies.
// Pure; `plan`/`render --policy` and the operator share it.
import { IssuesError, UserError } from '../errors.js';
import { addAutoIngress } from '../plan/auto-ingress.js';
import type { Exposure, Plan } from '../plan/types.js';
import { isIngressHost, validatePlan } from '../plan/validate.js';
import { evaluatePolicies, selectingPolicies, type Decision, type Evaluation } from './evaluate.js';
import type { ExposurePolicy } from './types.js';

export interface ClusterPlanOptions {
  namespace: string;
  /** The namespace's labels; without a cluster only kubernetes.io/metadata.name (always set) is known. */
  namespaceLabels?: Record<string, string>;
  policies?: readonly ExposurePolicy[];
  /** `--ingress-domain` / ENVSERVE_INGRESS_DOMAIN: wins over a policy's domain. */
  ingressDomain?: string;
  /** `--ingress-class`: wins over a policy's class. */
  ingressClass?: string;
  othersInNamespace?: number;
}

export type Denial = Extract<Decision, { admitted: false }>;

export interface ClusterPlan {
  /** Every exposure, the admitted ones with the policies' values filled in. */
  plan: Plan;
  evaluation: Evaluation;
  denials: Denial[];
}

export function namespaceLabelsOf(namespace: string, labels: Record<string, string> = {}): Record<string, string> {
  return { 'kubernetes.io/metadata.name': namespace, ...labels };
}

export function planForCluster(plan: Plan, opts: ClusterPlanOptions): ClusterPlan {
  if (opts.ingressDomain !== undefined && !isIngressHost(opts.ingressDomain)) {
    throw new UserError(`the Ingress domain must be a DNS name such as apps.example.com, got "${opts.ingressDomain}"`, 'check --ingress-domain or ENVSERVE_INGRESS_DOMAIN');
  }
  const labels = namespaceLabelsOf(opts.namespace, opts.namespaceLabels);
  const policies = opts.policies ?? [];
  // Conflicting policy values still produce the Ingress (with the first policy's values, by name),
  // so that the evaluator can deny it with PolicyConflict instead of it silently disappearing.
  const selecting = selectingPolicies(policies, labels);
  const first = <T>(get: (p: ExposurePolicy) => T | undefined) => selecting.map(get).find((v) => v !== undefined);
  const domain = opts.ingressDomain ?? first((p) => p.spec.ingress?.domain);
  const className = opts.ingressClass ?? first((p) => p.spec.ingress?.className);
  const hostTemplate = first((p) => p.spec.ingress?.hostTemplate);
  const ingressAllowed = selecting.every((p) => p.spec.ingress?.allowed !== false);
  const withAuto =
    ingressAllowed || opts.ingressDomain !== undefined
      ? addAutoIngress(plan, { namespace: opts.namespace, ...(domain !== undefined && { domain }), ...(className !== undefined && { className }), ...(hostTemplate !== undefined && { hostTemplate }) })
      : plan;
  const valid = validatePlan(withAuto);
  if (!valid.ok) throw new IssuesError(valid.issues);
  const evaluation = evaluatePolicies({
    envName: plan.env.name,
    namespace: opts.namespace,
    namespaceLabels: labels,
    exposures: withAuto.exposures,
    policies,
    ...(opts.othersInNamespace !== undefined && { othersInNamespace: opts.othersInNamespace }),
  });
  const byId = new Map(evaluation.decisions.map((d) => [d.id, d]));
  const exposures: Exposure[] = withAuto.exposures.map((e) => {
    const d = byId.get(e.id);
    return d?.admitted ? d.exposure : e;
  });
  return { plan: { ...withAuto, exposures }, evaluation, denials: evaluation.decisions.filter((d): d is Denial => !d.admitted) };
}

/** The plan with only the admitted exposures: what may be applied. */
export function admittedPlan(cp: ClusterPlan): Plan {
  const denied = new Set(cp.denials.map((d) => d.id));
  return { ...cp.plan, exposures: cp.plan.exposures.filter((e) => !denied.has(e.id)) };
}

/** Denials as plan issues (position of the declaring call, reason code), for printing and exit 2. */
export function denialIssues(cp: ClusterPlan): { message: string; position?: string }[] {
  const pos = new Map(cp.plan.exposures.map((e) => [e.id, e.position]));
  return cp.denials.map((d) => ({ message: `${d.id}: ${d.message} [${d.reason}]`, ...(pos.get(d.id) && { position: pos.get(d.id)! }) }));
}
