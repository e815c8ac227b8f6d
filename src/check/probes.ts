// What `check` makes of what the prober saw. Every probe of `check` is made by src/probe (the one
// prober, the engine's too): from this machine, through the API server's proxy, through a one-shot
// port-forward, and inside the cluster by the debug pod (`envserve probe --json`, whose results
// come back as they were seen). This file only classifies each result into check's reasons —
// Answers / LoginRequired, ProxyNoRoute, the TLS reasons, WebSocketRejected, the network's reasons — with
// the words people read; the one-shot forward itself is the Kubernetes runtime's PortForwarder.
import { probe, probeSpec, proxyFailureOf, type ForwardOpener, type ProbeResult, type ProbeSpec, type ProxyAnswer, type SeenResult } from '../probe/index.js';
import { hostPort } from '../probe/spec.js';
import { tlsVerdict } from '../probe/tls.js';
import { controllerNotFound } from '../probe/local.js';
import type { KubeClient } from '../apply/k8s/client.js';
import { PodTracker } from '../apply/k8s/pod-tracker.js';
import { PortForwarder } from '../apply/k8s/pf/forwarder.js';
import type { CheckReason } from '../reasons.js';

export type { ProbeSpec } from '../probe/index.js';

export interface ProbeOutcome {
  id: string;
  ok: boolean;
  reason: CheckReason;
  detail: string;
  latencyMs: number;
  httpStatus?: number;
  /** The WebSocket upgrade's result, when asked for. */
  websocket?: { ok: boolean; reason: CheckReason; detail: string };
}

const LOGIN = /login|signin|sign_in|auth|oauth|sso/i;
/** What dev servers answer a Host they do not allow: Vite (allowedHosts), webpack-dev-server (Angular, Vue CLI, CRA; 403, v3: 200). */
const HOST_CHECK = /^Blocked request\. This host|^Invalid Host header/;

/** What an HTTP answer means; `body` undefined: not seen (busybox's wget on an error status). Pure: unit-tested. */
export function classifyHttp(status: number, location: string | undefined, body: string | undefined, via: 'direct' | 'ingress' | 'apiserver'): { ok: boolean; reason: CheckReason; detail: string } {
  if (via === 'ingress' && status === 404 && body !== undefined && controllerNotFound(body)) {
    return { ok: false, reason: 'ProxyNoRoute', detail: 'the Ingress controller answered 404: no rule matches this Host and path' };
  }
  if (via !== 'direct' && (status === 502 || status === 503 || status === 504)) {
    return { ok: false, reason: 'ProxyNoRoute', detail: `the proxy answered ${status}: it has no backend that answers${body ? ` (${body.trim().slice(0, 120)})` : ''}` };
  }
  // A dev server that refuses the Host it is reached by (through an Ingress, a proxy, a LAN name) is not a login.
  if (HOST_CHECK.test(body ?? '')) return { ok: false, reason: 'HostNotAllowed', detail: `answers HTTP ${status}, and refuses the host name it is reached by: ${JSON.stringify((body ?? '').slice(0, 120))}` };
  if (status === 401 || status === 407 || status === 403) return { ok: true, reason: 'LoginRequired', detail: `answers, login required (HTTP ${status})` };
  if (status >= 300 && status < 400 && location && LOGIN.test(location)) return { ok: true, reason: 'LoginRequired', detail: `answers, login required (HTTP ${status} to ${location})` };
  return { ok: true, reason: 'Answers', detail: `answers HTTP ${status}${location ? ` (to ${location})` : ''}` };
}

export function errorReason(e: NodeJS.ErrnoException | string | undefined): CheckReason {
  const code = typeof e === 'string' ? e : e?.code ?? e?.message ?? '';
  if (/ECONNREFUSED|connection refused/i.test(code)) return 'ConnectionRefused';
  if (/ETIMEDOUT|timeout|within/i.test(code)) return 'Timeout';
  if (/EHOSTUNREACH|ENETUNREACH|no route to host|network is unreachable/i.test(code)) return 'Unreachable';
  if (/ECONNRESET|EPIPE|socket hang up|reset/i.test(code)) return 'ConnectionReset';
  if (/ENOTFOUND|EAI_AGAIN/i.test(code)) return 'Unreachable';
  if (/HPE_|Parse Error/i.test(code)) return 'NotHttp';
  if (/certificate|SSL|TLS|EPROTO/i.test(code)) return 'TlsFailed';
  return 'Unreachable';
}

/** A result of one spec (from here, or from the debug pod), in check's words. Pure. */
export function classifySpec(spec: ProbeSpec, r: SeenResult | ProbeResult): ProbeOutcome {
  const where = hostPort(spec.host, spec.port);
  const base = { id: spec.id, latencyMs: Math.round(r.latencyMs ?? 0) };
  if (spec.protocol === 'tcp') {
    return r.ok
      ? { ...base, ok: true, reason: 'Answers', detail: `${where} accepts connections` }
      : { ...base, ok: false, reason: errorReason(r.detail), detail: r.detail ?? `${where} does not answer` };
  }
  const scheme = spec.tls ? 'https' : 'http';
  const ws = r.websocket && { websocket: classifyUpgrade(r.websocket) };
  // Up, and not speaking plain HTTP (an HTTPS-only app, an SSH port): the prober said what it speaks.
  if (!r.ok && r.reason === 'NotHttp') return { ...base, ok: false, reason: 'NotHttp', detail: `${scheme}://${where}${spec.path ?? '/'}: ${r.detail ?? 'answers, but not with HTTP'}`, ...(r.httpStatus !== undefined && { httpStatus: r.httpStatus }), ...ws };
  if (r.httpStatus === undefined) {
    const e = r.error ?? { message: r.detail ?? 'no answer' };
    const reason = errorReason(e.code !== undefined ? (e as NodeJS.ErrnoException) : e.message);
    return { ...base, ok: false, reason: spec.tls && (reason === 'ConnectionReset' || r.reason === 'TlsFailed') ? 'TlsFailed' : reason, detail: `${scheme}://${where}${spec.path ?? '/'}: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' '), ...ws };
  }
  // It answered over a certificate a browser refuses: the prober said which check failed (tls.ts).
  if (isTlsReason(r.reason)) return { ...base, ok: false, reason: r.reason, detail: `${scheme}://${where}${spec.path ?? '/'}${spec.hostHeader ? ` (SNI and Host: ${spec.hostHeader})` : ''}: ${(r.certificate && tlsVerdict(r.certificate)?.detail) ?? r.detail ?? r.reason}`, httpStatus: r.httpStatus, ...ws };
  const c = classifyHttp(r.httpStatus, r.location, r.excerpt, spec.via ?? 'direct');
  let detail = `${scheme}://${where}${spec.path ?? '/'}${spec.hostHeader ? ` (Host: ${spec.hostHeader})` : ''}: ${c.detail}`;
  if (r.certificate?.mismatch) detail += `; the certificate does not cover ${r.certificate.name} (subject ${r.certificate.subject ?? '?'}): the controller's default certificate?`;
  return { ...base, ok: c.ok, reason: c.reason, detail, httpStatus: r.httpStatus, ...ws };
}

const TLS_REASONS: ReadonlySet<CheckReason> = new Set(['TlsFailed', 'TlsHostnameMismatch', 'TlsCertificateExpired', 'TlsUnknownAuthority']);
const isTlsReason = (r: CheckReason): r is 'TlsFailed' | 'TlsHostnameMismatch' | 'TlsCertificateExpired' | 'TlsUnknownAuthority' => TLS_REASONS.has(r);

function classifyUpgrade(w: NonNullable<ProbeResult['websocket']>): { ok: boolean; reason: CheckReason; detail: string } {
  if (w.ok) return { ok: true, reason: 'Answers', detail: 'the WebSocket upgrade passes (101)' };
  if (w.status !== undefined) return { ok: false, reason: 'WebSocketRejected', detail: `the WebSocket upgrade was answered ${w.status} instead of 101 (a proxy on the way may not pass Upgrade, or the app wants another path)` };
  const e = w.error ?? { message: 'no answer' };
  return { ok: false, reason: errorReason(e.code !== undefined ? (e as NodeJS.ErrnoException) : e.message), detail: `WebSocket: ${e.message}` };
}

/** One probe from the machine this runs on, classified. Never throws. */
export async function probeFromHere(spec: ProbeSpec): Promise<ProbeOutcome> {
  return classifySpec(spec, await probeSpec(spec));
}

export interface ApiProxyTarget {
  id: string;
  namespace: string;
  resource: 'pods' | 'services';
  name: string;
  port: number;
  path?: string;
  timeoutMs?: number;
}

/** An HTTP GET through the API server's proxy (services/NAME:PORT/proxy/, pods/NAME:PORT/proxy/), classified. */
export async function probeThroughApiServer(client: Pick<KubeClient, 'request' | 'requestRaw'>, t: ApiProxyTarget): Promise<ProbeOutcome> {
  const target = t.resource === 'pods'
    ? { kind: 'pod' as const, namespace: t.namespace, name: t.name, port: t.port, ...(t.path && { path: t.path }) }
    : { kind: 'service' as const, namespace: t.namespace, name: t.name, port: t.port, protocol: 'http' as const, ...(t.path && { path: t.path }) };
  const r = await probe(target, 'apiserver', { api: client, timeoutMs: t.timeoutMs ?? 3000 });
  const what = `${t.resource}/${t.name}:${t.port} through the API server`;
  const latencyMs = Math.round(r.latencyMs ?? 0);
  if (!r.proxy) {
    const why = r.error?.cause ?? r.error?.message ?? r.detail ?? '';
    // Out of time: the app behind the proxy may accept and never answer (check has read the API server's objects already).
    const timedOut = /no answer within/.test(why);
    // The prober asked the API server for /version: Timeout when it answers (then the app does not).
    const detail = timedOut ? (r.reason === 'Timeout' && r.detail ? r.detail : `no answer through the proxy (${why})`) : `the API server did not answer: ${why}`;
    return { id: t.id, ok: false, reason: timedOut ? 'Timeout' : 'Unreachable', detail: `${what}: ${detail}`, latencyMs };
  }
  // The prober found it speaks TLS (an HTTPS-only app), not plain HTTP.
  if (r.reason === 'NotHttp') return { id: t.id, ok: false, reason: 'NotHttp', detail: `${what}: ${r.detail ?? 'answers, but not with HTTP'}`, latencyMs, httpStatus: r.proxy.status };
  const c = classifyApiProxy(r.proxy);
  return { id: t.id, ...c, detail: `${what}: ${c.detail}`, latencyMs, httpStatus: r.proxy.status };
}

/** What an answer of the API server's proxy means: its own Status errors, or the app's answer (with an excerpt). Pure. */
export function classifyApiProxy(a: ProxyAnswer): { ok: boolean; reason: CheckReason; detail: string } {
  if (a.by === 'app') {
    const c = classifyHttp(a.status, a.location, a.excerpt, 'direct');
    return { ...c, detail: `${c.detail}${a.excerpt ? `: ${JSON.stringify(a.excerpt)}` : ''}` };
  }
  const msg = a.message;
  if (a.status === 403 && a.reason === 'Forbidden') return { ok: false, reason: 'Forbidden', detail: `this user may not use the proxy: ${msg}` };
  if (/no endpoints available/i.test(msg)) return { ok: false, reason: 'NoEndpoints', detail: `the API server finds no endpoints: ${msg}` };
  if (a.status === 404 && a.reason === 'NotFound') return { ok: false, reason: 'NotApplicable', detail: msg };
  const failure = proxyFailureOf(msg);
  if (failure) return { ok: false, reason: failure.reason, detail: `the API server could not reach it: ${msg}${failure.reason === 'ConnectionRefused' ? '' : ` (${failure.words})`}` };
  return { ok: false, reason: errorReason(msg) === 'Unreachable' && !/unreachable|no route/i.test(msg) ? 'ProxyNoRoute' : errorReason(msg), detail: `the API server could not reach it: ${msg}` };
}

export interface ForwardTarget {
  id: string;
  namespace: string;
  pod: string;
  port: number;
  protocol: 'tcp' | 'http';
  path?: string;
  timeoutMs?: number;
}

/** The one-shot forwards the prober opens: the Kubernetes runtime's PortForwarder on a free loopback port. */
export function forwardOpener(client: KubeClient): ForwardOpener {
  return async ({ namespace, pod, port, timeoutMs }) => {
    const tracker = new PodTracker(client, { namespace, podName: pod, description: `pod/${pod}` });
    let fwd: PortForwarder | undefined;
    try {
      await tracker.start();
      fwd = new PortForwarder({ client, tracker, namespace, remotePort: port, listenAddress: '127.0.0.1', localPort: 0, waitTimeoutMs: timeoutMs });
      const a = await fwd.start();
      const f = fwd;
      return {
        address: a.address,
        port: a.port,
        podSide: () => ({ ...(f.stats.refusing && { refused: f.stats.lastRefusal ?? `nothing listens on port ${port} in pod ${pod}` }), ...(f.stats.lastError !== undefined && { error: f.stats.lastError }) }),
        stop: async () => {
          await f.stop();
          tracker.stop(); // the forwarder closed its own SPDY sessions
        },
      };
    } catch (e) {
      await fwd?.stop();
      tracker.stop();
      throw e;
    }
  };
}

/**
 * A one-shot port-forward (the engine's own, through the API server's pods/portforward), probed by
 * the prober, then closed. It connects to localhost inside the pod, so it answers even when the app
 * listens on 127.0.0.1 only — which is how `check` tells "bound to loopback" from "down".
 */
export async function probeThroughForward(client: KubeClient, t: ForwardTarget): Promise<ProbeOutcome> {
  const timeoutMs = t.timeoutMs ?? 3000;
  const r = await probe({ kind: 'forward', namespace: t.namespace, pod: t.pod, port: t.port, protocol: t.protocol, ...(t.path && { path: t.path }) }, 'apiserver', { portForward: forwardOpener(client), timeoutMs });
  return classifyForward(t, r);
}

/** A one-shot forward's result in check's words: the pod's side explains a failure. Pure. */
export function classifyForward(t: Pick<ForwardTarget, 'id' | 'pod' | 'port' | 'protocol' | 'path'>, r: ProbeResult): ProbeOutcome {
  const latencyMs = Math.round(r.latencyMs ?? 0);
  const at = `port-forward to pod ${t.pod}:${t.port}`;
  if (!r.ok && r.forward?.refused) return { id: t.id, ok: false, reason: 'ConnectionRefused', detail: `port-forward: ${r.forward.refused}`, latencyMs };
  if (!r.forward?.local) {
    // The forward could not be opened at all.
    return { id: t.id, ok: false, reason: r.reason === 'Forbidden' ? 'Forbidden' : 'Unreachable', detail: `${at}: ${r.error?.message ?? r.detail ?? 'not opened'}`, latencyMs };
  }
  const why = r.forward?.error;
  if (!r.ok && why && /forbidden|403/i.test(why)) return { id: t.id, ok: false, reason: 'Forbidden', detail: `this user may not port-forward: ${why}`, latencyMs };
  // The forward keeps retrying a port the pod refuses; its last error says so (kubelet:
  // "connection refused", KWOK: "forward not found for port").
  if (!r.ok && why && /refused|forward not found|failed to connect|unable to do port forwarding/i.test(why)) {
    return { id: t.id, ok: false, reason: 'ConnectionRefused', detail: `${at}: the pod refuses the port (${why})`, latencyMs };
  }
  const o = classifySpec({ id: t.id, host: r.forward.local.address, port: r.forward.local.port, protocol: t.protocol, ...(t.path && { path: t.path }) }, r);
  return { ...o, detail: `${at}: ${r.ok ? o.detail : `${o.detail}${why ? ` (${why})` : ''}`}`, latencyMs };
}
