// The control channel of a running `up`/`serve`: HTTP/1.1 over a unix socket in the state
// directory (<envId>.sock, mode 0600, so only this user can connect; no token needed beyond that).
// `status`, `down` and the dashboard use it, and fall back to the state record when it is gone.
//
//   GET  /v1/status                       → 200 EnvStatus (JSON)
//   GET  /v1/events                       → 200 application/x-ndjson, one event per line, until the
//                                           environment stops: {"type":"status","status":EnvStatus}
//                                           (the current one first), {"type":"reload",...},
//                                           {"type":"log","line":...}, {"type":"stopped"}
//   POST /v1/exposures/<id>/restart       → 200 EnvStatus   (also /stop and /start)
//   POST /v1/probe[?id=<exposure id>]     → 200 EnvStatus after probing now
//   POST /v1/stop                         → 202 {"stopping":true}; the process then stops everything
// Errors: {"error": message, "reason": ReasonCode} with 404 (NotFound), 409 (NotRunning), 400, 500.
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { dirname } from 'node:path';
import { isReasonCode, type ReasonCode } from '../reasons.js';
import type { EnvStatus } from '../status/types.js';
import type { EnvController, ReloadEvent } from './controller.js';

export type ControlEvent =
  | { type: 'status'; status: EnvStatus }
  | { type: 'reload'; ok: boolean; added?: string[]; changed?: string[]; removed?: string[]; unchanged?: string[]; notes?: string[]; error?: string }
  | { type: 'log'; line: string }
  | { type: 'stopping' }
  | { type: 'stopped' };

function reloadEvent(r: ReloadEvent): ControlEvent {
  if (!r.ok) return { type: 'reload', ok: false, error: r.error.message };
  return { type: 'reload', ok: true, added: r.added, changed: r.changed, removed: r.removed, unchanged: r.unchanged, notes: r.notes };
}

const HTTP_FOR: Partial<Record<ReasonCode, number>> = { NotFound: 404, NotRunning: 409, InvalidInput: 400 };

export class ControlServer {
  private readonly streams = new Set<http.ServerResponse>();
  private readonly unsubscribe: (() => void)[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly path: string,
  ) {}

  /** Serves `controller` on a unix socket at `path` (replacing a stale socket file). */
  static async listen(controller: EnvController, path: string): Promise<ControlServer> {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (await isAnswering(path)) throw new Error(`another envserve answers on ${path}`);
    rmSync(path, { force: true });
    let self: ControlServer | undefined;
    const server = http.createServer((req, res) => void self!.handle(controller, req, res));
    self = new ControlServer(server, path);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => resolve());
    });
    chmodSync(path, 0o600);
    const send = (ev: ControlEvent) => {
      const line = `${JSON.stringify(ev)}\n`;
      for (const s of self!.streams) s.write(line);
    };
    self.unsubscribe.push(
      controller.on('status', (status) => send({ type: 'status', status })),
      controller.on('reload', (r) => send(reloadEvent(r))),
      controller.on('log', (line) => send({ type: 'log', line })),
      controller.on('stopping', () => send({ type: 'stopping' })),
    );
    return self;
  }

  private async handle(c: EnvController, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://envserve');
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(body)}\n`);
    };
    try {
      if (req.method === 'GET' && url.pathname === '/v1/status') return json(200, c.status());
      if (req.method === 'GET' && url.pathname === '/v1/events') {
        res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' });
        res.write(`${JSON.stringify({ type: 'status', status: c.status() } satisfies ControlEvent)}\n`);
        this.streams.add(res);
        res.on('close', () => this.streams.delete(res));
        return;
      }
      if (req.method !== 'POST') return json(405, { error: `${req.method} ${url.pathname} is not supported`, reason: 'InvalidInput' });
      const m = url.pathname.match(/^\/v1\/exposures\/([^/]+)\/(restart|stop|start)$/);
      if (m) {
        const id = decodeURIComponent(m[1]!);
        const s = m[2] === 'restart' ? await c.restartExposure(id) : m[2] === 'stop' ? await c.stopExposure(id) : await c.startExposure(id);
        return json(200, s);
      }
      if (url.pathname === '/v1/probe') return json(200, await c.probeNow(url.searchParams.get('id') ?? undefined));
      if (url.pathname === '/v1/stop') {
        json(202, { stopping: true });
        c.stop();
        return;
      }
      return json(404, { error: `no such endpoint: ${url.pathname}`, reason: 'NotFound' });
    } catch (e) {
      const reason = (e as { reason?: unknown }).reason;
      const code: ReasonCode = isReasonCode(reason) ? reason : 'Internal';
      return json(HTTP_FOR[code] ?? 500, { error: (e as Error).message, reason: code });
    }
  }

  /** Ends every event stream (with a final `stopped`) and removes the socket. */
  async close(): Promise<void> {
    for (const u of this.unsubscribe) u();
    for (const s of this.streams) s.end(`${JSON.stringify({ type: 'stopped' } satisfies ControlEvent)}\n`);
    this.streams.clear();
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    await closed;
    rmSync(this.path, { force: true });
  }
}

/** Whether something accepts connections on the socket. */
export function isAnswering(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const done = (v: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    s.on('connect', () => done(true));
    s.on('error', () => done(false));
  });
}

export class ControlError extends Error {
  constructor(message: string, readonly reason: ReasonCode, readonly httpStatus: number) {
    super(message);
    this.name = 'ControlError';
  }
}

/** A client of a running envserve's control socket. */
export class ControlClient {
  constructor(readonly path: string, private readonly timeoutMs = 5000) {}

  private request<T>(method: string, path: string, timeoutMs = this.timeoutMs): Promise<T> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.path, method, path, agent: false, headers: { connection: 'close' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(body);
          } catch {
            return reject(new ControlError(`the control socket answered ${res.statusCode} with no JSON`, 'Internal', res.statusCode ?? 0));
          }
          if ((res.statusCode ?? 500) >= 300) {
            const p = parsed as { error?: string; reason?: unknown };
            return reject(new ControlError(p.error ?? `HTTP ${res.statusCode}`, isReasonCode(p.reason) ? p.reason : 'Internal', res.statusCode ?? 0));
          }
          resolve(parsed as T);
        });
      });
      req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error(`no answer on ${this.path} within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })));
      req.on('error', reject);
      req.end();
    });
  }

  status(): Promise<EnvStatus> {
    return this.request('GET', '/v1/status');
  }

  restartExposure(id: string): Promise<EnvStatus> {
    return this.request('POST', `/v1/exposures/${encodeURIComponent(id)}/restart`, 120_000);
  }

  stopExposure(id: string): Promise<EnvStatus> {
    return this.request('POST', `/v1/exposures/${encodeURIComponent(id)}/stop`, 120_000);
  }

  startExposure(id: string): Promise<EnvStatus> {
    return this.request('POST', `/v1/exposures/${encodeURIComponent(id)}/start`, 120_000);
  }

  probeNow(id?: string): Promise<EnvStatus> {
    return this.request('POST', `/v1/probe${id !== undefined ? `?id=${encodeURIComponent(id)}` : ''}`, 30_000);
  }

  stop(): Promise<{ stopping: boolean }> {
    return this.request('POST', '/v1/stop');
  }

  /** Calls `onEvent` for each event until the stream ends (the environment stopped) or `signal` aborts. */
  events(onEvent: (ev: ControlEvent) => void, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = http.request({ socketPath: this.path, method: 'GET', path: '/v1/events', agent: false }, (res) => {
        let rest = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          rest += d;
          let nl: number;
          while ((nl = rest.indexOf('\n')) >= 0) {
            const line = rest.slice(0, nl);
            rest = rest.slice(nl + 1);
            if (line.trim()) onEvent(JSON.parse(line) as ControlEvent);
          }
        });
        res.on('end', () => resolve());
        res.on('error', () => resolve());
      });
      req.on('error', (e) => (signal?.aborted ? resolve() : reject(e)));
      signal?.addEventListener('abort', () => req.destroy(), { once: true });
      req.end();
    });
  }
}
