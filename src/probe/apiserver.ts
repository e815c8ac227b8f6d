// Probes through the Kubernetes API server: its service and pod proxy for HTTP, and a Service's
// ready endpoints where the proxy is not allowed (or the port is not HTTP). The proxy's answer
// (the app's, or the API server's own Status) and a failed request's error ride along.
import type { ReasonCode } from '../reasons.js';
import { PLAIN_TO_HTTPS } from './local.js';
import { proxyFailureOf, proxyPath, readProxyAnswer, type ProxyAnswer } from './proxy-answer.js';
import type { ApiRequester, ProbeResult, ProbeTarget } from './types.js';

/** An API error's HTTP status (KubeApiError.code), or undefined for "no answer at all". */
function statusOf(e: unknown): number | undefined {
  const c = (e as { code?: unknown }).code;
  return typeof c === 'number' ? c : undefined;
}

const NO_ENDPOINTS = 'no ready endpoints: no Ready pod matches the selector';

export async function probeViaApiServer(api: ApiRequester, t: Extract<ProbeTarget, { kind: 'service' | 'pod' }>, timeoutMs = 3000, signal?: AbortSignal): Promise<ProbeResult> {
  const t0 = performance.now();
  const timed = (r: ProbeResult): ProbeResult => ({ ...r, latencyMs: Math.round((performance.now() - t0) * 10) / 10 });
  const http = t.kind === 'pod' || t.protocol === 'http';
  if (http) {
    let answer: ProxyAnswer;
    try {
      // The default bound (64 KiB) reads most pages to the end, so the API server connection stays
      // open for the next probe; a longer one is cut there, and that connection closed.
      answer = readProxyAnswer(await api.requestRaw(proxyPath(t.namespace, t.kind === 'pod' ? 'pods' : 'services', t.name, t.port, t.path), { timeoutMs, ...(signal && { signal }) }));
    } catch (e) {
      const msg = (e as Error).message;
      const cause = (e as { cause?: Error }).cause?.message;
      const error = { message: msg, ...(cause !== undefined && { cause }) };
      // No answer in time: from the API server, or from the app behind its proxy (one that
      // accepts and never answers)? The API server answers /version at once if it is there.
      if (/no answer within/.test(msg) && (await api.request('/version', { timeoutMs }).then(() => true, () => false))) {
        return timed({ ok: false, reason: 'Timeout', detail: `no answer through the API server's ${t.kind} proxy within ${timeoutMs} ms: the API server answers, the app does not`, error });
      }
      return timed({ ok: false, reason: 'ClusterUnreachable', detail: msg, error });
    }
    const seen = { httpStatus: answer.status, proxy: answer };
    const timedSeen = (r: ProbeResult) => timed({ ...seen, ...r });
    // An HTTPS-only app meets the proxy's plain HTTP with a 400 naming HTTPS (Go, nginx) or a closed
    // connection (EOF: Node, Python, Tornado). Asked to speak TLS to it, the proxy then gets its answer.
    const plainToTls = answer.by === 'app' ? answer.status === 400 && PLAIN_TO_HTTPS.test(answer.excerpt) : /\bEOF$/.test(answer.message.trim());
    if (plainToTls && (await speaksTlsBehind(api, t, timeoutMs, signal))) {
      return timedSeen({ ok: false, reason: 'NotHttp', detail: `it speaks TLS, not plain HTTP: the app serves HTTPS on port ${t.port} (through the API server: HTTP ${answer.status}${answer.by === 'apiserver' ? `: ${answer.message}` : ''})` });
    }
    // Any answer of the app counts, whatever it says: a page, a 302 to a login, its own 503.
    if (answer.by === 'app') return timedSeen({ ok: true, reason: 'Ready', detail: `answers through the API server proxy (HTTP ${answer.status})`, ...(answer.location !== undefined && { location: answer.location }), excerpt: answer.excerpt });
    const said = `HTTP ${answer.status}${answer.message ? `: ${answer.message}` : ''}`;
    // The API server's words for what its dial or read met ("connect: connection refused", "read: connection reset by peer", "EOF").
    const failure = proxyFailureOf(answer.message);
    const failed: ReasonCode = failure?.reason ?? 'ConnectionRefused';
    const words = failure && failure.reason !== 'ConnectionRefused' ? ` (${failure.words})` : '';
    if (t.kind === 'pod') return timedSeen({ ok: false, reason: answer.status === 403 ? 'Forbidden' : failed, detail: `through the API server's pod proxy: ${said}${words}` });
    if (answer.status !== 403) {
      // 503 "no endpoints available" or a backend that refuses: say which from the endpoints.
      const ep = await readyEndpoints(api, t.namespace, t.name).catch(() => undefined);
      if (ep === 0) return timedSeen({ ok: false, reason: 'NoEndpoints', detail: NO_ENDPOINTS });
      return timedSeen({ ok: false, reason: failed, detail: `through the API server's service proxy: ${said}${words}` });
    }
    // Forbidden to use the proxy: the endpoints below say whether anything could answer.
    return { ...(await endpointsResult(api, t, timed)), proxy: answer };
  }
  return endpointsResult(api, t, timed);
}

/** Whether the app answers the API server's proxy over TLS (https:NAME:PORT; the proxy does not verify its certificate). */
async function speaksTlsBehind(api: ApiRequester, t: Extract<ProbeTarget, { kind: 'service' | 'pod' }>, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
  try {
    const a = readProxyAnswer(await api.requestRaw(proxyPath(t.namespace, t.kind === 'pod' ? 'pods' : 'services', t.name, t.port, t.path, true), { timeoutMs, ...(signal && { signal }) }));
    return a.by === 'app';
  } catch {
    return false;
  }
}

async function endpointsResult(api: ApiRequester, t: Extract<ProbeTarget, { kind: 'service' | 'pod' }>, timed: (r: ProbeResult) => ProbeResult): Promise<ProbeResult> {
  try {
    const n = await readyEndpoints(api, t.namespace, t.name);
    return timed(n > 0 ? { ok: true, reason: 'Ready', detail: `${n} ready endpoint${n === 1 ? '' : 's'}` } : { ok: false, reason: 'NoEndpoints', detail: NO_ENDPOINTS });
  } catch (e) {
    const code = statusOf(e);
    const reason: ReasonCode = code === 403 || code === 404 ? 'Forbidden' : code === undefined ? 'ClusterUnreachable' : 'Unreachable';
    if (reason === 'Forbidden') return timed({ ok: false, reason: 'VantageUnavailable', detail: 'cannot check from outside the cluster (no permission for services/proxy or endpointslices)' });
    return timed({ ok: false, reason, detail: (e as Error).message });
  }
}

async function readyEndpoints(api: ApiRequester, namespace: string, service: string): Promise<number> {
  const res = await api.request<{ items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }>(
    `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/endpointslices`,
    { query: { labelSelector: `kubernetes.io/service-name=${service}` } },
  );
  return res.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
}
