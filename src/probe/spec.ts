// `envserve probe --spec`: probes written as flat JSON — how `check` asks its debug pod to probe
// from inside the cluster — turned into this prober's targets, and the one line of results the pod
// prints (and `check` reads back from its log). What is printed is what the prober saw; `check`
// classifies it where it runs, the same way as its probes from this machine.
import { probe } from './vantage.js';
import type { ProbeResult, ProbeTarget } from './types.js';

export interface ProbeSpec {
  /** Names the result (check: "<exposure>/<check id>"). */
  id: string;
  host: string;
  port: number;
  protocol: 'tcp' | 'http';
  path?: string;
  /** The Host header (Ingress rules match on it); also the TLS server name. */
  hostHeader?: string;
  tls?: boolean;
  /** Also try a WebSocket upgrade (HTTP only). */
  websocket?: boolean;
  /** 'ingress': a 404/502/503 comes from the controller, not from the app. */
  via?: 'direct' | 'ingress';
  timeoutMs?: number;
  /** TCP through a port-forward: the connection must stay up this long (targets.ts FORWARD_HOLD_MS). */
  holdMs?: number;
}

/** A result and the spec it answers. */
export type SeenResult = ProbeResult & { id: string };

export const hostPort = (host: string, port: number): string => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

export function targetOfSpec(s: ProbeSpec): ProbeTarget {
  if (s.protocol === 'tcp') return { kind: 'tcp', address: s.host, port: s.port, ...(s.holdMs !== undefined && { holdMs: s.holdMs }) };
  return {
    kind: 'http',
    url: `${s.tls ? 'https' : 'http'}://${hostPort(s.host, s.port)}${s.path ?? '/'}`,
    ...(s.hostHeader !== undefined && { hostHeader: s.hostHeader }),
    ...(s.via === 'ingress' && { viaProxy: true }),
    ...(s.websocket && { websocket: true }),
  };
}

/** One spec probed from where this runs. Never throws. */
export async function probeSpec(s: ProbeSpec, signal?: AbortSignal): Promise<SeenResult> {
  return { id: s.id, ...(await probe(targetOfSpec(s), 'local', { timeoutMs: s.timeoutMs ?? 2000, ...(signal && { signal }) })) };
}

/** How the result line starts (the log may hold other lines). */
export const RESULT_PREFIX = '{"envserveProbe":';

/** The one line `envserve probe --json` prints. */
export function formatProbeLine(results: SeenResult[]): string {
  return `${RESULT_PREFIX}1,"results":${JSON.stringify(results)}}`;
}

/** The results in a pod log, or undefined when the log holds no result line. */
export function parseProbeLog(log: string): SeenResult[] | undefined {
  const line = log.split('\n').reverse().find((l) => l.startsWith(RESULT_PREFIX));
  if (!line) return undefined;
  try {
    const j = JSON.parse(line) as { results?: SeenResult[] };
    return Array.isArray(j.results) ? j.results : undefined;
  } catch {
    return undefined;
  }
}
