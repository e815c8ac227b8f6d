// The operator's pure half: an ExposureSet + the policies + what is known of its namespace → the
// objects it should own, and a decision per exposure. No I/O: the controller feeds it and applies
// what it returns.
import { IssuesError } from '../errors.js';
import { LABEL_ENV, LABEL_EXPOSURE_SET, renderIngress, renderService, ingressName, serviceName } from '../apply/k8s/manifests.js';
import type { Obj } from '../apply/k8s/owned.js';
import type { EnvSpec, Exposure, K8sIngressExposure, Plan } from '../plan/types.js';
import { emptyEnvDraft } from '../plan/intents.js';
import { validatePlan } from '../plan/validate.js';
import { planForCluster } from '../policy/cluster-plan.js';

// Issue 22: an operator run without its login gateway makes no URL that would need one (an open
// Ingress under a `namespace` or `authenticated` label would claim what nothing enforces); with
// it, Ingresses and HTTPRoutes of those levels are made in its namespace, pointing at the gateway.
const OPERATOR_NO_LOGIN = 'this envserve operator runs without its login gateway (docs/sharing.md): declare access="public" on cloud.k8s.bind for a URL anyone who reaches the ingress may open';
import { renderRoute, routeName, routeUrl } from '../apply/k8s/route.js';
import type { ExposurePolicy } from '../policy/types.js';
import type { OperatorReason } from '../reasons.js';
import { API_VERSION, KIND, type ExposureSet, type ExposureStatus } from './resource.js';
import { needsLogin, urlAccess } from '../plan/access.js';
import { selectingPolicies } from '../policy/evaluate.js';
import { DEFAULT_SESSION_LIFETIME_MS, loginIngress, loginIngressName, loginRoute, traefikCheck, type LoginGatewayRef } from './login/ingress.js';

/** Label on every object the operator makes: which ExposureSet it belongs to. */

export interface DesiredInput {
  set: ExposureSet;
  policies: readonly ExposurePolicy[];
  namespaceLabels: Record<string, string>;
  /** Cluster exposures other ExposureSets hold in the namespace. */
  othersInNamespace: number;
  /** The cluster's default IngressClass, for automatic Ingresses when no policy names one. */
  defaultIngressClass?: string;
  /** The operator's login gateway, when it runs one: login-level Ingresses go through it. */
  loginGateway?: LoginGatewayRef;
}

export interface Desired {
  /** Admitted (all exposures admitted), Denied (a policy said no), Invalid (the resource is wrong). */
  outcome: 'Admitted' | 'Denied' | 'Invalid';
  /** Reason code of the outcome (Admitted, PolicyDenied, PolicyConflict, Invalid). */
  reason: OperatorReason;
  message: string;
  /** The objects to own; empty unless Admitted (all or nothing: a half-admitted environment creates nothing). */
  objects: Obj[];
  exposures: ExposureStatus[];
  /** The plan as evaluated (automatic Ingresses included), when it could be built. */
  plan?: Plan;
  /** Cluster exposures this set holds (for other sets' per-namespace limit). */
  count: number;
}

const KINDS = ['k8s-port-forward', 'k8s-service', 'k8s-ingress', 'k8s-route'] as const;

/** Shape checks the CRD schema leaves to us: each problem names the field. */
export function shapeIssues(set: ExposureSet): string[] {
  const out: string[] = [];
  const s = set.spec as unknown as Record<string, unknown>;
  if (!s || typeof s !== 'object') return ['spec: is required'];
  if (typeof s.env !== 'string' || !/^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/.test(s.env)) out.push(`spec.env: must be a DNS label of at most 40 characters, got ${JSON.stringify(s.env)}`);
  if (!Array.isArray(s.exposures)) return [...out, 'spec.exposures: must be a list'];
  const all = s.exposures as any[];
  const int = (v: unknown) => Number.isInteger(v);
  s.exposures.forEach((x: any, i) => {
    const p = `spec.exposures[${i}]`;
    if (!x || typeof x !== 'object') return void out.push(`${p}: must be an exposure object`);
    if (!KINDS.includes(x.kind)) return void out.push(`${p}.kind: must be one of ${KINDS.join(', ')}, got ${JSON.stringify(x.kind)}`);
    if (typeof x.id !== 'string' || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(x.id)) out.push(`${p}.id: must be a lowercase id, got ${JSON.stringify(x.id)}`);
    if (!int(x.envPort)) out.push(`${p}.envPort: must be an int`);
    if (x.kind === 'k8s-service') {
      if (!['ClusterIP', 'NodePort', 'LoadBalancer'].includes(x.serviceType)) out.push(`${p}.serviceType: must be ClusterIP, NodePort or LoadBalancer`);
      if (!int(x.servicePort)) out.push(`${p}.servicePort: must be an int`);
      if (x.nodePort !== undefined && !int(x.nodePort)) out.push(`${p}.nodePort: must be an int`);
    }
    if (x.kind === 'k8s-ingress' || x.kind === 'k8s-route') {
      if (typeof x.host !== 'string') out.push(`${p}.host: must be a string`);
      if (typeof x.serviceId !== 'string') out.push(`${p}.serviceId: must name a k8s-service exposure`);
      else if (!all.some((y: any) => y?.id === x.serviceId && y?.kind === 'k8s-service')) out.push(`${p}.serviceId: no k8s-service exposure has id ${x.serviceId}`);
    }
    if (x.kind === 'k8s-port-forward' && !int(x.hostPort)) out.push(`${p}.hostPort: must be an int`);
  });
  const ids = all.map((x: any) => x?.id);
  ids.forEach((id, i) => {
    if (ids.indexOf(id) !== i) out.push(`spec.exposures[${i}].id: ${id} is used twice`);
  });
  return out;
}

/** The Plan an ExposureSet stands for (the operator never sees the env file). */
export function planOfSet(set: ExposureSet): Plan {
  const env: EnvSpec = { name: set.spec.env, ...emptyEnvDraft(), services: set.spec.services ?? [] };
  const source = set.spec.source ?? `${KIND} ${set.metadata.namespace}/${set.metadata.name}`;
  // Positions default to the field, so every message says where.
  const exposures = set.spec.exposures.map((e, i) => ({ ...e, protocol: e.protocol ?? 'tcp', declaredBy: e.declaredBy ?? 'cloud.k8s.bind', position: e.position || `spec.exposures[${i}]` })) as Exposure[];
  return { apiVersion: 'envserve/v1', kind: 'Plan', source, env, exposures, warnings: [] };
}

export function desiredFor(input: DesiredInput): Desired {
  const { set } = input;
  const invalid = (issues: string[]): Desired => ({
    outcome: 'Invalid',
    reason: 'Invalid',
    message: issues.join('; '),
    objects: [],
    count: 0,
    exposures: (Array.isArray(set.spec?.exposures) ? set.spec.exposures : []).map((e, i) => ({
      id: String(e?.id ?? `#${i}`),
      kind: e?.kind,
      decision: 'Denied' as const,
      reason: 'Invalid',
      message: issues.filter((m) => m.includes(`[${i}]`) || m.startsWith(`${e?.position}:`)).join('; ') || 'the resource is invalid',
    })),
  });
  const shape = shapeIssues(set);
  if (shape.length) return invalid(shape);
  const plan = planOfSet(set);
  const v = validatePlan(plan);
  if (!v.ok) return invalid(v.issues.map((i) => `${i.position}: ${i.message}`));
  let cp;
  try {
    cp = planForCluster(plan, { namespace: set.metadata.namespace, namespaceLabels: input.namespaceLabels, policies: input.policies, othersInNamespace: input.othersInNamespace, ...(!input.loginGateway && { noLogin: OPERATOR_NO_LOGIN }) });
  } catch (e) {
    if (e instanceof IssuesError) return invalid(e.issues.map((i) => `${i.position}: ${i.message}`));
    throw e;
  }
  const full = cp.plan;
  const gatewayless = full.exposures.filter((e) => e.kind === 'k8s-route' && !e.gateway);
  if (gatewayless.length) return invalid(gatewayless.map((e) => `${e.position}: the HTTPRoute ${e.id} names no Gateway, and no ExposurePolicy with httpRoute.gateways selects namespace ${set.metadata.namespace}`));
  if (input.defaultIngressClass) {
    full.exposures = full.exposures.map((e) => (e.kind === 'k8s-ingress' && e.automatic && e.className === undefined ? { ...e, className: input.defaultIngressClass } : e));
  }
  const decisions = new Map(cp.evaluation.decisions.map((d) => [d.id, d]));
  const count = full.exposures.filter((e) => e.kind !== 'host').length;
  const guarded = (e: Exposure) => input.loginGateway !== undefined && (e.kind === 'k8s-ingress' || e.kind === 'k8s-route') && needsLogin(urlAccess(e)!);
  const statuses: ExposureStatus[] = full.exposures.map((e) => {
    const d = decisions.get(e.id);
    const auto = (e.kind === 'k8s-ingress' || e.kind === 'k8s-route') && e.automatic ? { automatic: true } : {};
    if (d && !d.admitted) return { id: e.id, kind: e.kind, decision: 'Denied', reason: d.reason, message: `${e.position}: ${d.message}`, ...auto };
    const ref = objectRef(full, e);
    if (guarded(e)) ref.object = e.kind === 'k8s-route' ? `httproute/${loginIngressName(set.metadata.namespace, routeName(full, e))}` : `ingress/${loginIngressName(set.metadata.namespace, ingressName(full, e as K8sIngressExposure))}`;
    return { id: e.id, kind: e.kind, decision: 'Admitted', reason: 'Admitted', ...ref, ...auto };
  });
  if (cp.denials.length) {
    const first = cp.denials[0]!;
    const pos = full.exposures.find((e) => e.id === first.id)?.position;
    return {
      outcome: 'Denied',
      reason: first.reason,
      message: `${cp.denials.length} of ${full.exposures.length} exposures denied, so nothing is created; ${pos ? `${pos}: ` : ''}${first.id}: ${first.message}`,
      objects: [],
      exposures: statuses,
      plan: full,
      count,
    };
  }
  const selector = set.spec.selector && Object.keys(set.spec.selector).length ? set.spec.selector : { [LABEL_ENV]: set.spec.env };
  const ns = set.metadata.namespace;
  const objects: Obj[] = [];
  for (const e of full.exposures) {
    let o: Obj | undefined;
    if (e.kind === 'k8s-service') o = renderService(full, e, ns, selector) as Obj;
    else if (e.kind === 'k8s-ingress') o = renderIngress(full, e, ns) as Obj;
    else if (e.kind === 'k8s-route') o = renderRoute(full, e, ns) as Obj;
    if (!o) continue;
    if (guarded(e)) {
      // In the operator's namespace, pointing at the gateway; the controller keeps its access generation.
      const lo = { gateway: input.loginGateway!, setNamespace: ns, setName: set.metadata.name, setUid: set.metadata.uid ?? '', access: urlAccess(e)!, accessGeneration: Math.max(1, set.metadata.generation ?? 1), sessionLifetimeMs: sessionLifetime(input) };
      if (e.kind === 'k8s-route') {
        objects.push(loginRoute(o, { ...lo, tls: e.https === true }));
        continue;
      }
      const login = loginIngress(o, lo);
      objects.push(login);
      if (!input.loginGateway!.traefik) continue;
      // Traefik checks passes itself: its Middleware, and the user's Ingress as the fast route (owned like any other, below).
      const { middleware, fastIngress } = traefikCheck(o, login, lo);
      objects.push(middleware);
      o = fastIngress;
    }
    o.metadata.labels = { ...o.metadata.labels, [LABEL_EXPOSURE_SET]: set.metadata.name };
    // The API server's garbage collector removes them with the ExposureSet, even while no operator runs.
    (o.metadata as Record<string, unknown>).ownerReferences = [
      { apiVersion: API_VERSION, kind: KIND, name: set.metadata.name, uid: set.metadata.uid, controller: true, blockOwnerDeletion: false },
    ];
    objects.push(o);
  }
  return { outcome: 'Admitted', reason: 'Admitted', message: `${full.exposures.length} exposure${full.exposures.length === 1 ? '' : 's'} admitted`, objects, exposures: statuses, plan: full, count };
}

/** The shortest session lifetime of the policies selecting the namespace (default 8 h). */
function sessionLifetime(input: DesiredInput): number {
  const all = selectingPolicies(input.policies, input.namespaceLabels).map((p) => p.spec.access?.sessionLifetimeMs).filter((v): v is number => v !== undefined);
  return all.length ? Math.min(...all) : DEFAULT_SESSION_LIFETIME_MS;
}

function objectRef(plan: Plan, e: Exposure): Partial<ExposureStatus> {
  if (e.kind === 'k8s-service') return { object: `service/${serviceName(plan, e)}` };
  if (e.kind === 'k8s-ingress') return { object: `ingress/${ingressName(plan, e)}`, url: ingressUrl(e) };
  if (e.kind === 'k8s-route') return { object: `httproute/${routeName(plan, e)}`, url: routeUrl(e) };
  return {};
}

export function ingressUrl(e: K8sIngressExposure): string {
  return `${e.tlsSecret ? 'https' : 'http'}://${e.host}${e.path}`;
}

