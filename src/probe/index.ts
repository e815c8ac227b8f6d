// The engine's prober: target × vantage → ProbeResult. The engine (`up`/`serve`) probes through
// here, so `status`, the dashboard's rows and `probeNow` show its results. `envserve check` does not
// call probe(): it has its own probes in src/check/probes.ts (more of each answer: Location, the
// proxy's error text, the certificate, a WebSocket upgrade, its own API-server proxy and one-shot
// port-forward probes) and shares only this folder's TCP probe (local.ts) and the reading of the
// API server's proxy answers (proxy-answer.ts). See types.ts for the vocabulary, targets.ts for
// what an exposure's targets are.
import { probeViaApiServer } from './apiserver.js';
import { probeHttp, probeTcp } from './local.js';
import { describeTarget, type ProbeContext, type ProbeResult, type ProbeTarget, type Vantage, type VantagedTarget } from './types.js';

export * from './types.js';
export { targetsFor, connectAddress, type ObservedExposure, type ObservedAddress } from './targets.js';
export { PROXY_NOT_READY } from './local.js';
export { readProxyAnswer, excerptOf, proxyPath, type ProxyAnswer, type RawHttpAnswer } from './proxy-answer.js';

export async function probe(target: ProbeTarget, vantage: Vantage, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const timeoutMs = ctx.timeoutMs ?? 2000;
  if (vantage === 'local') {
    if (target.kind === 'tcp') return probeTcp(target.address, target.port, timeoutMs, ctx.signal, target.holdMs);
    if (target.kind === 'http') return probeHttp(target.url, { timeoutMs, ...(target.hostHeader !== undefined && { hostHeader: target.hostHeader }), ...(target.viaProxy !== undefined && { viaProxy: target.viaProxy }), ...(ctx.signal && { signal: ctx.signal }) });
    return { ok: false, reason: 'VantageUnavailable', detail: `${describeTarget(target)} is inside the cluster: probe it through the API server` };
  }
  if (vantage === 'apiserver') {
    if (!ctx.api) return { ok: false, reason: 'VantageUnavailable', detail: 'no Kubernetes API server to probe through' };
    if (target.kind === 'service' || target.kind === 'pod') return probeViaApiServer(ctx.api, target, Math.max(timeoutMs, 3000), ctx.signal);
    return { ok: false, reason: 'VantageUnavailable', detail: `${describeTarget(target)} is probed from this machine, not through the API server` };
  }
  return { ok: false, reason: 'VantageUnavailable', detail: 'probing from inside the cluster is not implemented yet' };
}

export interface TargetResult extends VantagedTarget {
  result: ProbeResult;
}

export async function probeAll(list: readonly VantagedTarget[], ctx: ProbeContext = {}): Promise<TargetResult[]> {
  return Promise.all(list.map(async (t) => ({ ...t, result: await probe(t.target, t.vantage, ctx) })));
}

/**
 * One result for an exposure with several targets (a Service: ClusterIP, node ports, LB): it
 * answers when any target answers. With several targets the detail names each one.
 */
export function summarize(results: readonly TargetResult[]): ProbeResult {
  if (results.length === 0) return { ok: false, reason: 'Starting', detail: 'no address to probe yet' };
  const ok = results.find((r) => r.result.ok);
  const first = ok ?? results[0]!;
  const detail =
    results.length === 1
      ? first.result.detail
      : results.map((r) => `${r.target.scope ?? r.target.kind} ${describeTarget(r.target)} ${r.result.ok ? 'answers' : `does not answer${r.result.detail ? ` (${r.result.detail})` : ''}`}`).join('; ');
  return {
    ok: !!ok,
    reason: ok ? 'Ready' : first.result.reason,
    ...(detail !== undefined && { detail }),
    ...(first.result.latencyMs !== undefined && { latencyMs: first.result.latencyMs }),
    ...(first.result.httpStatus !== undefined && { httpStatus: first.result.httpStatus }),
  };
}
