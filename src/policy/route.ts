// Policy decisions about HTTPRoutes (Gateway API): may routes be made, to which Gateways and
// listeners, for which hosts; and what automatic routes take from the policies. Pure, like the
// rest of the evaluator (evaluate.ts calls it for each k8s-route exposure).
import type { GatewayRef, K8sRouteExposure } from '../plan/types.js';
import { UserError } from '../errors.js';
import { formatGateway, parseGatewayFlag } from '../plan/auto-route.js';
import type { ExposurePolicy, PolicyGateway, PolicyReason } from './types.js';

type Decision =
  | { id: string; admitted: true; exposure: K8sRouteExposure }
  | { id: string; admitted: false; reason: PolicyReason; message: string; policies: string[] };

/** What automatic HTTPRoutes take from the selecting policies, or the conflict that prevents them. */
export type RouteDefaults =
  | { ok: true; domain?: string; hostTemplate?: string; gateway?: GatewayRef; https?: boolean; policies: string[] }
  | { ok: false; message: string; policies: string[] };

export function routeDefaults(selecting: readonly ExposurePolicy[]): RouteDefaults {
  const pick = <T>(what: string, get: (p: ExposurePolicy) => T | undefined): { value?: T; setters: string[]; conflict?: string } => {
    const setters = selecting.filter((p) => get(p) !== undefined);
    const values = [...new Set(setters.map((p) => JSON.stringify(get(p))))];
    if (values.length > 1) return { setters: setters.map((p) => p.name), conflict: `the policies set different ${what} (${setters.map((p) => `${p.name}: ${JSON.stringify(get(p))}`).join(', ')})` };
    return { ...(setters[0] && { value: get(setters[0]) }), setters: setters.map((p) => p.name) };
  };
  const domain = pick('route domains', (p) => p.spec.httpRoute?.domain);
  const template = pick('route host templates', (p) => p.spec.httpRoute?.hostTemplate);
  const gateway = pick('first Gateways', (p) => p.spec.httpRoute?.gateways?.[0]);
  const https = pick('https settings', (p) => p.spec.httpRoute?.https);
  for (const a of [domain, template, gateway, https]) if (a.conflict) return { ok: false, message: a.conflict, policies: a.setters };
  const g = gateway.value;
  return {
    ok: true,
    ...(domain.value !== undefined && { domain: domain.value }),
    ...(template.value !== undefined && { hostTemplate: template.value }),
    // Automatic routes name the listener only when ops named exactly one.
    ...(g && { gateway: { namespace: g.namespace, name: g.name, ...(g.sectionNames?.length === 1 && { sectionName: g.sectionNames[0]! }) } }),
    ...(https.value !== undefined && { https: https.value }),
    policies: [...new Set([...domain.setters, ...template.setters, ...gateway.setters, ...https.setters])],
  };
}

/** Whether `ref` is one of the Gateways (and listeners) the policy lists. */
export function gatewayAllowed(ref: GatewayRef, allowed: readonly PolicyGateway[]): boolean {
  return allowed.some((g) => g.namespace === ref.namespace && g.name === ref.name && (!g.sectionNames || (ref.sectionName !== undefined && g.sectionNames.includes(ref.sectionName))));
}

const wildcard = (s: string) => `*.${s.replace(/^\*?\.?/, '')}`;
const hasSuffix = (host: string, suffix: string) => host.endsWith(`.${suffix.replace(/^\*?\.?/, '')}`);
const listGateways = (gs: readonly PolicyGateway[]) => gs.map((g) => `${g.namespace}/${g.name}${g.sectionNames ? ` (listeners ${g.sectionNames.join(', ')})` : ''}`).join(', ');

export function decideRoute(
  e: K8sRouteExposure,
  selecting: readonly ExposurePolicy[],
  ctx: { namespace: string; allowed: string; service?: { admitted: boolean; reason?: PolicyReason; message?: string; policies?: string[] } },
): Decision {
  const ns = ctx.namespace;
  const names = (ps: readonly ExposurePolicy[]) => ps.map((p) => p.name);
  const by = (ps: readonly ExposurePolicy[]) => `${ps.length === 1 ? 'policy' : 'policies'} ${names(ps).join(', ')}`;
  const deny = (message: string, ps: readonly ExposurePolicy[], reason: PolicyReason = 'PolicyDenied'): Decision => ({ id: e.id, admitted: false, reason, policies: names(ps), message });
  const svc = ctx.service;
  if (svc && !svc.admitted) return { id: e.id, admitted: false, reason: svc.reason ?? 'PolicyDenied', policies: svc.policies ?? [], message: `its Service (${e.serviceId}) is denied: ${svc.message}` };
  const off = selecting.filter((p) => p.spec.httpRoute?.allowed === false);
  if (off.length) return deny(`HTTPRoute is not allowed in namespace ${ns} by ${by(off)}; allowed: ${ctx.allowed}`, off);
  const d = routeDefaults(selecting);
  if (!d.ok) return deny(`an HTTPRoute in namespace ${ns}: ${d.message}; ask ops to make them agree`, selecting.filter((p) => d.policies.includes(p.name)), 'PolicyConflict');
  const out: K8sRouteExposure = { ...e };
  if (!out.gateway && d.gateway) out.gateway = d.gateway;
  if (e.automatic && out.https === undefined && d.https !== undefined) out.https = d.https;
  if (out.gateway) {
    const listing = selecting.filter((p) => p.spec.httpRoute?.gateways && !gatewayAllowed(out.gateway!, p.spec.httpRoute.gateways));
    if (listing.length) {
      const gws = listing.flatMap((p) => p.spec.httpRoute!.gateways!);
      return deny(`Gateway ${formatGateway(out.gateway)} is not allowed in namespace ${ns} by ${by(listing)}; allowed: ${gws.length ? listGateways(gws) : 'no Gateway'}`, listing);
    }
  }
  const hostDeniers = selecting.filter((p) => p.spec.httpRoute?.allowedHostSuffixes && !p.spec.httpRoute.allowedHostSuffixes.some((s) => hasSuffix(e.host, s)));
  if (hostDeniers.length) {
    const suffixes = [...new Set(hostDeniers.flatMap((p) => p.spec.httpRoute!.allowedHostSuffixes!.map(wildcard)))];
    return deny(`host ${e.host} is not allowed in namespace ${ns} by ${by(hostDeniers)}; allowed: hosts under ${suffixes.join(', ')}`, hostDeniers);
  }
  return { id: e.id, admitted: true, exposure: out };
}

/** "HTTPRoute via gw-system/public under *.apps.example.com", for describeAllowed. */
export function describeRoutes(selecting: readonly ExposurePolicy[]): string | undefined {
  if (!selecting.every((p) => p.spec.httpRoute?.allowed !== false)) return undefined;
  let s = 'HTTPRoute';
  const gws = selecting.flatMap((p) => p.spec.httpRoute?.gateways ?? []);
  if (gws.length) s += ` via ${listGateways(gws)}`;
  const suffixes = [...new Set(selecting.flatMap((p) => p.spec.httpRoute?.allowedHostSuffixes ?? []).map(wildcard))];
  if (suffixes.length) s += ` under ${suffixes.join(', ')}`;
  return s;
}

/** Which automatic exposure a namespace gets: the explicit choice, else Ingress when it has a domain, else HTTPRoute when one is known. */
export function automaticKind(selecting: readonly ExposurePolicy[], o: { flag?: 'Ingress' | 'HTTPRoute'; ingressDomain?: string; routeDomain?: string }): 'Ingress' | 'HTTPRoute' {
  const chosen = o.flag ?? selecting.map((p) => p.spec.automaticExposure).find((v) => v !== undefined);
  if (chosen) return chosen;
  if (o.ingressDomain) return 'Ingress';
  return o.routeDomain ? 'HTTPRoute' : 'Ingress';
}

/** `--gateway`, `--route-domain`, `--auto-expose` (or ENVSERVE_GATEWAY, ENVSERVE_ROUTE_DOMAIN, ENVSERVE_AUTO_EXPOSE) as plan options. */
export function routeFlags(
  flags: { gateway?: string; routeDomain?: string; autoExpose?: string },
  env: NodeJS.ProcessEnv = process.env,
): { gateway?: GatewayRef; routeDomain?: string; automaticExposure?: 'Ingress' | 'HTTPRoute' } {
  const gw = flags.gateway ?? (env.ENVSERVE_GATEWAY || undefined);
  const domain = flags.routeDomain ?? (env.ENVSERVE_ROUTE_DOMAIN || undefined);
  const auto = flags.autoExpose ?? (env.ENVSERVE_AUTO_EXPOSE || undefined);
  const gateway = gw === undefined ? undefined : parseGatewayFlag(gw);
  if (gw !== undefined && !gateway) throw new UserError(`--gateway must be namespace/name or namespace/name/listener, got "${gw}"`, 'e.g. --gateway gateway-system/public (or ENVSERVE_GATEWAY)');
  let automaticExposure: 'Ingress' | 'HTTPRoute' | undefined;
  if (auto !== undefined) {
    const a = auto.toLowerCase();
    if (a === 'ingress') automaticExposure = 'Ingress';
    else if (a === 'route' || a === 'httproute') automaticExposure = 'HTTPRoute';
    else throw new UserError(`--auto-expose must be ingress or route, got "${auto}"`);
  }
  return { ...(gateway && { gateway }), ...(domain !== undefined && { routeDomain: domain }), ...(automaticExposure && { automaticExposure }) };
}
