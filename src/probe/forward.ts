// A pod port through a one-shot port-forward: opened by the caller's runtime (ctx.portForward; the
// prober itself talks no SPDY), probed like a local address — TCP held, as through any forward, so
// the pod's refusal shows — and closed. The pod's side (the kubelet's "connection refused", the
// stream's error) is returned beside what the local connection saw.
import { probeHttp, probeTcp } from './local.js';
import { FORWARD_HOLD_MS } from './targets.js';
import type { ForwardOpener, OpenForward, ProbeResult, ProbeTarget } from './types.js';

export async function probeThroughForward(open: ForwardOpener, t: Extract<ProbeTarget, { kind: 'forward' }>, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const t0 = performance.now();
  const ms = () => Math.round((performance.now() - t0) * 10) / 10;
  let fwd: OpenForward | undefined;
  try {
    fwd = await open({ namespace: t.namespace, pod: t.pod, port: t.port, timeoutMs });
    const host = fwd.address.includes(':') ? `[${fwd.address}]` : fwd.address;
    const r = t.protocol === 'http'
      ? await probeHttp(`http://${host}:${fwd.port}${t.path ?? '/'}`, { timeoutMs, ...(signal && { signal }) })
      : await probeTcp(fwd.address, fwd.port, timeoutMs, signal, FORWARD_HOLD_MS);
    const side = fwd.podSide();
    const forward = { local: { address: fwd.address, port: fwd.port }, ...(side.refused !== undefined && { refused: side.refused }), ...(side.error !== undefined && { error: side.error }) };
    if (!r.ok && side.refused !== undefined) return { ...r, ok: false, reason: 'ConnectionRefused', detail: side.refused, forward, latencyMs: ms() };
    return { ...r, forward, latencyMs: ms() };
  } catch (e) {
    const message = (e as Error).message;
    const code = (e as { code?: unknown }).code;
    return { ok: false, reason: code === 403 || /forbidden|403/i.test(message) ? 'Forbidden' : 'Unreachable', detail: message, error: { message }, forward: {}, latencyMs: ms() };
  } finally {
    await fwd?.stop();
  }
}
