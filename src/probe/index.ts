// The prober — the only one: a target × a vantage point → what it saw (src/probe/types.ts).
// The engine (`up`/`serve`) probes each exposure's targets (targets.ts) through here and shows the
// result's reason code (`status`, the dashboard's rows, `probeNow`); `envserve check` probes
// through here too — from this machine, through the API server's proxy and a one-shot
// port-forward, and inside the cluster, where its debug pod runs `envserve probe --json` (spec.ts;
// busybox.ts when only a busybox image can be pulled) — and classifies what was seen into its own
// reasons (src/check/probes.ts). The engine fills `latencyMs` in its status from the result.
import { probe } from './vantage.js';
import { describeTarget, type ProbeContext, type ProbeResult, type VantagedTarget } from './types.js';

export * from './types.js';
export { targetsFor, connectAddress, type ObservedExposure, type ObservedAddress } from './targets.js';
export { PROXY_NOT_READY } from './local.js';
export { readProxyAnswer, excerptOf, proxyPath, proxyFailureOf, type ProxyAnswer, type RawHttpAnswer } from './proxy-answer.js';
export { probe };
export { probeSpec, targetOfSpec, formatProbeLine, parseProbeLog, RESULT_PREFIX, type ProbeSpec, type SeenResult } from './spec.js';
export { busyboxScript, parseBusyboxLog, BUSYBOX_LIMITS } from './busybox.js';

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
  // Else the first failure that was probed: one that could not be (VantageUnavailable) does not hide another's reason.
  const first = ok ?? results.find((r) => r.result.reason !== 'VantageUnavailable') ?? results[0]!;
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
