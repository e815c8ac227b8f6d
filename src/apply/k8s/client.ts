// envserve's client of the API server: kubeconfig is read by our own loader (kubeconfig/load.ts:
// KUBECONFIG lists, --context, in-cluster) and credentials come from kubeconfig/credentials.ts.
// Requests go through this small JSON client on a keep-alive agent: server-side apply, watches and
// port-forward WebSockets need the raw content types and streaming, and one agent keeps the TLS
// connection to the API server warm (the `serve` -> every URL answers budget is 2 s).
import https from 'node:https';
import http from 'node:http';
import { Dialer } from './dial.js';
import { loadConfig, type ResolvedConfig } from './kubeconfig/load.js';
import { Credentials, type ConnectionSettings } from './kubeconfig/credentials.js';
import type { ExecOptions } from './kubeconfig/exec.js';
import { RuntimeFailure, UserError } from '../../errors.js';
import type { KubernetesReason } from '../../reasons.js';

export type { ConnectionSettings } from './kubeconfig/credentials.js';

export interface ConnectOptions {
  /** Path(s) of kubeconfig files (default: $KUBECONFIG, then ~/.kube/config, then in-cluster). */
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/** A non-2xx answer of the API server, with its Status object's reason. */
export class KubeApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: KubernetesReason,
    message: string,
    readonly method: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'KubeApiError';
  }
}

/** The API server could not be reached at all (refused, DNS, TLS, timeout). */
export class KubeUnreachableError extends Error {
  constructor(readonly server: string, override readonly cause: Error) {
    super(`cannot reach the Kubernetes API server at ${server}: ${cause.message}`);
    this.name = 'KubeUnreachableError';
  }
}

export interface RequestOptions {
  method?: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  timeoutMs?: number;
  /** The Accept header (default application/json). */
  accept?: string;
}

/** A request whose answer is kept as bytes, whatever its status or content type. */
export interface RawRequestOptions extends RequestOptions {
  /** Bytes of the body to keep; the rest is not read (default 64 KiB). Accept defaults to any type. */
  maxBytes?: number;
  signal?: AbortSignal;
}

/** Any HTTP answer, as it came: never parsed. `truncated` when the body was longer than maxBytes. */
export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  truncated: boolean;
}

export interface WatchEvent<T = any> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

/** insecure-skip-tls-verify is warned about once per process, not per client. */
let warnedInsecure = false;

export class KubeClient {
  readonly server: string;
  /** Every connection to the API server is dialled here (proxy-url, HTTPS_PROXY/NO_PROXY). */
  readonly dialer: Dialer;
  /** Keep-alive connections to the API server, dialled by `dialer`. */
  readonly agent: http.Agent;
  private readonly secure: boolean;
  readonly credentials: Credentials;
  readonly namespace: string;
  /** Where the configuration came from, for messages ("KUBECONFIG=...", "in-cluster service account"). */
  readonly source: string;
  readonly contextName: string;
  /** The kubeconfig file(s) read, absolute and ':'-joined; undefined for in-cluster. Recorded in the state record (a path, never credentials). */
  readonly kubeconfigPath?: string;

  constructor(readonly config: ResolvedConfig, execOptions?: ExecOptions) {
    const { cluster, source } = config;
    this.namespace = config.namespace;
    this.source = source;
    this.contextName = config.contextName;
    if (config.paths.length) this.kubeconfigPath = config.paths.join(':');
    this.server = cluster.server;
    this.secure = this.server.startsWith('https://');
    try {
      this.dialer = new Dialer(new URL(this.server), cluster.proxyUrl);
    } catch (e) {
      throw new UserError(`the kubeconfig (${source}), cluster "${cluster.name}": ${(e as Error).message}`);
    }
    this.credentials = new Credentials(config, execOptions);
    this.agent = this.dialer.agent();
    if (cluster.insecureSkipTlsVerify && this.secure && !warnedInsecure) {
      warnedInsecure = true;
      process.stderr.write(`warning: the kubeconfig sets insecure-skip-tls-verify for cluster "${cluster.name}": the API server's certificate is not checked\n`);
    }
  }

  /** TLS material and auth headers for the next connection or request. */
  settings(): Promise<ConnectionSettings> {
    return this.credentials.settings();
  }

  url(path: string, query?: RequestOptions['query']): URL {
    const u = new URL(this.server + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  private async open(path: string, o: RequestOptions & { signal?: AbortSignal }): Promise<http.IncomingMessage> {
    const s = await this.settings();
    const u = this.url(path, o.query);
    const body = o.body === undefined ? undefined : Buffer.from(typeof o.body === 'string' ? o.body : JSON.stringify(o.body));
    const headers: http.OutgoingHttpHeaders = { ...s.headers, accept: o.accept ?? 'application/json' };
    if (body) {
      headers['content-type'] = o.contentType ?? 'application/json';
      headers['content-length'] = body.length;
    }
    const method = o.method ?? 'GET';
    return new Promise((resolve, reject) => {
      const req = (this.secure ? https : http).request(
        u,
        { method, headers, agent: this.agent, ca: s.ca, cert: s.cert, key: s.key, rejectUnauthorized: s.rejectUnauthorized, servername: s.servername },
        resolve,
      );
      req.setTimeout(o.timeoutMs ?? 15_000, () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? 15_000} ms`)));
      req.on('error', (e) => reject(new KubeUnreachableError(this.server, e)));
      if (o.signal) {
        const abort = () => req.destroy(o.signal!.reason instanceof Error ? o.signal!.reason : new Error('aborted'));
        if (o.signal.aborted) abort();
        else o.signal.addEventListener('abort', abort, { once: true });
        req.on('close', () => o.signal!.removeEventListener('abort', abort));
      }
      req.end(body);
    });
  }

  /** One JSON request; throws KubeApiError for a non-2xx answer, KubeUnreachableError if no answer. */
  async request<T = any>(path: string, o: RequestOptions = {}): Promise<T> {
    let res = await this.open(path, o);
    if (res.statusCode === 401 && this.credentials.refreshable) {
      // A plugin's credential or an id-token the server no longer takes: one try with fresh ones.
      res.resume();
      this.credentials.unauthorized();
      res = await this.open(path, o);
    }
    const chunks: Buffer[] = [];
    for await (const c of res) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return (text ? JSON.parse(text) : undefined) as T;
    throw apiError(status, text, o.method ?? 'GET', path);
  }

  /**
   * One request whose answer is returned as it came — status, headers and the first `maxBytes` of
   * the body — for any status; for the API server's proxies, where the body is the app's and may
   * be anything. Throws KubeUnreachableError only when no answer came (refused, TLS, timeout,
   * aborted). `timeoutMs` bounds the whole exchange: a body still arriving then is cut there.
   */
  async requestRaw(path: string, o: RawRequestOptions = {}): Promise<RawAnswer> {
    const timeoutMs = o.timeoutMs ?? 15_000;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    const onAbort = () => ac.abort(o.signal!.reason);
    if (o.signal?.aborted) onAbort();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
    const max = o.maxBytes ?? 64 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    try {
      const res = await this.open(path, { accept: '*/*', ...o, timeoutMs, signal: ac.signal });
      const stop = () => res.destroy();
      ac.signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const c of res) {
          const b = c as Buffer;
          if (b.length > max - size) {
            chunks.push(b.subarray(0, max - size));
            size = max;
            truncated = true;
            break; // destroys the response: the rest is never read
          }
          chunks.push(b);
          size += b.length;
        }
      } catch {
        truncated = true; // cut by the deadline, an abort or a reset: the status line already answered
      } finally {
        ac.signal.removeEventListener('abort', stop);
      }
      return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks, size), truncated: truncated || !res.complete };
    } finally {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Streams watch events until the server ends the watch or `signal` aborts. Resolves when the
   * stream ends; throws KubeApiError (e.g. 410 Gone: list again) or KubeUnreachableError.
   */
  async watch(path: string, query: RequestOptions['query'], onEvent: (e: WatchEvent) => void, signal: AbortSignal): Promise<void> {
    const res = await this.open(path, { query: { ...query, watch: 1, allowWatchBookmarks: true }, timeoutMs: 0 });
    if ((res.statusCode ?? 0) >= 300) {
      if (res.statusCode === 401) this.credentials.unauthorized(); // the caller's retry gets fresh ones
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw apiError(res.statusCode ?? 0, Buffer.concat(chunks).toString(), 'WATCH', path);
    }
    const abort = () => res.destroy();
    signal.addEventListener('abort', abort, { once: true });
    let rest = '';
    try {
      for await (const chunk of res) {
        rest += (chunk as Buffer).toString('utf8');
        let nl: number;
        while ((nl = rest.indexOf('\n')) >= 0) {
          const line = rest.slice(0, nl).trim();
          rest = rest.slice(nl + 1);
          if (!line) continue;
          const ev = JSON.parse(line) as WatchEvent;
          if (ev.type === 'ERROR') {
            const st = ev.object ?? {};
            throw new KubeApiError(st.code ?? 500, st.reason ?? 'Error', st.message ?? 'watch error', 'WATCH', path);
          }
          onEvent(ev);
        }
      }
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof KubeApiError) throw e;
      throw new KubeUnreachableError(this.server, e as Error);
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

function apiError(status: number, text: string, method: string, path: string): KubeApiError {
  let reason = String(status);
  let message = text.trim().slice(0, 500) || `HTTP ${status}`;
  try {
    const st = JSON.parse(text);
    if (st?.kind === 'Status') {
      reason = st.reason ?? reason;
      message = st.message ?? message;
    }
  } catch {
    // not JSON: keep the text
  }
  return new KubeApiError(status, reason, message, method, path);
}

export function isNotFound(e: unknown): boolean {
  return e instanceof KubeApiError && e.code === 404;
}

/** Reads kubeconfig the way kubectl does and picks the context and namespace. */
export function loadKubeClient(opts: ConnectOptions = {}): KubeClient {
  return new KubeClient(loadConfig(opts));
}

/** Turns a failure of the cluster connection into the error the user should read. */
export function explainKubeError(e: unknown, what: string): Error {
  if (e instanceof KubeUnreachableError) {
    return new RuntimeFailure(`${what}: ${e.message}`, 'is the cluster running, and is this the right context? (kubectl cluster-info)', 'ClusterUnreachable');
  }
  if (e instanceof KubeApiError) {
    if (e.code === 401) return new UserError(`${what}: the API server rejected the credentials (401 Unauthorized)`, 'refresh the credentials in your kubeconfig', 'Forbidden');
    if (e.code === 403) return new UserError(`${what}: forbidden: ${e.message}`, undefined, 'Forbidden');
    return new RuntimeFailure(`${what}: ${e.message} (${e.code} ${e.reason})`, undefined, 'ApplyFailed');
  }
  return e as Error;
}
