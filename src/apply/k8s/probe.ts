// Answers from this machine: a TCP connect, or one HTTP request (any HTTP answer means the
// backend was reached, unless a proxy in between says it has no route or no backend).
import http from 'node:http';
import net from 'node:net';

export interface ProbeResult {
  answering: boolean;
  /** HTTP status, when the probe was HTTP and got an answer. */
  status?: number;
  message?: string;
}

export function probeTcp(host: string, port: number, timeoutMs = 2000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (r: ProbeResult) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(timeoutMs, () => done({ answering: false, message: `no answer from ${host}:${port} within ${timeoutMs} ms` }));
    sock.on('connect', () => done({ answering: true }));
    sock.on('error', (e) => done({ answering: false, message: `${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
  });
}

/** Statuses by which a proxy (Ingress controller, API server proxy) says the route is not there yet. */
export const PROXY_NOT_READY = new Set([404, 502, 503, 504]);

export function probeHttp(host: string, port: number, o: { path?: string; hostHeader?: string; timeoutMs?: number; viaProxy?: boolean } = {}): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { connection: 'close', 'user-agent': 'envserve-probe' };
    if (o.hostHeader) headers.host = o.hostHeader;
    const req = http.request({ host, port, path: o.path ?? '/', method: 'GET', headers, agent: false }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      const ok = !(o.viaProxy && PROXY_NOT_READY.has(status));
      resolve({ answering: ok, status, ...(!ok && { message: `${host}:${port}${o.path ?? '/'} answered ${status}` }) });
    });
    req.setTimeout(o.timeoutMs ?? 2000, () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? 2000} ms`)));
    req.on('error', (e) => resolve({ answering: false, message: `${host}:${port}: ${(e as NodeJS.ErrnoException).code ?? e.message}` }));
    req.end();
  });
}
