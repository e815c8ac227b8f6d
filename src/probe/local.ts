// Probes from where this runs (this machine, or check's debug pod): a TCP connect, or one HTTP(S)
// request (and a WebSocket upgrade beside it).
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import type { ReasonCode } from '../reasons.js';
import { excerptOf } from './proxy-answer.js';
import { isTlsHandshakeError, tlsVerdict, type CertificateSeen } from './tls.js';
import type { ProbeResult } from './types.js';
import { probeUpgrade } from './websocket.js';

/** Statuses by which a proxy (Ingress controller, API server proxy) says the route is not there yet. */
export const PROXY_NOT_READY: ReadonlySet<number> = new Set([404, 502, 503, 504]);

/**
 * Whether a 404 through an Ingress controller is the controller's own (no rule for this Host and
 * path: Traefik's and Go's text, ingress-nginx's page, a default backend, Kong's JSON, OpenShift's
 * router, Envoy's empty body) rather than the app's — an API with no page at / answers 404 too.
 * A Go app's own http.NotFound reads as Traefik's.
 */
export function controllerNotFound(body: string): boolean {
  return !body.trim() || /404 page not found|default backend|no route|<center>nginx<\/center>|application is not available/i.test(body);
}

export function reasonOfSocketError(e: NodeJS.ErrnoException): { reason: ReasonCode; detail: string } {
  switch (e.code) {
    case 'ECONNREFUSED':
      return { reason: 'ConnectionRefused', detail: 'connection refused (nothing listens there yet)' };
    case 'ECONNRESET':
    case 'EPIPE':
      return { reason: 'ConnectionReset', detail: 'connection reset (the service behind it is not answering)' };
    case 'ETIMEDOUT':
      return { reason: 'Timeout', detail: e.message };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return { reason: 'Unreachable', detail: `not reachable from this machine (${e.code})` };
    default:
      return { reason: 'Unreachable', detail: e.message };
  }
}

export function probeTcp(address: string, port: number, timeoutMs = 2000, signal?: AbortSignal, holdMs = 0): Promise<ProbeResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const s = net.connect({ host: address, port });
    const done = (r: ProbeResult) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      s.destroy();
      resolve({ ...r, latencyMs: Math.round((performance.now() - t0) * 10) / 10 });
    };
    const onAbort = () => done({ ok: false, reason: 'Stopped', detail: 'probe cancelled' });
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => done({ ok: false, reason: 'Timeout', detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
    let connected = false;
    s.on('connect', () => {
      connected = true;
      if (holdMs <= 0) return done({ ok: true, reason: 'Ready' });
      const hold = setTimeout(() => done({ ok: true, reason: 'Ready' }), Math.min(holdMs, timeoutMs));
      s.once('close', () => clearTimeout(hold));
      // Bytes, or a clean close, came from the other side: it answered.
      s.once('data', () => done({ ok: true, reason: 'Ready' }));
      s.once('end', () => done({ ok: true, reason: 'Ready' }));
    });
    s.on('error', (e: NodeJS.ErrnoException) =>
      done({ ok: false, ...(connected && e.code === 'ECONNRESET' ? { reason: 'ConnectionReset', detail: 'the connection was reset after it was accepted' } : reasonOfSocketError(e)) }));
  });
}

/** How much of an answer's body is read, for its excerpt (the rest is dropped). */
const BODY_BYTES = 512;

/**
 * One GET. Any HTTP answer means the service was reached, except (with viaProxy) the statuses by
 * which a proxy says it has no route. A connection that closes or answers non-HTTP is NotHttp.
 * What was seen rides along: the status, Location, the start of the body, the certificate, and
 * (with `websocket`) whether an upgrade passes. The latency is the time to the answer's headers.
 */
export async function probeHttp(url: string, o: { hostHeader?: string; viaProxy?: boolean; timeoutMs?: number; signal?: AbortSignal; websocket?: boolean } = {}): Promise<ProbeResult> {
  const [main, ws] = await Promise.all([httpOnce(url, o).then((r) => tlsInstead(url, r, o)), o.websocket ? probeUpgrade(url, { timeoutMs: o.timeoutMs ?? 2000, ...(o.hostHeader !== undefined && { hostHeader: o.hostHeader }) }) : undefined]);
  return ws ? { ...main, websocket: ws } : main;
}

/** What Go's, nginx's and Apache's HTTPS servers answer a plain HTTP request. */
export const PLAIN_TO_HTTPS = /HTTP request to an HTTPS server|plain HTTP request was sent to HTTPS|speaking plain HTTP to an SSL/i;

/**
 * An HTTPS-only app (Jupyter or code-server with a certificate) meets a plain request with a
 * closed connection (Node, Python, Tornado), a TLS alert, or a 400 naming HTTPS (Go, nginx): it is
 * up, and the http:// URL is the wrong one. A TLS handshake on the same port tells it apart from a
 * port that closes or speaks something else; then the result says so (NotHttp), else it stays.
 */
async function tlsInstead(url: string, r: ProbeResult, o: { hostHeader?: string; timeoutMs?: number }): Promise<ProbeResult> {
  const u = new URL(url);
  if (u.protocol !== 'http:') return r;
  const suspect = r.ok ? r.httpStatus === 400 && PLAIN_TO_HTTPS.test(r.excerpt ?? '') : r.reason === 'NotHttp' || r.reason === 'ConnectionReset';
  if (!suspect) return r;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const t0 = performance.now();
  if (!(await speaksTls(host, Number(u.port || 80), o.hostHeader, Math.max(500, (o.timeoutMs ?? 2000) - (r.latencyMs ?? 0))))) return r;
  const https = `https://${u.host}${u.pathname}${u.search}`;
  return {
    ...r,
    ok: false,
    reason: 'NotHttp',
    detail: `it speaks TLS, not plain HTTP: the app serves HTTPS here (${https})`,
    latencyMs: Math.round(((r.latencyMs ?? 0) + performance.now() - t0) * 10) / 10,
  };
}

/** Whether the port completes a TLS handshake (any certificate), or answers one with a TLS alert. */
function speaksTls(host: string, port: number, name: string | undefined, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({ host, port, rejectUnauthorized: false, ...(name ? { servername: name } : !net.isIP(host) && { servername: host }) });
    const end = (v: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => end(false), timeoutMs);
    s.once('secureConnect', () => end(true));
    // "tlsv1 alert …" came from the server: it speaks TLS; anything else (reset, wrong version number) does not say so.
    s.once('error', (e) => end(/alert/i.test(e.message)));
  });
}

function httpOnce(url: string, o: { hostHeader?: string; viaProxy?: boolean; timeoutMs?: number; signal?: AbortSignal }): Promise<ProbeResult> {
  const t0 = performance.now();
  const u = new URL(url);
  const secure = u.protocol === 'https:';
  const timeoutMs = o.timeoutMs ?? 2000;
  const ms = () => Math.round((performance.now() - t0) * 10) / 10;
  return new Promise((resolve) => {
    let settled = false;
    let answered: ProbeResult | undefined;
    const body: Buffer[] = [];
    let bodyBytes = 0;
    const done = (r: ProbeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      resolve(r.latencyMs === undefined ? { ...r, latencyMs: ms() } : r);
    };
    // The answer with as much of its body as came: on its end, at BODY_BYTES, or when time is up.
    // Through a controller a 404 is judged by its body: the controller's own, or the app's (ready).
    const finish = () => {
      if (!answered) return;
      const excerpt = excerptOf(Buffer.concat(body));
      const apps404 = answered.reason === 'IngressRouteNotAnswering' && answered.httpStatus === 404 && !controllerNotFound(excerpt);
      done({ ...answered, ...(apps404 && { ok: true, reason: 'Ready', detail: `${answered.detail} from the app (not the controller's own 404)` }), excerpt });
    };
    const headers: Record<string, string> = { connection: 'close', 'user-agent': 'envserve-probe' };
    if (o.hostHeader) headers.host = o.hostHeader;
    const name = o.hostHeader ?? u.hostname.replace(/^\[|\]$/g, '');
    const req = (secure ? https : http).request(
      {
        host: u.hostname.replace(/^\[|\]$/g, ''),
        port: u.port || (secure ? 443 : 80),
        path: `${u.pathname}${u.search}`,
        method: 'GET',
        headers,
        agent: false,
        // Read as browsers and curl read it: a page with bare-LF lines or a folded header (quick
        // `nc` servers, small embedded ones) is a page, not NotHttp.
        insecureHTTPParser: true,
        // Not rejected in the handshake: the answer is still seen, and the certificate judged below (tls.ts).
        ...(secure && { rejectUnauthorized: false, servername: o.hostHeader ?? (net.isIP(u.hostname) ? undefined : u.hostname) }),
      },
      (res) => {
        const status = res.statusCode ?? 0;
        const line = `HTTP/${res.httpVersion} ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`;
        const seen: Partial<ProbeResult> = { httpStatus: status, latencyMs: ms(), ...(res.headers.location !== undefined && { location: res.headers.location }) };
        if (secure) seen.certificate = certificateOf(res.socket as tls.TLSSocket, name);
        // An answer over a certificate a browser would refuse is not "ready": say which check failed.
        const bad = seen.certificate && tlsVerdict(seen.certificate);
        answered = bad
          ? { ok: false, reason: bad.reason, detail: `${url}: ${bad.detail} (it answered ${line})`, ...seen }
          : o.viaProxy && PROXY_NOT_READY.has(status)
          ? { ok: false, reason: 'IngressRouteNotAnswering', detail: `${url} answered ${status}`, ...seen }
          : { ok: true, reason: 'Ready', detail: line, ...seen };
        res.on('data', (d: Buffer) => {
          body.push(d);
          bodyBytes += d.length;
          if (bodyBytes >= BODY_BYTES) finish();
        });
        res.on('end', finish);
        res.on('error', finish);
      },
    );
    const onAbort = () => done({ ok: false, reason: 'Stopped', detail: 'probe cancelled' });
    o.signal?.addEventListener('abort', onAbort, { once: true });
    // Connected and not answered (a slow, busy or stuck app) is told apart from no connection (packets dropped on the way).
    let connected = false;
    const timer = setTimeout(() => {
      if (answered) return finish();
      const message = connected ? `connected, and no answer within ${timeoutMs} ms: the app is slow, busy or stuck, or waits for another protocol than HTTP (a database)` : `no answer within ${timeoutMs} ms`;
      done({ ok: false, reason: 'Timeout', detail: message, error: { code: 'ETIMEDOUT', message } });
    }, timeoutMs);
    req.on('socket', (sock) => sock.once('connect', () => (connected = true)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (answered) return finish();
      const error = { ...(e.code !== undefined && { code: e.code }), message: e.message };
      if (e.code === 'HPE_INVALID_CONSTANT' || e.code?.startsWith('HPE_') || /parse error/i.test(e.message)) done({ ok: false, reason: 'NotHttp', detail: 'answers, but not with HTTP', error });
      else if (secure && isTlsHandshakeError(e)) done({ ok: false, reason: 'TlsFailed', detail: `the TLS handshake failed: ${e.message}`, error });
      else if (e.code === 'ECONNRESET' && /socket hang up/.test(e.message)) done({ ok: false, reason: 'ConnectionReset', detail: 'connection closed without an answer', error });
      else done({ ok: false, ...reasonOfSocketError(e), error });
    });
    req.end();
  });
}

/** The peer certificate, as checked against `name` (the Host / SNI) and this machine's trusted authorities. */
function certificateOf(sock: tls.TLSSocket, name: string): CertificateSeen | undefined {
  const cert = sock.getPeerCertificate?.();
  if (!cert || !Object.keys(cert).length) return undefined;
  const mismatch = tls.checkServerIdentity(name, cert);
  const err = sock.authorized ? undefined : (sock.authorizationError as unknown as string | Error | undefined);
  return {
    ...(cert.subject?.CN !== undefined && { subject: String(cert.subject.CN) }),
    ...(cert.issuer?.CN !== undefined && { issuer: String(cert.issuer.CN) }),
    name,
    ...(mismatch && { mismatch: mismatch.message }),
    ...(err !== undefined && { untrusted: typeof err === 'string' ? err : String((err as NodeJS.ErrnoException).code ?? err.message) }),
    ...(cert.valid_to && { validTo: cert.valid_to }),
  };
}
