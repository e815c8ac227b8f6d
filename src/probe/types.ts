// The prober's vocabulary. One prober answers "does this exposure answer?" for every front end
// (`up`/`serve`, `status`, the dashboard, `envserve check`): a target (what to connect to) seen
// from a vantage point (where the connection starts) gives one result with a reason code.
import type { ReasonCode } from '../reasons.js';
import type { RawHttpAnswer } from './proxy-answer.js';

/**
 * Where a probe starts:
 *  local     — this machine (plain sockets);
 *  apiserver — through the Kubernetes API server (its service and pod proxy);
 *  cluster   — inside the cluster (a probe pod; reserved, not implemented yet).
 */
export type Vantage = 'local' | 'apiserver' | 'cluster';

/** Which address of an exposure a target is, for people ("node 10.0.0.5:30090 answers"). */
export type TargetScope = 'listener' | 'backend' | 'cluster' | 'node' | 'load-balancer' | 'ingress' | 'pod';

export type ProbeTarget =
  /**
   * A TCP connection is accepted — and, with `holdMs`, not closed or reset within that time (a
   * port-forward's listener accepts at once; the pod's port may still refuse, and the forward then
   * resets the connection). Bytes from the other side end the wait early: it answered.
   */
  | { kind: 'tcp'; address: string; port: number; scope?: TargetScope; holdMs?: number }
  /**
   * One HTTP(S) request; any HTTP answer counts — Jupyter answers 302 to its login page — unless
   * `viaProxy`, where 404/502/503/504 mean the proxy (an Ingress controller) has no route or backend.
   * `hostHeader` also sets the TLS server name for https.
   */
  | { kind: 'http'; url: string; hostHeader?: string; viaProxy?: boolean; scope?: TargetScope }
  /** A Service port through the API server's service proxy (HTTP), else its ready endpoints. */
  | { kind: 'service'; namespace: string; name: string; port: number; protocol: 'tcp' | 'http'; scope?: TargetScope }
  /** A pod port through the API server's pod proxy (HTTP only). */
  | { kind: 'pod'; namespace: string; name: string; port: number; scope?: TargetScope };

/** A target and where to probe it from: what `targetsFor` lists for one exposure. */
export interface VantagedTarget {
  target: ProbeTarget;
  vantage: Vantage;
}

export interface ProbeResult {
  ok: boolean;
  /** `Ready` when ok; otherwise why not (ConnectionRefused, Timeout, NoEndpoints, ...). */
  reason: ReasonCode;
  /** For people: the HTTP status line, the error, "2 ready endpoints". */
  detail?: string;
  latencyMs?: number;
  httpStatus?: number;
}

/**
 * What the `apiserver` vantage needs (KubeClient fits): JSON requests of API objects, and raw ones
 * for the service and pod proxies, whose answer is the app's and is never parsed.
 */
export interface ApiRequester {
  request<T = unknown>(path: string, o?: { query?: Record<string, string | number | boolean | undefined>; timeoutMs?: number }): Promise<T>;
  requestRaw(path: string, o?: { timeoutMs?: number; maxBytes?: number; signal?: AbortSignal }): Promise<RawHttpAnswer>;
}

export interface ProbeContext {
  /** For the apiserver vantage; absent → VantageUnavailable. */
  api?: ApiRequester;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** "tcp 127.0.0.1:8888", "http http://x/ (Host: a.example)", "service ns/name:80". */
export function describeTarget(t: ProbeTarget): string {
  switch (t.kind) {
    case 'tcp':
      return `${t.address.includes(':') ? `[${t.address}]` : t.address}:${t.port}`;
    case 'http':
      return `${t.url}${t.hostHeader ? ` (Host: ${t.hostHeader})` : ''}`;
    case 'service':
      return `service ${t.namespace}/${t.name}:${t.port}`;
    case 'pod':
      return `pod ${t.namespace}/${t.name}:${t.port}`;
  }
}
