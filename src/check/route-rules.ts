// `check` for an HTTPRoute (Gateway API): from the API objects, why a route carries no traffic —
// no Gateway API, the route or its Gateway missing, a listener (sectionName) the Gateway lacks, a
// host no listener's hostname covers, a namespace the listeners do not allow, a backend port the
// Service lacks — each its own reason code, found from the objects themselves (any
// implementation); then what the Gateway's controller says (the route's parent status). Pure.
import { list, mk, skippedFor, START_HINT, type Draft } from './draft.js';
import { isUnavailable, type ClusterSnapshot, type Obj } from './snapshot.js';
import type { K8sCheckExposure, K8sSubject } from './subject.js';

type RouteX = Extract<K8sCheckExposure, { kind: 'k8s-route' }>;
interface Listener { name: string; hostname?: string; port: number; protocol: string; allowedRoutes?: Obj }

/** Does a listener hostname (exact, or "*.suffix") cover the route's host (Gateway API's matching rules)? */
export function hostnameCovers(listener: string | undefined, host: string): boolean {
  if (!listener) return true;
  if (host.startsWith('*.')) return listener.startsWith('*.') ? host.endsWith(listener.slice(1)) : false;
  if (listener.startsWith('*.')) return host.endsWith(listener.slice(1)) && host.length > listener.length - 1;
  return listener === host;
}

export function routeOf(x: RouteX, snap: ClusterSnapshot): Obj | undefined {
  return isUnavailable(snap.httpRoutes) || !snap.httpRoutes ? undefined : snap.httpRoutes.find((r) => r.metadata?.name === x.route);
}

/** The route's first Gateway parent and that Gateway (null: missing; undefined: not read). */
export function parentOf(route: Obj, snap: ClusterSnapshot, ns: string): { ref: { namespace: string; name: string; sectionName?: string }; gateway: Obj | null | undefined } | undefined {
  const p = ((route.spec?.parentRefs ?? []) as Obj[]).find((r) => (r.kind ?? 'Gateway') === 'Gateway');
  if (!p) return undefined;
  const ref = { namespace: (p.namespace ?? ns) as string, name: p.name as string, ...(p.sectionName && { sectionName: p.sectionName as string }) };
  const g = snap.gateways?.[`${ref.namespace}/${ref.name}`];
  return { ref, gateway: g === undefined || isUnavailable(g) ? undefined : g };
}

export function routeChecks(x: RouteX, subject: K8sSubject, snap: ClusterSnapshot): Draft[] {
  const ns = subject.namespace;
  const title = `httproute ${x.route} exists`;
  if (snap.httpRoutes === undefined) return [mk('route.exists', title, 'skipped', 'NotApplicable', 'not looked at')];
  if (isUnavailable(snap.httpRoutes)) return [skippedFor('route.exists', title, snap.httpRoutes)];
  if (snap.httpRoutes === null) return [mk('route.exists', title, 'fail', 'GatewayApiMissing', 'the cluster serves no gateway.networking.k8s.io/v1 HTTPRoutes (Gateway API is not installed)', 'install Gateway API and an implementation, or use an Ingress (cloud.k8s.ingress) here')];
  const route = routeOf(x, snap);
  if (!route) return [mk('route.exists', title, 'fail', 'HTTPRouteNotFound', `httproute ${ns}/${x.route} does not exist`, subject.managed ? START_HINT : `kubectl -n ${ns} get httproutes`)];
  const out: Draft[] = [mk('route.exists', title, 'pass', 'Ok', `httproute ${ns}/${x.route}`)];
  const hosts = ((route.spec?.hostnames ?? []) as string[]);
  const parent = parentOf(route, snap, ns);
  const gwTitle = 'its Gateway exists';
  if (!parent) return [...out, mk('route.gateway', gwTitle, 'fail', 'RouteNoParent', `httproute ${x.route} names no Gateway in spec.parentRefs`, 'attach it: gateway="namespace/name" in cloud.k8s.route(...), or --gateway')];
  const gwName = `${parent.ref.namespace}/${parent.ref.name}`;
  const g = snap.gateways?.[gwName];
  if (g !== undefined && isUnavailable(g)) out.push(skippedFor('route.gateway', gwTitle, g));
  else if (!parent.gateway) {
    return [...out, mk('route.gateway', gwTitle, 'fail', 'GatewayNotFound', `httproute ${x.route} attaches to Gateway ${gwName}, which does not exist`, `name an existing Gateway (kubectl get gateways -A), or ask ops which one to use`), ...statusChecks(route, parent.ref, ns)];
  } else {
    const gw = parent.gateway;
    out.push(mk('route.gateway', gwTitle, 'pass', 'Ok', `Gateway ${gwName} (class ${gw.spec?.gatewayClassName ?? '?'})`));
    const listeners = (gw.spec?.listeners ?? []) as Listener[];
    const all = listeners.map((l) => `${l.name} (${l.protocol} ${l.port}${l.hostname ? ` ${l.hostname}` : ''})`).join(', ');
    const section = parent.ref.sectionName;
    const candidates = section ? listeners.filter((l) => l.name === section) : listeners;
    if (section && candidates.length === 0) {
      out.push(mk('route.listener', 'the listener exists', 'fail', 'RouteSectionNotFound', `httproute ${x.route} attaches to listener "${section}" of Gateway ${gwName}, which has ${all || 'no listeners'}`,
        `use one of its listeners (gateway="${gwName}/${listeners[0]?.name ?? 'LISTENER'}"), or leave the listener out`));
      return [...out, ...statusChecks(route, parent.ref, ns)];
    }
    const covering = candidates.filter((l) => hosts.length === 0 || hosts.some((h) => hostnameCovers(l.hostname, h)));
    if (covering.length === 0) {
      const names = [...new Set(candidates.map((l) => l.hostname ?? '*'))].join(', ');
      out.push(mk('route.hostname', "a listener's hostname covers the host", 'fail', 'RouteHostnameNotAllowed', `host ${hosts.join(', ')} is not under the hostname of ${section ? `listener ${section}` : 'any listener'} of Gateway ${gwName} (${names})`,
        `use a host under ${names} (host= in cloud.k8s.route, or the policy's domain)`));
      return [...out, ...statusChecks(route, parent.ref, ns)];
    }
    out.push(mk('route.hostname', "a listener's hostname covers the host", 'pass', 'Ok', `${hosts.join(', ') || 'every host'} is covered by listener ${covering.map((l) => l.name).join(', ')}`));
    const from = (l: Listener) => (l.allowedRoutes?.namespaces?.from ?? 'Same') as string;
    const allowing = covering.filter((l) => from(l) === 'All' || from(l) === 'Selector' || (from(l) === 'Same' && parent.ref.namespace === ns));
    if (allowing.length === 0) {
      out.push(mk('route.namespace', 'the listener allows routes from this namespace', 'fail', 'RouteNotAllowedByListener', `listener ${covering.map((l) => l.name).join(', ')} of Gateway ${gwName} allows routes from its own namespace only (allowedRoutes.namespaces.from: Same), not from ${ns}`,
        'ask ops to allow this namespace (allowedRoutes.namespaces.from: All or Selector) or to name another Gateway'));
      return [...out, ...statusChecks(route, parent.ref, ns)];
    }
  }
  out.push(...backendChecks(route, x, snap, ns));
  return [...out, ...statusChecks(route, parent.ref, ns)];
}

function backendChecks(route: Obj, x: RouteX, snap: ClusterSnapshot, ns: string): Draft[] {
  const title = 'the backend Service and port exist';
  if (isUnavailable(snap.services)) return [skippedFor('route.backend', title, snap.services)];
  const refs = ((route.spec?.rules ?? []) as Obj[]).flatMap((r) => (r.backendRefs ?? []) as Obj[]).filter((b) => (b.kind ?? 'Service') === 'Service' && (b.namespace ?? ns) === ns);
  for (const b of refs) {
    const svc = list(snap.services).find((s) => s.metadata?.name === b.name);
    if (!svc) return [mk('route.backend', title, 'fail', 'BackendServiceMissing', `httproute ${x.route} sends to service ${b.name}, which does not exist`, `create service ${b.name}, or point the route at an existing one (kubectl -n ${ns} get services)`)];
    const ports = ((svc.spec?.ports ?? []) as Obj[]).map((p) => p.port as number);
    if (b.port !== undefined && !ports.includes(b.port)) {
      return [mk('route.backend', title, 'fail', 'RouteBackendPortMismatch', `httproute ${x.route} sends to port ${b.port} of service ${b.name}, which has ${ports.join(', ') || 'no ports'}`, `set the backend port to ${ports[0] ?? 'a port of the Service'} (service_port= in cloud.k8s.bind)`)];
    }
  }
  return [mk('route.backend', title, 'pass', 'Ok', refs.map((b) => `${b.name}:${b.port}`).join(', ') || 'no Service backends')];
}

/** What the Gateway's controller wrote on the route: its parent status for our parentRef. */
function statusChecks(route: Obj, ref: { namespace: string; name: string; sectionName?: string }, ns: string): Draft[] {
  const title = 'the Gateway accepts the route';
  const parents = (route.status?.parents ?? []) as Obj[];
  const mine = parents.find((p) => (p.parentRef?.namespace ?? ns) === ref.namespace && p.parentRef?.name === ref.name && p.parentRef?.sectionName === ref.sectionName);
  if (!mine) return [mk('route.accepted', title, 'fail', 'RouteNoParent', `no controller has written a status for Gateway ${ref.namespace}/${ref.name} on the route`, 'is the Gateway served (its GatewayClass\'s controller running)? kubectl get gatewayclass')];
  const cond = (t: string) => ((mine.conditions ?? []) as Obj[]).find((c) => c.type === t);
  const acc = cond('Accepted');
  const res = cond('ResolvedRefs');
  const by = `${mine.controllerName ?? 'the controller'}`;
  if (acc?.status !== 'True') return [mk('route.accepted', title, 'fail', 'RouteNotAccepted', `${by} did not accept it: Accepted=${acc?.status ?? 'Unknown'} ${acc?.reason ?? ''}${acc?.message ? ` (${acc.message})` : ''}`, 'see the checks above; kubectl describe httproute')];
  if (res && res.status !== 'True') return [mk('route.accepted', title, 'fail', 'RouteRefsUnresolved', `${by} accepted it, and its backend does not resolve: ResolvedRefs=${res.status} ${res.reason ?? ''}${res.message ? ` (${res.message})` : ''}`, 'see the backend check above')];
  return [mk('route.accepted', title, 'pass', 'Ok', `${by}: Accepted=True${res ? ', ResolvedRefs=True' : ''}`)];
}

/** The Gateway's address and the port of the listener the route uses, for the probes. */
export function routeProbeTarget(x: RouteX, snap: ClusterSnapshot, ns: string): { address: string; port: number; https: boolean; host?: string } | undefined {
  const route = routeOf(x, snap);
  if (!route) return undefined;
  const parent = parentOf(route, snap, ns);
  const gw = parent?.gateway;
  const address = ((gw?.status?.addresses ?? []) as Obj[]).map((a) => a.value as string).find(Boolean);
  if (!gw || !address) return undefined;
  const listeners = (gw.spec?.listeners ?? []) as Listener[];
  const want = x.https ? 'HTTPS' : 'HTTP';
  const l = listeners.find((y) => (parent!.ref.sectionName ? y.name === parent!.ref.sectionName : y.protocol === want)) ?? listeners[0];
  const host = x.host ?? ((route.spec?.hostnames ?? []) as string[])[0];
  return { address, port: l?.port ?? (x.https ? 443 : 80), https: l?.protocol === 'HTTPS', ...(host && { host }) };
}
