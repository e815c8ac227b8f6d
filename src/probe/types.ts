// The prober's vocabulary. One prober answers "does this exposure answer?" for every front end
// (`up`/`serve`, `status`, the dashboard, `envserve check`, check's debug pod): a target (what to
// connect to) seen from a vantage point (where the connection starts) gives one result — a reason
// code the engine shows as it is, and what was seen (status, Location, certificate, upgrade, the
// proxy's or the pod's own words), which `check` classifies into its finer reasons.
import type { ReasonCode } from '../reasons.js';
import type { ProxyAnswer, RawHttpAnswer } from './proxy-answer.js';
import type { CertificateSeen } from './tls.js';

/**
 * Where a probe starts:
 *  local     — this machine (plain sockets);
 *  apiserver — through the Kubernetes API server (its service and pod proxy, a one-shot port-forward);
 *  cluster   — inside the cluster: `check`'s debug pod runs this prober there (`envserve probe --json`).
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
  | { kind: 'http'; url: string; hostHeader?: string; viaProxy?: boolean; scope?: TargetScope; /** Also try a WebSocket upgrade. */ websocket?: boolean }
  /** A Service port through the API server's service proxy (HTTP), else its ready endpoints. */
  | { kind: 'service'; namespace: string; name: string; port: number; protocol: 'tcp' | 'http'; path?: string; scope?: TargetScope }
  /** A pod port through the API server's pod proxy (HTTP only). */
  | { kind: 'pod'; namespace: string; name: string; port: number; path?: string; scope?: TargetScope }
  /**
   * A one-shot port-forward to a pod port (through the API server's pods/portforward), probed like
   * a local address and closed. It reaches localhost inside the pod: an app bound to 127.0.0.1 answers.
   */
  | { kind: 'forward'; namespace: string; pod: string; port: number; protocol: 'tcp' | 'http'; path?: string; scope?: TargetScope };

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
  // What was seen, for front ends that say more than the code (`check`):
  /** An HTTP answer's Location header. */
  location?: string;
  /** The first characters of an HTTP answer's body, as one line (≤ 200 chars). */
  excerpt?: string;
  /** HTTPS: the peer certificate's subject and issuer, why it does not cover the name asked for, why it is not trusted (absent: it is). */
  certificate?: CertificateSeen;
  /** The WebSocket upgrade, when asked for: 101, else the status or error it met. */
  websocket?: { ok: boolean; status?: number; error?: SeenError };
  /** Through the API server's proxy: who answered (the app, or the API server for its proxy) and what. */
  proxy?: ProxyAnswer;
  /** The error as raised: a socket error's code and message, or an API request's (and its cause's). */
  error?: SeenError;
  /**
   * A one-shot port-forward: its local address once open (absent: it could not be opened), and
   * what the pod's side said (the kubelet's refusal, the stream's error).
   */
  forward?: { local?: { address: string; port: number }; refused?: string; error?: string };
}

export interface SeenError {
  code?: string;
  message: string;
  /** The underlying error's message (an API request that failed on its socket). */
  cause?: string;
}

/** A one-shot port-forward the `apiserver` vantage opens for a `forward` target (the caller's runtime makes it). */
export interface OpenForward {
  address: string;
  port: number;
  /** The pod's side so far: refusing (and the refusal's words), or the forward's last error. */
  podSide(): { refused?: string; error?: string };
  stop(): Promise<void>;
}

export type ForwardOpener = (t: { namespace: string; pod: string; port: number; timeoutMs: number }) => Promise<OpenForward>;

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
  /** For `forward` targets (apiserver vantage); absent → VantageUnavailable. */
  portForward?: ForwardOpener;
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
    case 'forward':
      return `port-forward to pod ${t.namespace}/${t.pod}:${t.port}`;
  }
}
