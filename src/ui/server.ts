// The dashboard's HTTP server (node:http, 127.0.0.1 only). It serves one page, its script and
// style, a JSON snapshot, a Server-Sent Events stream fed by the environments' status streams
// (the page never polls), and POSTs for the actions. Every request passes access.ts first.
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { isCheckReason, type DashboardOnlyReason } from '../reasons.js';
import type { EnvStatus } from '../status/types.js';
import { checkOrigin, cookieName, cookieValue, newToken, sameSecret, sessionCookie } from './access.js';
import { PAGE_CSS, pageHtml } from './html.js';
import { withLogTails } from './log-tail.js';
import { UI_ACTIONS, type ActionResult, type ClusterInfo, type UiAction, type UiEnvironment, type UiSource } from './types.js';

export interface UiServerOptions {
  source: UiSource;
  /** 0 (default) = a free port. */
  port?: number;
  /** Fixed token (tests); default: a new random one. */
  token?: string;
  title?: string;
  /** Heartbeat comment on idle event streams, so proxies and browsers keep them open. */
  heartbeatMs?: number;
}

export interface UiServer {
  readonly port: number;
  /** Open this once: it carries the token. */
  readonly url: string;
  readonly token: string;
  close(): Promise<void>;
}

const SECURITY_HEADERS = {
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Cache-Control': 'no-store',
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/** The page's script, compiled by tsc (tsconfig.page.json) next to this module in dist/. */
function pageScript(): string {
  const candidates = [new URL('./page/app.js', import.meta.url), new URL('../../dist/ui/page/app.js', import.meta.url)];
  for (const u of candidates) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return readFileSync(p, 'utf8');
  }
  throw new Error('dist/ui/page/app.js is missing: run `npm run build`');
}

/** An environment as the page receives it: its status plus the last lines of each process log. */
export interface EnvView {
  key: string;
  status?: EnvStatus;
  cluster?: ClusterInfo;
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const token = opts.token ?? newToken();
  // The cookie carries a value of its own, so the token itself is never stored by the browser.
  const session = newToken();
  let script: string | undefined; // read on first request: the server can start before a build
  const streams = new Set<http.ServerResponse>();
  const envSubs = new Map<string, () => void>();
  let port = 0;

  const view = (env: UiEnvironment): EnvView => {
    const s = env.status();
    const cluster = env.cluster?.();
    return { key: env.key, ...(s ? { status: withLogTails(s) } : {}), ...(cluster ? { cluster } : {}) };
  };
  const snapshot = () => ({ envs: opts.source.environments().map(view), sentAt: Date.now() });
  const broadcast = (event: string, data: unknown) => {
    const text = `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const res of streams) res.write(text);
  };
  // Follow each environment's status stream; re-follow when the list changes (dashboard).
  const follow = () => {
    const envs = opts.source.environments();
    const keys = new Set(envs.map((e) => e.key));
    for (const [k, off] of envSubs) if (!keys.has(k)) (off(), envSubs.delete(k));
    for (const env of envs) {
      if (envSubs.has(env.key)) continue;
      envSubs.set(env.key, env.subscribe(() => broadcast('env', { ...view(env), sentAt: Date.now() })));
    }
  };
  follow();
  const offList = opts.source.onListChange(() => {
    follow();
    broadcast('snapshot', snapshot());
  });

  const send = (res: http.ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}) => {
    res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), ...extra });
    res.end(body);
  };
  const json = (res: http.ServerResponse, status: number, value: unknown) => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));
  const refuse = (res: http.ServerResponse, reason: DashboardOnlyReason) => json(res, 403, { error: 'forbidden', reason });

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const unsafe = req.method !== 'GET' && req.method !== 'HEAD';
    const bad = checkOrigin(req.headers, port, unsafe);
    if (bad) return refuse(res, bad.reason);

    // The token, once: it becomes the cookie, and the browser is sent to the same URL without it.
    const given = url.searchParams.get('token');
    if (given !== null) {
      if (unsafe || !sameSecret(given, token)) return refuse(res, 'BadToken');
      url.searchParams.delete('token');
      const rest = url.searchParams.toString();
      res.writeHead(303, { ...SECURITY_HEADERS, Location: `${url.pathname}${rest ? `?${rest}` : ''}`, 'Set-Cookie': sessionCookie(port, session), 'Content-Length': 0 });
      return res.end();
    }
    const cookie = cookieValue(req.headers.cookie, cookieName(port));
    if (cookie === undefined) return refuse(res, 'NoToken');
    if (!sameSecret(cookie, session)) return refuse(res, 'BadToken');

    if (!unsafe) {
      switch (url.pathname) {
        case '/':
          return send(res, 200, 'text/html; charset=utf-8', pageHtml(opts.title ?? 'envserve'));
        case '/app.js':
          return send(res, 200, 'text/javascript; charset=utf-8', (script ??= pageScript()));
        case '/app.css':
          return send(res, 200, 'text/css; charset=utf-8', PAGE_CSS);
        case '/api/status':
          return json(res, 200, snapshot());
        case '/api/events':
          res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' });
          res.write(`retry: 1000\nevent: snapshot\ndata: ${JSON.stringify(snapshot())}\n\n`);
          streams.add(res);
          req.on('close', () => streams.delete(res));
          return;
      }
      return json(res, 404, { error: 'not found' });
    }

    // POST /api/envs/<key>/exposures/<id>/<restart|stop|start|check>
    const m = /^\/api\/envs\/([^/]+)\/exposures\/([^/]+)\/([a-z]+)$/.exec(url.pathname);
    if (req.method !== 'POST' || !m) return json(res, 404, { error: 'not found' });
    const [envKey, id, action] = [decodeURIComponent(m[1]!), decodeURIComponent(m[2]!), m[3]!];
    const env = opts.source.environments().find((e) => e.key === envKey);
    if (!env) return json(res, 404, { ok: false, reason: 'NotFound', message: `no environment ${envKey}` });
    if (!env.status()?.exposures.some((e) => e.id === id)) return json(res, 404, { ok: false, reason: 'NotFound', message: `no exposure ${id} in ${envKey}` });
    let result: ActionResult;
    try {
      if (action === 'check') result = await env.check(id);
      else if ((UI_ACTIONS as readonly string[]).includes(action)) result = await env.action(action as UiAction, id);
      else return json(res, 404, { ok: false, reason: 'NotFound', message: `no action ${action}` });
    } catch (e) {
      // An error without a code of the set is a bug (as on the engine's control socket).
      const reason = (e as { reason?: unknown }).reason;
      result = { ok: false, reason: isCheckReason(reason) ? reason : 'Internal', message: (e as Error).message };
    }
    return json(res, 200, result);
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) json(res, 500, { error: 'internal', message: (e as Error).message });
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  });
  port = (server.address() as AddressInfo).port;
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, opts.heartbeatMs ?? 15_000);
  heartbeat.unref();

  return {
    port,
    token,
    url: `http://127.0.0.1:${port}/?token=${token}`,
    close: async () => {
      clearInterval(heartbeat);
      offList();
      for (const off of envSubs.values()) off();
      envSubs.clear();
      for (const res of streams) res.end();
      streams.clear();
      // Requests still running (a check) are cut: the process is stopping.
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}
