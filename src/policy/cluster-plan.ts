// A plan as the cluster will see it: automatic Ingresses added (domain and class from flags, the
// environment or the policies), validated again, then every exposure decided by the policies.
// Pure; `plan`/`render --policy` and the operator share it.
import { IssuesError, UserError } from '../errors.js';
import { addAutoIngress } from '../plan/auto-ingress.js';
import type { Exposure, GatewayRef, Plan } from '../plan/types.js';
import { needsLogin, urlAccess } from '../plan/access.js';
import { addAutoRoutes } from '../plan/auto-route.js';
import { automaticKind, routeDefaults } from './route.js';
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
  /**
   * Issue 22: set where nothing checks a login (direct mode, `render`, an operator without its login
   * gateway): why, and the ways out. A URL whose access level needs a login is then denied with
   * LoginUnavailable instead of being made open. Unset: not decided here (`plan` without a cluster).
   */
  noLogin?: string;
  /** `--gateway ns/name[/listener]`: the Gateway automatic HTTPRoutes attach to (wins over a policy's). */
  gateway?: GatewayRef;
  /** `--route-domain` / ENVSERVE_ROUTE_DOMAIN: the domain of automatic HTTPRoutes (wins over a policy's). */
  routeDomain?: string;
  /** `--auto-expose`: which automatic exposure HTTP Services get when both are configured. */
  automaticExposure?: 'Ingress' | 'HTTPRoute';
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
  const routes = automaticRoutes(plan, opts, selecting, domain);
  const withAuto = routes
    ? routes
    : ingressAllowed || opts.ingressDomain !== undefined
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
  if (opts.noLogin !== undefined) refuseLoginLevels(evaluation, withAuto.exposures, opts.noLogin);
  const byId = new Map(evaluation.decisions.map((d) => [d.id, d]));
  const exposures: Exposure[] = withAuto.exposures.map((e) => {
    const d = byId.get(e.id);
    return d?.admitted ? d.exposure : e;
  });
  return { plan: { ...withAuto, exposures }, evaluation, denials: evaluation.decisions.filter((d): d is Denial => !d.admitted) };
}

// --- issue 22: no URL is made open when its access level asks for a login nothing checks ---
function refuseLoginLevels(evaluation: Evaluation, exposures: readonly Exposure[], noLogin: string): void {
  const access = new Map(exposures.map((e) => [e.id, urlAccess(e)]));
  evaluation.decisions = evaluation.decisions.map((d) => {
    const level = access.get(d.id);
    if (!d.admitted || level === undefined || !needsLogin(level)) return d;
    return { id: d.id, admitted: false, reason: 'LoginUnavailable', policies: [], message: `access "${level}" needs a login, and ${noLogin}` };
  });
}

/** Where no login is checked: the plan's URLs that would need one, as denials (empty: nothing to refuse). */
export function loginRefusals(plan: Plan, noLogin: string): Denial[] {
  const evaluation: Evaluation = { decisions: plan.exposures.map((e) => ({ id: e.id, admitted: true, exposure: e })), selecting: [], allowed: '' };
  refuseLoginLevels(evaluation, plan.exposures, noLogin);
  return evaluation.decisions.filter((d): d is Denial => !d.admitted);
}

/** The two ways out, for messages where nothing checks a login (direct mode, render). */
export const NO_LOGIN_DIRECT =
  'nothing checks one without the envserve operator: install the operator (its login gateway checks who opens the URL; see docs/sharing.md), or declare access="public" on cloud.k8s.bind for a URL anyone who reaches the ingress may open';
// --- end issue 22 ---

/**
 * The plan with automatic HTTPRoutes, when HTTPRoute is the automatic exposure here (a flag or a
 * policy says so, or only a route domain is known); undefined when Ingress is.
 */
function automaticRoutes(plan: Plan, opts: ClusterPlanOptions, selecting: ExposurePolicy[], ingressDomain: string | undefined): Plan | undefined {
  const d = routeDefaults(selecting);
  // --gateway alone says "routes here": the Ingress domain (flag or environment) serves them too.
  const routeDomain = opts.routeDomain ?? (d.ok ? d.domain : selecting.map((p) => p.spec.httpRoute?.domain).find((v) => v !== undefined)) ?? (opts.gateway ? ingressDomain : undefined);
  if (opts.routeDomain !== undefined && !isIngressHost(opts.routeDomain)) {
    throw new UserError(`the route domain must be a DNS name such as apps.example.com, got "${opts.routeDomain}"`, 'check --route-domain or ENVSERVE_ROUTE_DOMAIN');
  }
  const flag = opts.automaticExposure ?? (opts.gateway ? 'HTTPRoute' : undefined);
  const kind = automaticKind(selecting, { ...(flag && { flag }), ...(ingressDomain !== undefined && { ingressDomain }), ...(routeDomain !== undefined && { routeDomain }) });
  if (kind !== 'HTTPRoute') return undefined;
  if (opts.routeDomain === undefined && !selecting.every((p) => p.spec.httpRoute?.allowed !== false)) return plan;
  const gateway = opts.gateway ?? (d.ok ? d.gateway : undefined);
  return addAutoRoutes(plan, {
    namespace: opts.namespace,
    ...(routeDomain !== undefined && { domain: routeDomain }),
    ...(gateway && { gateway }),
    ...(d.ok && d.hostTemplate !== undefined && { hostTemplate: d.hostTemplate }),
    ...(d.ok && d.https !== undefined && { https: d.https }),
  });
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
