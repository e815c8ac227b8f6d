// One target from one vantage point: the prober's dispatch. Never throws: every failure is a result.
import { probeViaApiServer } from './apiserver.js';
import { probeThroughForward } from './forward.js';
import { probeHttp, probeTcp } from './local.js';
import { describeTarget, type ProbeContext, type ProbeResult, type ProbeTarget, type Vantage } from './types.js';

export async function probe(target: ProbeTarget, vantage: Vantage, ctx: ProbeContext = {}): Promise<ProbeResult> {
  const timeoutMs = ctx.timeoutMs ?? 2000;
  if (vantage === 'local') {
    if (target.kind === 'tcp') return probeTcp(target.address, target.port, timeoutMs, ctx.signal, target.holdMs);
    if (target.kind === 'http') {
      return probeHttp(target.url, {
        timeoutMs,
        ...(target.hostHeader !== undefined && { hostHeader: target.hostHeader }),
        ...(target.viaProxy !== undefined && { viaProxy: target.viaProxy }),
        ...(target.websocket && { websocket: true }),
        ...(ctx.signal && { signal: ctx.signal }),
      });
    }
    return { ok: false, reason: 'VantageUnavailable', detail: `${describeTarget(target)} is inside the cluster: probe it through the API server` };
  }
  if (vantage === 'apiserver') {
    if (target.kind === 'forward') {
      if (!ctx.portForward) return { ok: false, reason: 'VantageUnavailable', detail: 'no port-forward to probe through' };
      return probeThroughForward(ctx.portForward, target, timeoutMs, ctx.signal);
    }
    if (!ctx.api) return { ok: false, reason: 'VantageUnavailable', detail: 'no Kubernetes API server to probe through' };
    if (target.kind === 'service' || target.kind === 'pod') return probeViaApiServer(ctx.api, target, Math.max(timeoutMs, 3000), ctx.signal);
    return { ok: false, reason: 'VantageUnavailable', detail: `${describeTarget(target)} is probed from this machine, not through the API server` };
  }
  // Inside the cluster this prober runs in check's debug pod (`envserve probe --json`), as 'local'.
  return { ok: false, reason: 'VantageUnavailable', detail: 'probe from inside the cluster with envserve check (its debug pod runs this prober)' };
}
