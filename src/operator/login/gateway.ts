// The login gateway (issue 22): the in-path proxy in front of an exposure whose access level needs
// a login. It listens apart from the operator's HTTP API and takes the host from the request the
// ingress forwarded (never from X-Forwarded-* headers). Per request: a valid session cookie for
// this host, ExposureSet UID and access generation, an Origin equal to the host on upgrades and
// unsafe methods, and the identity still allowed (authorize.ts) — else a page naming the command,
// and the app never sees the request. Open connections (WebSockets, long responses) are checked
// again every `recheckMs` and on `revalidate()`, and cut when any of that no longer holds.
import http, { type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { KubeClient } from '../../apply/k8s/client.js';
import type { Authorize, Guarded } from './authorize.js';
import { COOKIE_NAME, COOKIE_NAME_INSECURE, PASS_COOKIE, PASS_COOKIE_INSECURE, sessionHolds, setCookieHeader, signPass, signSession, verifySession, type Session } from './cookie.js';
import { redeemTicket, type Identity } from './flow.js';
import type { KeyRing } from './keys.js';
import { LOGIN_PATH, loginCommand, sendPage } from './page.js';

/** One guarded URL: where its host's traffic goes, and what a session must be bound to. */
export interface GatewayRoute extends Guarded {
  host: string;
  setUid: string;
  accessGeneration: number;
  upstream: { host: string; port: number };
  tls: boolean;
  sessionLifetimeMs: number;
  /** The ingress controller checks passes itself (`--login-check traefik`): hand one out with each answer. */
  pass?: boolean;
}

export interface GatewayOptions {
  routes: (host: string) => GatewayRoute | undefined;
  keys: () => KeyRing;
  /** Reads and deletes Login objects (the operator's client). */
  api: Pick<KubeClient, 'request'>;
  authorize: Authorize;
  /** The pass key, for routes with `pass` (none: no passes, everything keeps coming here). */
  passKey?: () => Buffer | undefined;
  recheckMs?: number;
  now?: () => number;
  log?: (line: string) => void;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

interface Open {
  host: string;
  session: Session;
  sockets: Duplex[];
}

export class LoginGateway {
  readonly server: http.Server;
  private readonly open = new Set<Open>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  /** Kept-alive connections to the apps (a new TCP connection per request would double the cost). */
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  /**
   * Cookie values whose MAC checked out against `verifiedRing` (a browser sends the same one on
   * every request; the HMAC and JSON parse were ~10% of the gateway's CPU under load). Only the MAC
   * and parse are skipped: expiry, key retirement, host, set and generation are checked every time.
   */
  private readonly verified = new Map<string, Session>();
  private verifiedRing: KeyRing | undefined;

  constructor(private readonly o: GatewayOptions) {
    this.now = o.now ?? Date.now;
    this.server = http.createServer((req, res) => void this.onRequest(req, res).catch((e) => this.fail(res, e)));
    this.server.on('upgrade', (req, socket, head) => void this.onUpgrade(req, socket, head).catch(() => socket.destroy()));
    this.timer = setInterval(() => void this.revalidate(), o.recheckMs ?? 30_000);
    this.timer.unref();
  }

  listen(port: number, host = '127.0.0.1'): Promise<number> {
    return new Promise((resolve) => this.server.listen(port, host, () => resolve((this.server.address() as net.AddressInfo).port)));
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    this.agent.destroy();
    for (const c of this.open) for (const s of c.sockets) s.destroy();
    this.server.closeAllConnections();
    return new Promise((r) => this.server.close(() => r()));
  }

  /** Cuts every open connection whose session no longer holds (set gone or re-created, level lowered, right lost, expired). */
  async revalidate(): Promise<number> {
    let cut = 0;
    for (const c of [...this.open]) {
      if (!(await this.stillValid(c.host, c.session))) {
        for (const s of c.sockets) s.destroy();
        this.open.delete(c);
        cut++;
      }
    }
    return cut;
  }

  private async stillValid(host: string, s: Session): Promise<boolean> {
    const route = this.o.routes(host);
    if (!route || route.setUid !== s.setUid || route.accessGeneration !== s.accessGeneration || this.now() >= s.expires) return false;
    try {
      return await this.o.authorize({ username: s.user, groups: s.groups }, route);
    } catch {
      return false; // cannot tell: fail closed
    }
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = hostOf(req);
    const route = host ? this.o.routes(host) : undefined;
    if (!host || !route) return sendPage(res, 404, { title: 'No such exposure', detail: 'Nothing is exposed at this host.' });
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === LOGIN_PATH) return this.login(res, route, url);
    const session = await this.sessionFor(req, route);
    if (!session.ok) return sendPage(res, 401, { title: 'Log in to open this', detail: session.detail, command: loginCommand(shownHost(req, route), req.url ?? '/', route.tls) });
    if (!SAFE_METHODS.has(req.method ?? 'GET') && !originOk(req, route)) return sendPage(res, 403, { title: 'Refused', detail: 'This request came from another site.' });
    this.proxyHttp(req, res, route, session.session);
  }

  private async login(res: ServerResponse, route: GatewayRoute, url: URL): Promise<void> {
    const ticket = url.searchParams.get('ticket') ?? '';
    const next = safeNext(url.searchParams.get('next'));
    const r = await redeemTicket(this.o.api, ticket, route.host, this.now());
    if (!r.ok) return sendPage(res, 403, { title: 'This login link cannot be used', detail: `It was ${r.why === 'used' || r.why === 'unknown' ? 'already used' : r.why === 'expired' ? 'too old' : 'not valid for this host'}; links work once, within 60 seconds.`, command: loginCommand(route.host, next, route.tls) });
    if (!(await this.o.authorize(r.identity, route))) {
      return sendPage(res, 403, { title: 'Not allowed', detail: `${r.identity.username} may not open this exposure (it needs get on exposuresets/${route.setName} in ${route.namespace}).` });
    }
    const expires = this.now() + route.sessionLifetimeMs;
    const value = signSession({ host: route.host, setUid: route.setUid, accessGeneration: route.accessGeneration, user: r.identity.username, groups: r.identity.groups ?? [], expires }, this.o.keys());
    this.o.log?.(`login: ${r.identity.username} → ${route.host}`);
    const pass = this.passCookie(route, expires);
    res.writeHead(303, {
      location: next, // a path on this host only: never an open redirect, and the ticket is gone from the URL
      'set-cookie': [setCookieHeader(value, { tls: route.tls, maxAgeS: route.sessionLifetimeMs / 1000 }), ...(pass ? [pass] : [])],
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
      'content-length': '0',
    });
    res.end();
  }

  private async sessionFor(req: IncomingMessage, route: GatewayRoute): Promise<{ ok: true; session: Session } | { ok: false; detail: string }> {
    const value = cookieValue(req, route.tls ? COOKIE_NAME : COOKIE_NAME_INSECURE);
    if (!value) return { ok: false, detail: 'This exposure needs a login with your Kubernetes identity.' };
    const session = this.verifiedSession(value, route);
    if (!session.ok) return session;
    const who: Identity = { username: session.session.user, groups: session.session.groups };
    if (!(await this.o.authorize(who, route))) return { ok: false, detail: `${session.session.user} may no longer open this exposure.` };
    return session;
  }

  private verifiedSession(value: string, route: GatewayRoute): { ok: true; session: Session } | { ok: false; detail: string } {
    const ring = this.o.keys();
    const now = this.now();
    if (ring !== this.verifiedRing) {
      this.verified.clear(); // a new ring (re-read, rotated): verify again against it
      this.verifiedRing = ring;
    }
    const expect = { host: route.host, setUid: route.setUid, accessGeneration: route.accessGeneration, now };
    const hit = this.verified.get(value);
    if (hit && ring.verifying(value.split('.', 2)[1]!, now) && sessionHolds(hit, expect).ok) return { ok: true, session: hit };
    const v = verifySession(value, ring, expect);
    if (!v.ok) return { ok: false, detail: v.why === 'expired' ? 'Your session has expired.' : 'Your session is not valid for this exposure (any more).' };
    if (this.verified.size >= 10_000) this.verified.clear();
    this.verified.set(value, v.session);
    return { ok: true, session: v.session };
  }

  private proxyHttp(req: IncomingMessage, res: ServerResponse, route: GatewayRoute, session: Session): void {
    const tracked: Open = { host: route.host, session, sockets: [req.socket] };
    this.open.add(tracked);
    // The app's answer is read as the ingress controller reads it without the login (bare-LF
    // lines, folded headers: Traefik takes them), so an app answers the same at either level.
    const pass = this.passCookie(route, session.expires);
    const up = http.request({ agent: this.agent, host: route.upstream.host, port: route.upstream.port, method: req.method, path: req.url, headers: forwardHeaders(req, route), insecureHTTPParser: true }, (ur) => {
      const headers = sendable(ur.headers);
      const set = headers['set-cookie'];
      if (pass) headers['set-cookie'] = [...(Array.isArray(set) ? set : set === undefined ? [] : [String(set)]), pass];
      res.writeHead(ur.statusCode ?? 502, headers);
      ur.pipe(res);
    });
    const done = () => this.open.delete(tracked);
    res.on('close', done);
    up.on('error', () => {
      done();
      if (!res.headersSent) sendPage(res, 404, { title: 'The app does not answer', detail: 'The exposure has no working backend right now.' });
      else res.destroy();
    });
    // Without Content-Length or Transfer-Encoding a request has no body (RFC 9112 6.3): no pipe to set up.
    if (req.headers['content-length'] === undefined && req.headers['transfer-encoding'] === undefined) up.end();
    else req.pipe(up);
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const host = hostOf(req);
    const route = host ? this.o.routes(host) : undefined;
    const refuse = (code: number, text: string): void => void socket.end(`HTTP/1.1 ${code} ${text}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n`);
    if (!route) return refuse(404, 'Not Found');
    if (!originOk(req, route)) return refuse(403, 'Forbidden');
    const session = await this.sessionFor(req, route);
    if (!session.ok) return refuse(401, 'Unauthorized');
    const up = net.connect(route.upstream.port, route.upstream.host);
    const tracked: Open = { host: route.host, session: session.session, sockets: [socket, up] };
    this.open.add(tracked);
    const done = () => {
      this.open.delete(tracked);
      socket.destroy();
      up.destroy();
    };
    up.on('error', done).on('close', done);
    socket.on('error', done).on('close', done);
    up.on('connect', () => {
      const headers = forwardHeaders(req, route);
      const lines = [`${req.method} ${req.url} HTTP/1.1`, ...Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => `${k}: ${x}`) : v === undefined ? [] : [`${k}: ${v}`]))];
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length) up.write(head);
      socket.pipe(up).pipe(socket);
    });
  }

  /** A pass for this route, valid for the re-check interval (never past the session), as a Set-Cookie value. */
  private passCookie(route: GatewayRoute, sessionExpires: number): string | undefined {
    const key = route.pass ? this.o.passKey?.() : undefined;
    if (!key) return undefined;
    const now = this.now();
    const expiresS = Math.floor(Math.min(now + (this.o.recheckMs ?? 30_000), sessionExpires) / 1000);
    return setCookieHeader(signPass(key, route, expiresS), { tls: route.tls, maxAgeS: expiresS - now / 1000, pass: true });
  }

  private fail(res: ServerResponse, e: unknown): void {
    this.o.log?.(`login gateway: ${(e as Error).message}`);
    if (!res.headersSent) sendPage(res, 403, { title: 'Refused', detail: 'The login could not be checked right now; try again.' });
    else res.destroy();
  }
}

/** The app's headers minus any Node would refuse to write (a control character, read leniently above); as they came when all are fine. */
function sendable(h: IncomingHttpHeaders): OutgoingHttpHeaders {
  const unwritable = (v: string | string[] | undefined) => v !== undefined && (Array.isArray(v) ? v : [v]).some((x) => /[^\t\x20-\x7e\x80-\xff]/.test(x));
  const bad = Object.keys(h).filter((k) => unwritable(h[k]));
  if (!bad.length) return h;
  const out: OutgoingHttpHeaders = { ...h };
  for (const k of bad) delete out[k];
  return out;
}

/** The Host the ingress forwarded, lowercased, without a port. X-Forwarded-Host is never read. */
function hostOf(req: IncomingMessage): string | undefined {
  const h = req.headers.host?.toLowerCase().replace(/:\d+$/, '');
  return h && /^[a-z0-9.-]+$/.test(h) ? h : undefined;
}

/** The host (with a non-default port) to name in the command: the request's own, once it matched the route. */
function shownHost(req: IncomingMessage, route: GatewayRoute): string {
  const h = req.headers.host?.toLowerCase() ?? '';
  return new RegExp(`^${route.host.replace(/\./g, '\\.')}(:\\d{1,5})?$`).test(h) ? h : route.host;
}

/** Sibling exposures under one domain are same-site: an Origin, when sent, must be this very origin (scheme, host, port). */
function originOk(req: IncomingMessage, route: GatewayRoute): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return req.headers.upgrade === undefined; // browsers always send Origin on WebSocket upgrades
  try {
    const o = new URL(origin);
    return o.protocol === (route.tls ? 'https:' : 'http:') && o.host === req.headers.host?.toLowerCase() && o.hostname === route.host;
  } catch {
    return false;
  }
}

/** Only a path on this host: "/x" yes; "//evil", "/\\evil", "https://evil" no. */
export function safeNext(next: string | null): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /[\r\n]/.test(next)) return '/';
  return next;
}

function cookieValue(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

const OWN_COOKIES = [COOKIE_NAME, COOKIE_NAME_INSECURE, PASS_COOKIE, PASS_COOKIE_INSECURE].map((n) => `${n}=`);

/** The request's headers for the app, without envserve's own cookies (the app never sees a session or a pass). */
function forwardHeaders(req: IncomingMessage, route: GatewayRoute): http.OutgoingHttpHeaders {
  const h: http.OutgoingHttpHeaders = { ...req.headers, host: route.host };
  const kept = (req.headers.cookie ?? '')
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p && !OWN_COOKIES.some((n) => p.startsWith(n)));
  if (kept.length) h.cookie = kept.join('; ');
  else delete h.cookie;
  return h;
}
