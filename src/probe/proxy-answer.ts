// Who answered a request through the API server's service or pod proxy: the app (any status, any
// bytes — a page, a redirect to a login, its own 503) or the API server itself, which speaks for
// the proxy with a v1 Status object (503 "no endpoints available for service", "error trying to
// reach service: dial tcp …: connect: connection refused", 403 for RBAC, 404 for a missing
// Service). Shared by the engine's prober and `check`, so both draw the line in one place.
import type { IncomingHttpHeaders } from 'node:http';
import type { KubernetesReason, ReasonCode } from '../reasons.js';

/** What KubeClient.requestRaw returns; all this module needs of it. */
export interface RawHttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export type ProxyAnswer =
  /** The app answered: it is reachable, whatever it said. */
  | { by: 'app'; status: number; location?: string; excerpt: string }
  /** The API server answered for its proxy: the app was not reached (or may not be asked). */
  | { by: 'apiserver'; status: number; reason: KubernetesReason; message: string };

const EXCERPT_CHARS = 200;

/** The first characters of a body as one line of text, for people (≤ 200 chars). */
export function excerptOf(body: Buffer): string {
  const text = body.subarray(0, EXCERPT_CHARS * 4).toString('utf8').replace(/[\u0000-\u001f\u007f\ufffd]+/g, ' ').replace(/\s+/g, ' ').trim();
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS - 1)}…` : text;
}

/**
 * The API server's own error is an error status with a JSON v1 Status body; the app's body is
 * never parsed — only an error answer that claims to be JSON is looked at, to see whether it is
 * that Status. (An app that answers with a Kubernetes Status object of its own is taken for the
 * API server: only another API server does that.)
 */
function apiServerStatus(a: RawHttpAnswer): { reason: KubernetesReason; message: string } | undefined {
  if (a.status < 400 || !/^application\/json\b/i.test(String(a.headers['content-type'] ?? ''))) return undefined;
  try {
    const st = JSON.parse(a.body.toString('utf8')) as { kind?: unknown; apiVersion?: unknown; reason?: unknown; message?: unknown };
    if (st?.kind !== 'Status' || st.apiVersion !== 'v1') return undefined;
    return { reason: typeof st.reason === 'string' ? st.reason : String(a.status), message: typeof st.message === 'string' ? st.message : '' };
  } catch {
    return undefined; // cut at the byte limit, or not JSON after all: the app's
  }
}

export function readProxyAnswer(a: RawHttpAnswer): ProxyAnswer {
  const st = apiServerStatus(a);
  if (st) return { by: 'apiserver', status: a.status, ...st };
  const location = a.headers.location;
  return { by: 'app', status: a.status, ...(location && { location }), excerpt: excerptOf(a.body) };
}

/** The path of the API server's proxy to a Service or pod port ("/" unless given); `https`: it speaks TLS to the app. */
export function proxyPath(namespace: string, resource: 'services' | 'pods', name: string, port: number | string, path = '/', https = false): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/${resource}/${https ? 'https:' : ''}${encodeURIComponent(name)}:${port}/proxy${path}`;
}

/**
 * What the API server's words for its proxy's failure say of the app ("error trying to reach
 * service: …"), or undefined when they do not say. Something listens unless it refused: "EOF" is an
 * app that accepted and closed without an answer (an HTTPS-only app sent plain HTTP), "malformed
 * HTTP response" one that answers, and not with HTTP (sshd's banner).
 */
export function proxyFailureOf(message: string): { reason: Extract<ReasonCode, 'ConnectionRefused' | 'ConnectionReset' | 'Timeout' | 'NotHttp'>; words: string } | undefined {
  if (/connection refused/i.test(message)) return { reason: 'ConnectionRefused', words: 'nothing listens on the port' };
  if (/reset by peer/i.test(message)) return { reason: 'ConnectionReset', words: 'the app reset the connection' };
  if (/i\/o timeout|timed out/i.test(message)) return { reason: 'Timeout', words: 'no answer in time' };
  if (/malformed HTTP (response|status)/i.test(message)) return { reason: 'NotHttp', words: 'the app answers, but not with HTTP' };
  if (/\bEOF$/.test(message.trim())) return { reason: 'ConnectionReset', words: 'the app closed the connection without an answer: an HTTPS-only app?' };
  return undefined;
}
