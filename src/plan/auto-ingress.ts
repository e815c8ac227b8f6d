// Auto-Ingress: a Service binding of an HTTP service gets an Ingress of its own when a domain is
// known, so `cloud.k8s.bind(env_port=8888, type=cloud.k8s.clusterIP)` is reachable at a URL
// without spelling out cloud.k8s.ingress(...). Pure: the domain, class and host template come in
// as data (flags, the environment, a policy); the class may be left for the apply step, which
// then uses the cluster's default IngressClass.
import type { Exposure, K8sIngressExposure, K8sServiceExposure, Plan } from './types.js';

export const DEFAULT_HOST_TEMPLATE = '{service}-{env}-{namespace}.{domain}';
export const AUTO_INGRESS_DECLARED_BY = 'auto-ingress';

export interface AutoIngressOptions {
  /** The domain hosts live under; without one no automatic Ingress is made. */
  domain?: string;
  className?: string;
  /** `{service}`, `{env}`, `{namespace}`, `{port}`, `{domain}` (default DEFAULT_HOST_TEMPLATE). */
  hostTemplate?: string;
  namespace: string;
}

/** Whether a Service exposure asks for an automatic Ingress (an HTTP service, or ingress=True; never ingress=False). */
export function wantsAutoIngress(plan: Plan, e: K8sServiceExposure): boolean {
  if (e.autoIngress === false) return false;
  if (plan.exposures.some((x) => (x.kind === 'k8s-ingress' || x.kind === 'k8s-route') && x.serviceId === e.id)) return false;
  return e.autoIngress === true || e.protocol === 'http';
}

/** The plan with an automatic `k8s-ingress` exposure after each Service that wants one. */
export function addAutoIngress(plan: Plan, opts: AutoIngressOptions): Plan {
  if (!opts.domain) return plan;
  const ids = new Set(plan.exposures.map((e) => e.id));
  const exposures: Exposure[] = [];
  for (const e of plan.exposures) {
    exposures.push(e);
    if (e.kind !== 'k8s-service' || !wantsAutoIngress(plan, e)) continue;
    const service = e.name ?? plan.env.services.find((s) => s.port === e.envPort)?.name ?? String(e.envPort);
    let id = `ingress-${e.id.replace(/^service-/, '')}`;
    for (let n = 2; ids.has(id); n++) id = `ingress-${e.id.replace(/^service-/, '')}-${n}`;
    ids.add(id);
    const host = hostFromTemplate(opts.hostTemplate, { service, env: plan.env.name, namespace: opts.namespace, port: e.servicePort, domain: opts.domain });
    const annotations = websocketAnnotations(opts.className);
    const ing: K8sIngressExposure = {
      id,
      kind: 'k8s-ingress',
      ...(e.name !== undefined && { name: e.name }),
      envPort: e.envPort,
      protocol: 'http',
      position: e.position,
      declaredBy: AUTO_INGRESS_DECLARED_BY,
      serviceId: e.id,
      servicePort: e.servicePort,
      host,
      path: '/',
      ...(opts.className !== undefined && { className: opts.className }),
      ...(annotations && { annotations }),
      automatic: true,
      ...(e.access !== undefined && { access: e.access }),
    };
    exposures.push(ing);
  }
  return { ...plan, exposures };
}

/** Fills a host template; each label is made DNS-safe (lowercase letters, digits, "-"). */
export function hostFromTemplate(template: string | undefined, fields: { service: string; env: string; namespace: string; port: number; domain: string }): string {
  const label = (v: string) => v.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return (template ?? DEFAULT_HOST_TEMPLATE)
    .replace(/\{(service|env|namespace|port|domain)\}/g, (_, k: keyof typeof fields) => (k === 'domain' ? fields.domain.toLowerCase() : label(String(fields[k]))))
    .toLowerCase();
}

/**
 * Jupyter kernels and VS Code talk over WebSockets that stay open for hours. Traefik and most
 * controllers pass them as they are; ingress-nginx closes idle ones after 60 s unless told.
 */
function websocketAnnotations(className: string | undefined): Record<string, string> | undefined {
  if (!className || !/nginx/.test(className)) return undefined;
  return {
    'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
    'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
  };
}
