// `check` for Kubernetes exposures: read the objects once, diagnose them statically, then probe
// from three places at the same time — this machine, the API server's proxy, and a debug pod
// inside the cluster — and fold everything into checks.
import type { KubeClient } from '../apply/k8s/client.js';
import { connectAddress } from '../apply/local/ports.js';
import { FORWARD_HOLD_MS } from '../probe/targets.js';
import { diagnose, firstAddress, podReady, readyPodFor } from './diagnose.js';
import { routeProbeTarget } from './route-rules.js';
import { runDebugPod, type DebugPodResult } from './debug-pod.js';
import { fetchSnapshot } from './fetch.js';
import { classifySpec, probeFromHere, probeThroughApiServer, probeThroughForward, type ApiProxyTarget, type ForwardTarget, type ProbeOutcome, type ProbeSpec } from './probes.js';
import type { CheckReason } from '../reasons.js';
import { BUSYBOX_LIMITS } from '../probe/index.js';
import { isUnavailable, type ClusterSnapshot, type Obj } from './snapshot.js';
import type { K8sCheckExposure, K8sSubject, TargetRef, WorkloadRef } from './subject.js';
import type { Check, Vantage } from './types.js';

export interface K8sCheckOptions {
  client: KubeClient;
  namespace: string;
  /** The subject, once the snapshot is read (--target finds the Services in front of a workload in it). */
  subject: (snap: ClusterSnapshot) => K8sSubject;
  /** What to read the workload from before the subject exists. */
  workload?: WorkloadRef | TargetRef;
  /** The debug pod: its image (and the busybox image for when the node cannot pull it), or false to leave the cluster vantage out. */
  debugPod: false | { image: string; fallbackImage?: string; timeoutMs?: number };
  /** Port-forward listeners of a running `up`, by exposure id. */
  localListeners?: Map<string, { address: string; port: number }>;
  probeTimeoutMs?: number;
}

interface Planned<T> {
  exposure: string;
  title: string;
  vantage: Vantage;
  target: T;
  /** The exposure needs WebSockets (Jupyter, ...): a refused upgrade is WebSocketRejected, else only noted. */
  needsWebSocket?: boolean;
  /** Through `up`'s port-forward: when it fails, a one-shot forward to this pod port says what the pod's side does. */
  podSide?: ForwardTarget;
}

export interface ProbePlan {
  local: Planned<ProbeSpec>[];
  apiserver: Planned<ApiProxyTarget>[];
  /** One-shot port-forwards, when no `envserve up` forward runs for a port-forward exposure. */
  forward: Planned<ForwardTarget>[];
  cluster: Planned<ProbeSpec>[];
  /** Checks decided while planning (no address to probe, ...). */
  notes: Check[];
}

const list = <T>(m: T[] | { unavailable: string }): T[] => (Array.isArray(m) ? m : []);

/** Which address to probe from where, for each exposure. Pure. */
export function planK8sProbes(subject: K8sSubject, snap: ClusterSnapshot, local = new Map<string, { address: string; port: number }>(), timeoutMs = 2000): ProbePlan {
  const plan: ProbePlan = { local: [], apiserver: [], forward: [], cluster: [], notes: [] };
  const ns = subject.namespace;
  const services = list(snap.services);
  const ingresses = list(snap.ingresses);
  const nodes = isUnavailable(snap.nodeAddresses) ? [] : snap.nodeAddresses;
  const dns = snap.clusterDNS === true;
  const ws = new Set(subject.exposures.filter((x) => x.websocket).map((x) => x.id));
  const add = (where: 'local' | 'cluster', exposure: string, title: string, spec: Omit<ProbeSpec, 'timeoutMs'>, podSide?: ForwardTarget) =>
    plan[where].push({ exposure, title, vantage: where, target: { ...spec, id: `${exposure}/${spec.id}`, timeoutMs }, ...(ws.has(exposure) && { needsWebSocket: true }), ...(podSide && { podSide }) });
  const api = (exposure: string, title: string, t: Omit<ApiProxyTarget, 'timeoutMs' | 'namespace'>) =>
    plan.apiserver.push({ exposure, title, vantage: 'apiserver', target: { ...t, id: `${exposure}/${t.id}`, namespace: ns, timeoutMs: timeoutMs + 1000 } });
  const note = (exposure: string, id: string, title: string, vantage: Vantage, reason: CheckReason, message: string) =>
    plan.notes.push({ id, exposure, title, status: 'skipped', reason, message, vantage });

  for (const x of subject.exposures) {
    const http = x.protocol === 'http';
    const pod = readyPodFor(subject, snap, x);
    if (x.kind === 'k8s-port-forward') {
      const l = local.get(x.id);
      const oneShot = pod && { id: `${x.id}/probe.apiserver.forward`, namespace: ns, pod: pod.metadata.name, port: x.port, protocol: x.protocol, ...(x.path && { path: x.path }), timeoutMs };
      if (l) add('local', x.id, `the port-forward ${l.address}:${l.port} answers`, { id: 'probe.local.forward', host: connectAddress(l.address), port: l.port, protocol: x.protocol, ...(x.path && { path: x.path }), websocket: http, holdMs: FORWARD_HOLD_MS }, oneShot || undefined);
      else if (oneShot) plan.forward.push({ exposure: x.id, title: `a port-forward to pod ${oneShot.pod}:${x.port} answers`, vantage: 'apiserver', target: oneShot });
      if (pod) {
        if (http) api(x.id, `pod ${pod.metadata.name}:${x.port} answers through the API server`, { id: 'probe.apiserver.pod', resource: 'pods', name: pod.metadata.name, port: x.port, ...(x.path && { path: x.path }) });
        add('cluster', x.id, `the pod IP ${pod.status.podIP}:${x.port} answers from inside the cluster`, { id: 'probe.cluster.pod', host: pod.status.podIP, port: x.port, protocol: x.protocol });
      }
    } else if (x.kind === 'k8s-service') {
      const svc = services.find((s) => s.metadata?.name === x.service);
      if (!svc) continue;
      const ports = ((svc.spec?.ports ?? []) as Obj[]).filter((p) => x.port === undefined || p.port === x.port);
      for (const sp of ports) {
        const sfx = ports.length > 1 ? `:${sp.port}` : '';
        if (http) api(x.id, `service ${x.service}:${sp.port} answers through the API server`, { id: `probe.apiserver.service${sfx}`, resource: 'services', name: x.service, port: sp.port });
        if (sp.nodePort && nodes[0]) add('local', x.id, `node port ${nodes[0]}:${sp.nodePort} answers from this machine`, { id: `probe.local.nodePort${sfx}`, host: nodes[0], port: sp.nodePort, protocol: x.protocol, websocket: http });
        if (svc.spec?.type === 'LoadBalancer') {
          const lb = ((svc.status?.loadBalancer?.ingress ?? []) as Obj[]).map((i) => i.ip ?? i.hostname).find(Boolean);
          if (lb) add('local', x.id, `the load balancer ${lb}:${sp.port} answers from this machine`, { id: `probe.local.loadBalancer${sfx}`, host: lb, port: sp.port, protocol: x.protocol, websocket: http });
        }
        const cip = svc.spec?.clusterIP;
        if (cip && cip !== 'None') add('cluster', x.id, `the ClusterIP ${cip}:${sp.port} answers from inside the cluster`, { id: `probe.cluster.clusterIP${sfx}`, host: cip, port: sp.port, protocol: x.protocol });
        if (dns) add('cluster', x.id, `${x.service}.${ns}.svc:${sp.port} answers from inside the cluster`, { id: `probe.cluster.dns${sfx}`, host: `${x.service}.${ns}.svc.cluster.local`, port: sp.port, protocol: x.protocol });
        if (pod) {
          const tp = typeof sp.targetPort === 'number' ? sp.targetPort : (pod.spec?.containers ?? []).flatMap((c: Obj) => c.ports ?? []).find((p: Obj) => p.name === (sp.targetPort ?? sp.port))?.containerPort ?? (sp.targetPort === undefined ? sp.port : undefined);
          if (tp) add('cluster', x.id, `the pod IP ${pod.status.podIP}:${tp} answers from inside the cluster`, { id: `probe.cluster.pod${sfx}`, host: pod.status.podIP, port: tp, protocol: x.protocol });
        }
      }
    } else if (x.kind === 'k8s-route') {
      const t = routeProbeTarget(x, snap, ns);
      if (!t) {
        note(x.id, 'probe.local.route', 'the HTTPRoute answers from this machine', 'local', 'RouteNoParent', 'its Gateway has no address to probe');
        continue;
      }
      const path = x.path ?? '/';
      const spec = { host: t.address, ...(t.host && { hostHeader: t.host }), path, via: 'ingress' as const, protocol: 'http' as const };
      add('local', x.id, `${t.https ? 'https' : 'http'}://${t.host ?? t.address}${path} answers from this machine (through Gateway ${t.address}:${t.port})`, { ...spec, id: t.https ? 'probe.local.route.tls' : 'probe.local.route', port: t.port, ...(t.https && { tls: true }), websocket: !t.https });
      if (!t.https) add('cluster', x.id, `the Gateway ${t.address}:${t.port} answers from inside the cluster (Host: ${t.host ?? '(none)'})`, { ...spec, id: 'probe.cluster.route', port: t.port });
    } else {
      const ing = ingresses.find((i) => i.metadata?.name === x.ingress);
      if (!ing) continue;
      const address = firstAddress(ing);
      const host = x.host ?? ((ing.spec?.rules ?? []) as Obj[]).map((r) => r.host).find(Boolean);
      const path = x.path ?? '/';
      if (!address) {
        note(x.id, 'probe.local.ingress', 'the Ingress answers from this machine', 'local', 'IngressNotAdmitted', 'the Ingress has no address to probe');
        continue;
      }
      const tls = (ing.spec?.tls ?? []).length > 0;
      const spec = { host: address, ...(host && { hostHeader: host }), path, via: 'ingress' as const, protocol: 'http' as const };
      add('local', x.id, `http://${host ?? address}${path} answers from this machine (Host: ${host ?? '(none)'}, to ${address})`, { ...spec, id: 'probe.local.ingress', port: 80, websocket: true });
      if (tls) add('local', x.id, `https://${host ?? address}${path} answers from this machine`, { ...spec, id: 'probe.local.ingress.tls', port: 443, tls: true });
      add('cluster', x.id, `the Ingress ${address} answers from inside the cluster (Host: ${host ?? '(none)'})`, { ...spec, id: 'probe.cluster.ingress', port: 80 });
    }
  }
  return plan;
}

/** A probe outcome as a check. */
export function outcomeCheck(p: Planned<unknown>, o: ProbeOutcome): Check[] {
  const id = o.id.slice(p.exposure.length + 1);
  const status = o.ok ? 'pass' : o.reason === 'Forbidden' || o.reason === 'NotApplicable' ? 'skipped' : 'fail';
  const out: Check[] = [{
    id, exposure: p.exposure, title: p.title, status, reason: o.reason, message: o.detail, vantage: p.vantage, latencyMs: o.latencyMs,
    ...(fixFor(o.reason, id, o.detail) && { fix: fixFor(o.reason, id, o.detail)! }),
  }];
  if (o.websocket && (o.websocket.ok || p.needsWebSocket)) {
    out.push({
      id: `${id}.websocket`, exposure: p.exposure, title: 'a WebSocket upgrade passes', vantage: p.vantage,
      status: o.websocket.ok ? 'pass' : o.websocket.reason === 'WebSocketRejected' ? 'warn' : 'fail',
      reason: o.websocket.reason, message: o.websocket.detail,
      ...(!o.websocket.ok && { fix: 'a proxy on the way must pass the Upgrade and Connection headers (Ingress controllers do by default; some need an annotation)' }),
    });
  } else if (o.websocket) {
    // An app that does not use WebSockets answers an upgrade with a page: worth knowing, not a warning.
    out.push({
      id: `${id}.websocket`, exposure: p.exposure, title: 'a WebSocket upgrade passes', vantage: p.vantage, status: 'info', reason: 'NotApplicable',
      message: `${o.websocket.detail.replace(/ \(a proxy on the way.*\)$/, '')}: fine for an app that does not use WebSockets`,
    });
  }
  return out;
}

function fixFor(reason: CheckReason, id: string, detail = ''): string | undefined {
  switch (reason) {
    case 'ConnectionRefused':
      if (id.endsWith('forward')) return 'nothing listens on that port inside the pod, not even on 127.0.0.1: is the app running, and on this port? (kubectl logs)';
      return id.includes('pod') || id.includes('service') || id.includes('clusterIP') || id.includes('dns')
        ? 'nothing listens there: the app may listen on 127.0.0.1 or on another port; start it on 0.0.0.0 (Jupyter --ip=0.0.0.0, TensorBoard --bind_all)'
        : 'nothing listens there: is envserve up running? (envserve status)';
    case 'ConnectionReset':
      if (id.endsWith('forward')) return 'the pod closed the forwarded connection: nothing listens on that port inside the pod, or the app dropped it (kubectl logs)';
      return undefined;
    case 'HostNotAllowed':
      return "let the app accept the host name users type: Vite's server.allowedHosts, webpack-dev-server's allowedHosts (or --allowed-hosts all)";
    case 'NotHttp':
      return 'something listens and does not speak plain HTTP: an HTTPS-only app (its https:// URL works; or bind it with protocol="tcp"), or a service that is not a web page (SSH, a database: protocol="tcp")';
    case 'Timeout':
      // The prober got a connection (or the API server answered), and the app did not answer.
      if (/connected, and no answer|the app does not/.test(detail)) return 'the app accepts connections and does not answer in time: is it busy, stuck or still starting (its log: kubectl logs, envserve status)? A service that is not HTTP (a database) waits for its own protocol: bind it with protocol="tcp"';
      return 'packets are dropped on the way: a NetworkPolicy, a firewall, or an address this machine cannot reach';
    case 'ProxyNoRoute':
      return id.includes('ingress') ? 'the controller has no matching rule or no ready backend: see the Ingress checks above' : 'see the Service checks above';
    case 'NoEndpoints':
      return 'see the Service checks above (selector, pods Ready)';
    case 'TlsHostnameMismatch':
      return "the controller serves a certificate for another name (its default one when no Ingress TLS Secret covers the host): issue the Secret's certificate for this host (subjectAltName DNS:<host>), or use a host it covers";
    case 'TlsCertificateExpired':
      return "renew the certificate in the Ingress's TLS Secret (kubectl create secret tls NAME --cert=tls.crt --key=tls.key --dry-run=client -o yaml | kubectl apply -f -), or see why cert-manager did not";
    case 'TlsUnknownAuthority':
      return "the certificate is signed by an authority this machine does not trust: use one from a CA people's browsers trust, or trust that CA here (NODE_EXTRA_CA_CERTS=ca.pem for envserve, the system store for browsers)";
    case 'TlsFailed':
      return "the port does not complete a TLS handshake: does the controller listen for HTTPS there, and hold a certificate for the host? (the Ingress's tls section, the controller's log)";
    case 'Forbidden':
      return 'ask for get on services/proxy and pods/proxy in the namespace, or rely on the other vantage points';
    default:
      return undefined;
  }
}

/** Runs the whole Kubernetes check. */
export async function checkK8s(o: K8sCheckOptions): Promise<{ subject: K8sSubject; checks: Check[]; debugPod?: DebugPodResult }> {
  const snap = await fetchSnapshot(o.client, o.namespace, o.workload);
  const subject = o.subject(snap);
  const checks = diagnose(subject, snap);
  const plan = planK8sProbes(subject, snap, o.localListeners, o.probeTimeoutMs);
  const [local, api, forwards, inside] = await Promise.all([
    Promise.all(plan.local.map(async (p) => {
      const r = await probeFromHere(p.target);
      // A forward's listener accepts by itself: what failed behind it is the pod's side to say.
      return outcomeCheck(p, !r.ok && p.podSide ? withPodSide(r, await probeThroughForward(o.client, p.podSide)) : r);
    })),
    Promise.all(plan.apiserver.map(async (p) => outcomeCheck(p, await probeThroughApiServer(o.client, p.target)))),
    Promise.all(plan.forward.map(async (p) => outcomeCheck(p, await probeThroughForward(o.client, p.target)))),
    clusterVantage(o, subject, plan),
  ]);
  checks.push(...plan.notes, ...local.flat(), ...forwards.flat(), ...api.flat(), ...inside.checks);
  refineWithStatic(checks);
  markLoopback(checks, subject, snap);
  return { subject, checks: order(checks, subject), ...(inside.result && { debugPod: inside.result }) };
}

/** A failed probe through `up`'s forward, explained by a one-shot forward to the same pod port. */
export function withPodSide(local: ProbeOutcome, pod: ProbeOutcome): ProbeOutcome {
  if (pod.reason !== 'ConnectionRefused') return local;
  return { ...local, reason: 'ConnectionRefused', detail: `the port-forward accepts, and the pod behind it refuses: ${pod.detail.replace(/^port-forward: /, '')}` };
}

async function clusterVantage(o: K8sCheckOptions, subject: K8sSubject, plan: ProbePlan): Promise<{ checks: Check[]; result?: DebugPodResult }> {
  if (plan.cluster.length === 0) return { checks: [] };
  const skipAll = (reason: CheckReason, message: string): Check[] =>
    subject.exposures.filter((x) => plan.cluster.some((p) => p.exposure === x.id))
      .map((x) => ({ id: 'probe.cluster', exposure: x.id, title: 'probes from inside the cluster (debug pod)', status: 'skipped' as const, reason, message, vantage: 'cluster' as const }));
  if (o.debugPod === false) return { checks: skipAll('DebugPodDisabled', 'skipped: --no-debug-pod (no probe from inside the cluster)') };
  const { image, fallbackImage, timeoutMs } = o.debugPod;
  const result = await runDebugPod(o.client, { namespace: o.namespace, image, ...(fallbackImage && { fallbackImage }), specs: plan.cluster.map((p) => p.target), ...(timeoutMs !== undefined && { timeoutMs }) });
  if (result.status === 'skipped') return { checks: skipAll(result.reason, result.message), result };
  if (result.status === 'failed') {
    return { checks: skipAll(result.reason, result.message).map((c) => ({ ...c, status: 'warn' as const, fix: 'pass --debug-image <an envserve image the cluster can pull>, or --no-debug-pod' })), result };
  }
  const byId = new Map(result.outcomes.map((r) => [r.id, r]));
  const checks = plan.cluster.flatMap((p) => {
    const r = byId.get(p.target.id);
    return r ? outcomeCheck(p, classifySpec(p.target, r)) : [{ id: p.target.id.slice(p.exposure.length + 1), exposure: p.exposure, title: p.title, status: 'warn' as const, reason: 'DebugPodFailed' as const, message: 'the debug pod returned no result for this probe', vantage: 'cluster' as const }];
  });
  if (result.fallback) {
    // Which probe ran from inside, and what it could not look at.
    const f = result.fallback;
    checks.unshift(...skipAll('DebugPodFailed', `the debug image ${image} cannot be pulled (${f.because}): the minimal probe ran instead (${f.image}: busybox wget and nc); not checked from inside: ${BUSYBOX_LIMITS.join(', ')}`)
      .map((c) => ({ ...c, id: 'probe.cluster.fallback', status: 'info' as const, title: 'which probe ran inside the cluster', fix: 'for the full probe, make the envserve image pullable: --debug-image <a mirror of it>' })));
  }
  return { checks, result };
}

/** A probe failing for a reason the static checks already named gets that reason and fix. */
function refineWithStatic(checks: Check[]): void {
  for (const c of checks) {
    if (c.vantage === 'static' || c.status !== 'fail') continue;
    if (c.id.includes('ingress') && c.reason === 'ProxyNoRoute') {
      const host = checks.find((s) => s.exposure === c.exposure && s.id === 'ingress.rule' && s.reason === 'HostHeaderMismatch');
      if (host) Object.assign(c, { reason: 'HostHeaderMismatch', fix: host.fix });
    }
  }
}

/**
 * The app listens on 127.0.0.1 inside the pod when the port-forward (which connects to localhost in
 * the pod) answers but the pod IP (API server proxy, Service, debug pod) refuses.
 */
export function markLoopback(checks: Check[], subject: K8sSubject, snap: ClusterSnapshot): void {
  const forwardOk = checks.some((c) => (c.id === 'probe.local.forward' || c.id === 'probe.apiserver.forward') && c.status === 'pass');
  if (!forwardOk) return;
  const pod = subject.exposures.map((x) => readyPodFor(subject, snap, x)).find((p) => p && podReady(p));
  for (const c of checks) {
    if (c.vantage === 'static' || c.reason !== 'ConnectionRefused') continue;
    if (!/pod|service|clusterIP|dns|nodePort|loadBalancer/.test(c.id) || c.id.endsWith('forward')) continue;
    const port = subject.exposures.find((x) => x.kind === 'k8s-port-forward')?.port;
    Object.assign(c, {
      reason: 'AppBoundToLoopback',
      message: `the port-forward reaches the app but ${pod ? `the pod IP ${pod.status.podIP}` : 'the pod IP'} does not: the app listens on 127.0.0.1${port ? `:${port}` : ''} inside the pod`,
      fix: 'start it on 0.0.0.0: --ip=0.0.0.0 (Jupyter) or --bind_all (TensorBoard)',
    });
  }
}

const VANTAGE_ORDER: Record<Vantage, number> = { static: 0, local: 1, apiserver: 2, cluster: 3 };

function order(checks: Check[], subject: K8sSubject): Check[] {
  const ex = new Map(subject.exposures.map((x, i) => [x.id, i]));
  return checks
    .map((c, i) => ({ c, i }))
    .sort((a, b) => (ex.get(a.c.exposure) ?? 99) - (ex.get(b.c.exposure) ?? 99) || VANTAGE_ORDER[a.c.vantage] - VANTAGE_ORDER[b.c.vantage] || a.i - b.i)
    .map(({ c }) => c);
}

export type { K8sCheckExposure };
