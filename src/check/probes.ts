// Every network probe of `check` goes through this one file, not through the engine's probe()
// (src/probe/index.ts): from this machine (TCP, HTTP with a Host header, HTTPS, a WebSocket
// upgrade), through the API server's service/pod proxy (probeViaApiServer, its own, beside
// src/probe/apiserver.ts) and through a one-shot port-forward. The debug pod runs the same
// probeFromHere() (`envserve probe --json`). From src/probe/ it uses only the TCP probe
// (local.ts probeTcp) and the reading of the API server's proxy answers (proxy-answer.ts); HTTP is
// done here because `check` needs more of the answer (Location, the proxy's error text, the
// certificate).
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import WebSocket from 'ws';
import { probeTcp } from '../probe/local.js';
import { FORWARD_HOLD_MS } from '../probe/targets.js';
import { proxyPath, readProxyAnswer, type ProxyAnswer } from '../probe/proxy-answer.js';
import type { KubeClient } from '../apply/k8s/client.js';
import { PodTracker } from '../apply/k8s/pod-tracker.js';
import { PortForwarder } from '../apply/k8s/pf/forwarder.js';
import type { CheckReason } from '../reasons.js';

export interface ProbeSpec {
  /** The check id the result belongs to. */
  id: string;
  host: string;
  port: number;
  protocol: 'tcp' | 'http';
  path?: string;
  /** The Host header (Ingress rules match on it); also the TLS server name. */
  hostHeader?: string;
  tls?: boolean;
  /** Also try a WebSocket upgrade (HTTP only). */
  websocket?: boolean;
  /** 'ingress': a 404/502/503 comes from the controller, not from the app. */
  via?: 'direct' | 'ingress';
  timeoutMs?: number;
  /** TCP through a port-forward: the connection must stay up this long (probe/targets.ts FORWARD_HOLD_MS). */
  holdMs?: number;
}

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

/** What an HTTP answer means. Pure: unit-tested. */
export function classifyHttp(status: number, location: string | undefined, body: string, via: 'direct' | 'ingress' | 'apiserver'): { ok: boolean; reason: CheckReason; detail: string } {
  if (via === 'ingress' && status === 404 && /404 page not found|default backend|no route/i.test(body)) {
    return { ok: false, reason: 'ProxyNoRoute', detail: 'the Ingress controller answered 404: no rule matches this Host and path' };
  }
  if (via !== 'direct' && (status === 502 || status === 503 || status === 504)) {
    return { ok: false, reason: 'ProxyNoRoute', detail: `the proxy answered ${status}: it has no backend that answers${body ? ` (${body.trim().slice(0, 120)})` : ''}` };
  }
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

const fmt = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** One probe from the machine this runs on. Never throws. */
export async function probeFromHere(spec: ProbeSpec): Promise<ProbeOutcome> {
  const t0 = performance.now();
  const timeoutMs = spec.timeoutMs ?? 2000;
  const where = fmt(spec.host, spec.port);
  if (spec.protocol === 'tcp') {
    const r = await probeTcp(spec.host, spec.port, timeoutMs, undefined, spec.holdMs);
    const latencyMs = Math.round(performance.now() - t0);
    return r.ok
      ? { id: spec.id, ok: true, reason: 'Answers', detail: `${where} accepts connections`, latencyMs }
      : { id: spec.id, ok: false, reason: errorReason(r.detail), detail: r.detail ?? `${where} does not answer`, latencyMs };
  }
  const [main, ws] = await Promise.all([httpOnce(spec, timeoutMs), spec.websocket ? wsOnce(spec, timeoutMs) : Promise.resolve(undefined)]);
  return { ...main, latencyMs: Math.round(performance.now() - t0), ...(ws && { websocket: ws }) };
}

function httpOnce(spec: ProbeSpec, timeoutMs: number): Promise<Omit<ProbeOutcome, 'latencyMs'>> {
  const where = fmt(spec.host, spec.port);
  const scheme = spec.tls ? 'https' : 'http';
  return new Promise((resolve) => {
    const headers: Record<string, string> = { connection: 'close', 'user-agent': 'envserve-check' };
    if (spec.hostHeader) headers.host = spec.hostHeader;
    const opts: https.RequestOptions = { host: spec.host, port: spec.port, path: spec.path ?? '/', method: 'GET', headers, agent: false };
    if (spec.tls) {
      // The certificate is checked below against the name users type, with its own message;
      // an unknown CA (a test or self-signed certificate) is not what `check` is about.
      opts.rejectUnauthorized = false;
      if (spec.hostHeader) opts.servername = spec.hostHeader;
    }
    const req = (spec.tls ? https : http).request(opts, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { if (body.length < 512) body += d; });
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        const c = classifyHttp(status, res.headers.location, body, spec.via ?? 'direct');
        let detail = `${scheme}://${where}${spec.path ?? '/'}${spec.hostHeader ? ` (Host: ${spec.hostHeader})` : ''}: ${c.detail}`;
        if (spec.tls) {
          const cert = (res.socket as tls.TLSSocket).getPeerCertificate?.();
          const name = spec.hostHeader ?? spec.host;
          if (cert && Object.keys(cert).length && tls.checkServerIdentity(name, cert)) detail += `; the certificate does not cover ${name} (subject ${cert.subject?.CN ?? '?'}): the controller's default certificate?`;
        }
        resolve({ id: spec.id, ok: c.ok, reason: c.reason, detail, httpStatus: status });
      });
      res.on('error', (e) => resolve({ id: spec.id, ok: false, reason: errorReason(e), detail: `${where}: ${e.message}` }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => {
      const reason = errorReason(e);
      resolve({ id: spec.id, ok: false, reason: spec.tls && reason === 'ConnectionReset' ? 'TlsFailed' : reason, detail: `${scheme}://${where}${spec.path ?? '/'}: ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' ') });
    });
    req.end();
  });
}

function wsOnce(spec: ProbeSpec, timeoutMs: number): Promise<{ ok: boolean; reason: CheckReason; detail: string }> {
  return new Promise((resolve) => {
    const url = `${spec.tls ? 'wss' : 'ws'}://${fmt(spec.host, spec.port)}${spec.path ?? '/'}`;
    const ws = new WebSocket(url, {
      headers: spec.hostHeader ? { host: spec.hostHeader } : {},
      handshakeTimeout: timeoutMs,
      rejectUnauthorized: false,
      ...(spec.tls && spec.hostHeader && { servername: spec.hostHeader }),
    });
    let done = false;
    const finish = (r: { ok: boolean; reason: CheckReason; detail: string }) => {
      if (done) return;
      done = true;
      ws.terminate();
      resolve(r);
    };
    ws.on('open', () => finish({ ok: true, reason: 'Answers', detail: 'the WebSocket upgrade passes (101)' }));
    ws.on('unexpected-response', (_req, res) => finish({ ok: false, reason: 'WebSocketRejected', detail: `the WebSocket upgrade was answered ${res.statusCode} instead of 101 (a proxy on the way may not pass Upgrade, or the app wants another path)` }));
    ws.on('error', (e: NodeJS.ErrnoException) => finish({ ok: false, reason: errorReason(e), detail: `WebSocket: ${e.message}` }));
  });
}

export interface ApiProxyTarget {
  id: string;
  namespace: string;
  resource: 'pods' | 'services';
  name: string;
  port: number | string;
  path?: string;
  timeoutMs?: number;
}

/** An HTTP GET through the API server's proxy (services/NAME:PORT/proxy/, pods/NAME:PORT/proxy/). */
export async function probeViaApiServer(client: Pick<KubeClient, 'requestRaw'>, t: ApiProxyTarget): Promise<ProbeOutcome> {
  const t0 = performance.now();
  const what = `${t.resource}/${t.name}:${t.port} through the API server`;
  try {
    const a = readProxyAnswer(await client.requestRaw(proxyPath(t.namespace, t.resource, t.name, t.port, t.path), { timeoutMs: t.timeoutMs ?? 3000, maxBytes: 64 * 1024 }));
    const c = classifyApiProxy(a);
    return { id: t.id, ...c, detail: `${what}: ${c.detail}`, latencyMs: Math.round(performance.now() - t0), httpStatus: a.status };
  } catch (e) {
    const why = (e as { cause?: Error }).cause?.message ?? (e as Error).message;
    // Out of time: the app behind the proxy may accept and never answer (check has read the API server's objects already).
    const timedOut = /no answer within/.test(why);
    return { id: t.id, ok: false, reason: timedOut ? 'Timeout' : 'Unreachable', detail: `${what}: ${timedOut ? `no answer through the proxy (${why})` : `the API server did not answer: ${why}`}`, latencyMs: Math.round(performance.now() - t0) };
  }
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

/**
 * A one-shot port-forward (the engine's own, through the API server's pods/portforward) on a free
 * loopback port, probed like any local address, then closed. It connects to localhost inside the
 * pod, so it answers even when the app listens on 127.0.0.1 only — which is how `check` tells
 * "bound to loopback" from "down".
 */
export async function probeViaPortForward(client: KubeClient, t: ForwardTarget): Promise<ProbeOutcome> {
  const t0 = performance.now();
  const tracker = new PodTracker(client, { namespace: t.namespace, podName: t.pod, description: `pod/${t.pod}` });
  let fwd: PortForwarder | undefined;
  try {
    await tracker.start();
    fwd = new PortForwarder({ client, tracker, namespace: t.namespace, remotePort: t.port, listenAddress: '127.0.0.1', localPort: 0, waitTimeoutMs: t.timeoutMs ?? 3000 });
    const a = await fwd.start();
    const r = await probeFromHere({ id: t.id, host: a.address, port: a.port, protocol: t.protocol, ...(t.path && { path: t.path }), timeoutMs: t.timeoutMs ?? 3000, holdMs: FORWARD_HOLD_MS });
    const why = fwd.stats.lastError;
    if (!r.ok && fwd.stats.refusing) {
      return { id: t.id, ok: false, reason: 'ConnectionRefused', detail: `port-forward: ${fwd.stats.lastRefusal}`, latencyMs: Math.round(performance.now() - t0) };
    }
    if (!r.ok && why && /forbidden|403/i.test(why)) return { id: t.id, ok: false, reason: 'Forbidden', detail: `this user may not port-forward: ${why}`, latencyMs: r.latencyMs };
    // The forward keeps retrying a port the pod refuses; its last error says so (kubelet:
    // "connection refused", KWOK: "forward not found for port").
    if (!r.ok && why && /refused|forward not found|failed to connect|unable to do port forwarding/i.test(why)) {
      return { id: t.id, ok: false, reason: 'ConnectionRefused', detail: `port-forward to pod ${t.pod}:${t.port}: the pod refuses the port (${why})`, latencyMs: Math.round(performance.now() - t0) };
    }
    return { ...r, detail: `port-forward to pod ${t.pod}:${t.port}: ${r.ok ? r.detail : `${r.detail}${why ? ` (${why})` : ''}`}`, latencyMs: Math.round(performance.now() - t0) };
  } catch (e) {
    const msg = (e as Error).message;
    return { id: t.id, ok: false, reason: /forbidden|403/i.test(msg) ? 'Forbidden' : 'Unreachable', detail: `port-forward to pod ${t.pod}:${t.port}: ${msg}`, latencyMs: Math.round(performance.now() - t0) };
  } finally {
    await fwd?.stop();
    tracker.stop(); // the forwarder closed its own SPDY sessions
  }
}
