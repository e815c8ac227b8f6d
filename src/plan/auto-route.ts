// Automatic HTTPRoutes: on a cluster that routes HTTP with Gateway API, a Service binding of an
// HTTP service gets an HTTPRoute of its own, attached to the Gateway ops chose, when a domain is
// known. Pure, like auto-Ingress: the Gateway, domain and host template come in as data (flags, a
// policy). Which of the two a cluster gets is decided by the caller (src/policy/cluster-plan.ts).
import { hostFromTemplate } from './auto-ingress.js';
import type { Exposure, GatewayRef, K8sRouteExposure, K8sServiceExposure, Plan } from './types.js';

export const AUTO_ROUTE_DECLARED_BY = 'auto-route';

export interface AutoRouteOptions {
  /** The domain hosts live under; without one no automatic HTTPRoute is made. */
  domain?: string;
  /** The Gateway routes attach to; absent: left for the policy to fill in. */
  gateway?: GatewayRef;
  /** The Gateway serves the domain over HTTPS (URLs say https). */
  https?: boolean;
  hostTemplate?: string;
  namespace: string;
}

/**
 * Whether a Service exposure asks for an automatic HTTPRoute: route=True, or (unless route=False)
 * what asks for an automatic Ingress elsewhere — ingress=True or an HTTP service. ingress=False
 * keeps a file written for Ingress clusters private on Gateway clusters too.
 */
export function wantsAutoRoute(plan: Plan, e: K8sServiceExposure): boolean {
  if (e.autoRoute === false) return false;
  if (plan.exposures.some((x) => (x.kind === 'k8s-route' || x.kind === 'k8s-ingress') && x.serviceId === e.id)) return false;
  if (e.autoRoute === true) return true;
  return e.autoIngress !== false && (e.autoIngress === true || e.protocol === 'http');
}

/** The plan with an automatic `k8s-route` exposure after each Service that wants one. */
export function addAutoRoutes(plan: Plan, opts: AutoRouteOptions): Plan {
  if (!opts.domain) return plan;
  const ids = new Set(plan.exposures.map((e) => e.id));
  const exposures: Exposure[] = [];
  for (const e of plan.exposures) {
    exposures.push(e);
    if (e.kind !== 'k8s-service' || !wantsAutoRoute(plan, e)) continue;
    const base = `route-${e.id.replace(/^service-/, '')}`;
    let id = base;
    for (let n = 2; ids.has(id); n++) id = `${base}-${n}`;
    ids.add(id);
    const service = e.name ?? plan.env.services.find((s) => s.port === e.envPort)?.name ?? String(e.envPort);
    const route: K8sRouteExposure = {
      id,
      kind: 'k8s-route',
      ...(e.name !== undefined && { name: e.name }),
      envPort: e.envPort,
      protocol: 'http',
      position: e.position,
      declaredBy: AUTO_ROUTE_DECLARED_BY,
      serviceId: e.id,
      servicePort: e.servicePort,
      host: hostFromTemplate(opts.hostTemplate, { service, env: plan.env.name, namespace: opts.namespace, port: e.servicePort, domain: opts.domain }),
      path: '/',
      ...(opts.gateway && { gateway: { ...opts.gateway } }),
      ...(opts.https && { https: true }),
      automatic: true,
      ...(e.access !== undefined && { access: e.access }), // issue 22
    };
    exposures.push(route);
  }
  return { ...plan, exposures };
}

/** "namespace/name[/listener]" as a flag or an environment variable gives it; undefined if malformed. */
export function parseGatewayFlag(text: string): GatewayRef | undefined {
  const parts = text.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(p))) return undefined;
  return { namespace: parts[0]!, name: parts[1]!, ...(parts[2] !== undefined && { sectionName: parts[2] }) };
}

export const formatGateway = (g: GatewayRef): string => `${g.namespace}/${g.name}${g.sectionName ? `/${g.sectionName}` : ''}`;
