// What `check` looks at in Kubernetes: a workload (the pods) and the ways it is exposed. From a
// plan (the env file: the Deployment `up` creates, its Services and Ingresses) or from
// `--target k8s:NS/KIND/NAME --port N` (then the Services and Ingresses in front of it are found
// in the snapshot).
import { UserError } from '../errors.js';
import { ingressName, LABEL_ENV, LABEL_EXPOSURE, MANAGED_BY, objectName, serviceName } from '../apply/k8s/manifests.js';
import { fitName } from '../plan/k8s-names.js';
import { routeName } from '../apply/k8s/route.js';
import type { Plan, Protocol, ServiceType } from '../plan/types.js';
import { presetByName, presetByPort } from '../plan/presets.js';
import type { ClusterSnapshot, Obj } from './snapshot.js';
import { isUnavailable } from './snapshot.js';
import { matchesSelector, selectorOf } from './selectors.js';

export type WorkloadRef =
  | { kind: 'deployment'; name: string; labels?: Record<string, string> }
  | { kind: 'pod'; name: string }
  | { kind: 'selector'; labels: Record<string, string> };

/** `websocket`: the app behind needs WebSocket upgrades (a preset that says so): a refused one is a warning. */
export type K8sCheckExposure = (
  | { id: string; kind: 'k8s-port-forward'; protocol: Protocol; port: number; local?: { address: string; port: number }; path?: string }
  | { id: string; kind: 'k8s-service'; protocol: Protocol; service: string; port?: number; type?: ServiceType; envPort?: number }
  | { id: string; kind: 'k8s-ingress'; protocol: Protocol; ingress: string; host?: string; path?: string; tls?: boolean; service?: string }
  | { id: string; kind: 'k8s-route'; protocol: Protocol; route: string; host?: string; path?: string; https?: boolean; service?: string }
) & { websocket?: boolean };

/** Whether the app on this port (or of this name) needs WebSockets: a preset that says so (Jupyter). */
export function needsWebSocket(port: number | undefined, name?: string): boolean {
  return (name !== undefined && presetByName(name)?.websocket === true) || (port !== undefined && presetByPort(port)?.websocket === true);
}

export interface K8sSubject {
  namespace: string;
  /** The Services and Ingresses are envserve's to create (from an env file): fixes say how to start it. */
  managed?: boolean;
  workload?: WorkloadRef;
  exposures: K8sCheckExposure[];
}

/** The env file's view: what `up --runtime k8s` creates for it. */
export function subjectFromPlan(plan: Plan, namespace: string, workload?: WorkloadRef): K8sSubject {
  const exposures: K8sCheckExposure[] = [];
  for (const e of plan.exposures) {
    const service = plan.env.services.find((s) => s.port === e.envPort);
    const path = service?.urlPath;
    const ws = (e.websocket ?? needsWebSocket(e.envPort, service?.name ?? e.name)) && { websocket: true };
    if (e.kind === 'k8s-port-forward') {
      exposures.push({ id: e.id, kind: e.kind, protocol: e.protocol, port: e.envPort, local: { address: e.listenAddress, port: e.hostPort }, ...(path && { path }), ...ws });
    } else if (e.kind === 'k8s-service') {
      exposures.push({ id: e.id, kind: e.kind, protocol: e.protocol, service: serviceName(plan, e), port: e.servicePort, type: e.serviceType, envPort: e.envPort, ...ws });
    } else if (e.kind === 'k8s-ingress') {
      const svc = plan.exposures.find((x) => x.id === e.serviceId);
      exposures.push({
        id: e.id, kind: e.kind, protocol: e.protocol, ingress: ingressName(plan, e), host: e.host, path: e.path, tls: e.tlsSecret !== undefined,
        ...(svc?.kind === 'k8s-service' && { service: serviceName(plan, svc) }), ...ws,
      });
    } else if (e.kind === 'k8s-route') {
      const svc = plan.exposures.find((x) => x.id === e.serviceId);
      exposures.push({
        id: e.id, kind: e.kind, protocol: e.protocol, route: routeName(plan, e), host: e.host, path: e.path, ...(e.https && { https: true }),
        ...(svc?.kind === 'k8s-service' && { service: serviceName(plan, svc) }), ...ws,
      });
    }
  }
  return {
    namespace,
    managed: true,
    workload: workload ?? { kind: 'deployment', name: objectName(plan.env.name), labels: { [LABEL_ENV]: plan.env.name } },
    exposures,
  };
}

/**
 * The subject with the environment's automatic Ingresses and HTTPRoutes that exist in the cluster:
 * the env file does not name them (serve's `--ingress-domain`/`--gateway` or the operator's policy
 * made them), but they are what users open. Found by envserve's labels, never by name guessing.
 */
export function withAutomaticExposures(subject: K8sSubject, snap: ClusterSnapshot, envName: string): K8sSubject {
  const env = fitName(envName, 63);
  const ours = (o: Obj) => o.metadata?.labels?.['app.kubernetes.io/managed-by'] === MANAGED_BY && o.metadata?.labels?.[LABEL_ENV] === env;
  const known = new Set(subject.exposures.map((x) => (x.kind === 'k8s-ingress' ? `i/${x.ingress}` : x.kind === 'k8s-route' ? `r/${x.route}` : '')));
  const ids = new Set(subject.exposures.map((x) => x.id));
  const idOf = (o: Obj, kind: string) => {
    const id = (o.metadata.labels[LABEL_EXPOSURE] as string | undefined) ?? `${kind}/${o.metadata.name}`;
    return ids.has(id) ? `${id} (${kind} ${o.metadata.name})` : id;
  };
  const added: K8sCheckExposure[] = [];
  for (const ing of isUnavailable(snap.ingresses) ? [] : snap.ingresses) {
    if (!ours(ing) || known.has(`i/${ing.metadata.name}`)) continue;
    const b = ingressBackends(ing)[0];
    const svc = b && subject.exposures.find((x) => x.kind === 'k8s-service' && x.service === b.service);
    added.push({
      id: idOf(ing, 'ingress'), kind: 'k8s-ingress', protocol: 'http', ingress: ing.metadata.name, tls: (ing.spec?.tls ?? []).length > 0,
      ...(b?.host && { host: b.host }), ...(b?.path && { path: b.path }), ...(b && { service: b.service }), ...(svc?.websocket && { websocket: true }),
    });
  }
  for (const r of isUnavailable(snap.httpRoutes) || !snap.httpRoutes ? [] : snap.httpRoutes) {
    if (!ours(r) || known.has(`r/${r.metadata.name}`)) continue;
    const rule = ((r.spec?.rules ?? []) as Obj[])[0];
    const backend = ((rule?.backendRefs ?? []) as Obj[])[0]?.name as string | undefined;
    const path = ((rule?.matches ?? []) as Obj[])[0]?.path?.value as string | undefined;
    const host = ((r.spec?.hostnames ?? []) as string[])[0];
    const svc = backend && subject.exposures.find((x) => x.kind === 'k8s-service' && x.service === backend);
    added.push({
      id: idOf(r, 'httproute'), kind: 'k8s-route', protocol: 'http', route: r.metadata.name,
      ...(host && { host }), ...(path && { path }), ...(backend && { service: backend }), ...(svc && svc.websocket && { websocket: true }),
    });
  }
  return added.length ? { ...subject, exposures: [...subject.exposures, ...added] } : subject;
}

export interface TargetRef {
  namespace?: string;
  kind: 'deployment' | 'pod' | 'service' | 'ingress' | 'httproute';
  name: string;
}

/** Parses `k8s:[NS/]KIND/NAME` (KIND: deployment, pod, service, ingress, or their kubectl short names). */
export function parseCheckTarget(text: string): TargetRef {
  const m = /^k8s:(?:([a-z0-9]([-a-z0-9]*[a-z0-9])?)\/)?(deployment|deploy|pod|po|service|svc|ingress|ing|httproute)\/([a-z0-9]([-a-z0-9.]*[a-z0-9])?)$/.exec(text);
  if (!m) {
    throw new UserError(
      `--target ${JSON.stringify(text)} is not a Kubernetes target`,
      'write it as k8s:<namespace>/<deployment|pod|service|ingress|httproute>/<name> (the namespace may be left out)',
    );
  }
  const k = m[3]!;
  const kind = k.startsWith('deploy') ? 'deployment' : k.startsWith('po') ? 'pod' : k.startsWith('s') ? 'service' : k === 'httproute' ? 'httproute' : 'ingress';
  return { kind, ...(m[1] && { namespace: m[1] }), name: m[4]! };
}

/**
 * `--target`: the workload or object named, plus everything in front of it found in the snapshot:
 * the Services selecting the workload's pods (on port `port`, when given) and the Ingresses routing
 * to those Services. A pod port is also checked as a port-forward would reach it.
 */
export function subjectFromTarget(t: TargetRef, namespace: string, snap: ClusterSnapshot, port?: number, host?: string): K8sSubject {
  const services = isUnavailable(snap.services) ? [] : snap.services;
  const ingresses = isUnavailable(snap.ingresses) ? [] : snap.ingresses;
  const pods = isUnavailable(snap.pods) ? [] : snap.pods;
  const exposures: K8sCheckExposure[] = [];
  const addIngressesFor = (svcNames: Set<string>) => {
    for (const ing of ingresses) {
      if (!ingressBackends(ing).some((b) => svcNames.has(b.service))) continue;
      exposures.push(ingressExposure(ing, host));
    }
  };
  let workload: WorkloadRef | undefined;
  if (t.kind === 'deployment' || t.kind === 'pod') {
    workload = t.kind === 'deployment'
      ? { kind: 'deployment', name: t.name, ...(snap.deployment && !isUnavailable(snap.deployment) && { labels: snap.deployment.spec?.selector?.matchLabels ?? {} }) }
      : { kind: 'pod', name: t.name };
    const ours = t.kind === 'pod'
      ? pods.filter((p) => p.metadata?.name === t.name)
      : pods.filter((p) => workload!.kind === 'deployment' && workload!.labels && matchesSelector({ matchLabels: workload!.labels }, p.metadata?.labels));
    if (port !== undefined) {
      const cp = ours.flatMap(containerPorts).find((c) => c.containerPort === port);
      exposures.push({ id: `pod-${port}`, kind: 'k8s-port-forward', protocol: protocolOf(cp), port, ...(needsWebSocket(port, cp?.name) && { websocket: true }) });
    }
    const names = new Set<string>();
    for (const s of services) {
      const sel = s.spec?.selector as Record<string, string> | undefined;
      if (!sel || Object.keys(sel).length === 0) continue;
      if (!ours.some((p) => matchesSelector({ matchLabels: sel }, p.metadata?.labels))) continue;
      for (const sp of (s.spec?.ports ?? []) as Obj[]) {
        if (port !== undefined && !targetsPort(sp, port, ours)) continue;
        exposures.push({ id: `service-${s.metadata.name}-${sp.port}`, kind: 'k8s-service', protocol: protocolOf(sp), service: s.metadata.name, port: sp.port, type: s.spec?.type, ...(needsWebSocket(port ?? sp.port) && { websocket: true }) });
        names.add(s.metadata.name);
      }
    }
    addIngressesFor(names);
  } else if (t.kind === 'service') {
    const s = services.find((x) => x.metadata?.name === t.name);
    exposures.push({ id: `service-${t.name}${port !== undefined ? `-${port}` : ''}`, kind: 'k8s-service', protocol: protocolOf(s?.spec?.ports?.[0]), service: t.name, ...(port !== undefined && { port }), ...(s?.spec?.type && { type: s.spec.type }) });
    addIngressesFor(new Set([t.name]));
  } else if (t.kind === 'httproute') {
    exposures.push(...routeTargetExposures(t.name, snap, host));
  } else {
    const ing = ingresses.find((x) => x.metadata?.name === t.name);
    exposures.push(ing ? ingressExposure(ing, host) : { id: `ingress-${t.name}`, kind: 'k8s-ingress', protocol: 'http', ingress: t.name, ...(host && { host }) });
    for (const b of ing ? ingressBackends(ing) : []) {
      const s = services.find((x) => x.metadata?.name === b.service);
      exposures.push({ id: `service-${b.service}`, kind: 'k8s-service', protocol: 'http', service: b.service, ...(typeof b.port === 'number' && { port: b.port }), ...(s?.spec?.type && { type: s.spec.type }) });
    }
  }
  return { namespace, ...(workload && { workload }), exposures: dedupe(exposures) };
}

/** `--target k8s:NS/httproute/NAME`: the route, and the Services it sends to. */
function routeTargetExposures(name: string, snap: ClusterSnapshot, host?: string): K8sCheckExposure[] {
  const routes = !snap.httpRoutes || isUnavailable(snap.httpRoutes) ? [] : snap.httpRoutes;
  const r = routes.find((x) => x.metadata?.name === name);
  const hostname = host ?? ((r?.spec?.hostnames ?? []) as string[])[0];
  const path = r?.spec?.rules?.[0]?.matches?.[0]?.path?.value as string | undefined;
  const backends = ((r?.spec?.rules ?? []) as Obj[]).flatMap((x) => (x.backendRefs ?? []) as Obj[]).filter((b) => (b.kind ?? 'Service') === 'Service');
  return [
    { id: `route-${name}`, kind: 'k8s-route', protocol: 'http', route: name, ...(hostname && { host: hostname }), ...(path && { path }), ...(backends[0] && { service: backends[0].name }) },
    ...backends.map((b): K8sCheckExposure => ({ id: `service-${b.name}`, kind: 'k8s-service', protocol: 'http', service: b.name, ...(typeof b.port === 'number' && { port: b.port }) })),
  ];
}

/** Without an env file the protocol is a guess from the port's name: HTTP unless it says otherwise. */
function protocolOf(p?: Obj): Protocol {
  if (p?.appProtocol) return /^(http|https|kubernetes.io\/h2c|kubernetes.io\/ws)/.test(p.appProtocol) ? 'http' : 'tcp';
  return /^(tcp|echo|grpc|redis|postgres|mysql|mongo|ssh)/.test(p?.name ?? '') ? 'tcp' : 'http';
}

function ingressExposure(ing: Obj, host?: string): K8sCheckExposure {
  const rule = (ing.spec?.rules ?? [])[0] as Obj | undefined;
  const path = rule?.http?.paths?.[0]?.path as string | undefined;
  return {
    id: `ingress-${ing.metadata.name}`, kind: 'k8s-ingress', protocol: 'http', ingress: ing.metadata.name,
    ...((host ?? rule?.host) && { host: host ?? rule!.host }),
    ...(path && { path }),
    tls: (ing.spec?.tls ?? []).length > 0,
    ...(ingressBackends(ing)[0] && { service: ingressBackends(ing)[0]!.service }),
  };
}

function dedupe(xs: K8sCheckExposure[]): K8sCheckExposure[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(x.id) ? false : (seen.add(x.id), true)));
}

/** Whether a Service port reaches container port `port` of these pods (by number or by name). */
function targetsPort(sp: Obj, port: number, pods: Obj[]): boolean {
  const tp = sp.targetPort ?? sp.port;
  if (typeof tp === 'number') return tp === port;
  return pods.some((p) => containerPorts(p).some((c) => c.name === tp && c.containerPort === port));
}

export function containerPorts(pod: Obj): Obj[] {
  return ((pod.spec?.containers ?? []) as Obj[]).flatMap((c) => ((c.ports ?? []) as Obj[]).map((p) => ({ ...p, container: c.name })));
}

export interface IngressBackend {
  service: string;
  port?: number | string;
  host?: string;
  path?: string;
}

export function ingressBackends(ing: Obj): IngressBackend[] {
  const out: IngressBackend[] = [];
  const def = ing.spec?.defaultBackend?.service;
  if (def?.name) out.push({ service: def.name, port: def.port?.number ?? def.port?.name });
  for (const r of (ing.spec?.rules ?? []) as Obj[]) {
    for (const p of (r.http?.paths ?? []) as Obj[]) {
      const s = p.backend?.service;
      if (s?.name) out.push({ service: s.name, port: s.port?.number ?? s.port?.name, ...(r.host && { host: r.host }), ...(p.path && { path: p.path }) });
    }
  }
  return out;
}

export { selectorOf };
