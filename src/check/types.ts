// What `envserve check` reports. Plain data: `-o json` prints it as it is, for the dashboard and
// the operator to reuse. Imports only the reason codes and the plan's types.
import type { ExposureKind, Protocol } from '../plan/types.js';
import type { CheckReason } from '../reasons.js';

/**
 * pass: fine. fail: this is why the exposure does not answer. warn: suspicious, but it may work.
 * info: worth knowing, not a problem (an upgrade an app without WebSockets refuses, which probe ran).
 * skipped: could not be looked at (no permission, not reachable from here, not applicable).
 */
export type CheckStatus = 'pass' | 'fail' | 'warn' | 'info' | 'skipped';

/** Where a check was made from: the API objects, this machine, the API server's proxy, a debug pod. */
export type Vantage = 'static' | 'local' | 'apiserver' | 'cluster';

export interface Check {
  /** Stable within an exposure: "service.selector", "probe.local.ingress", ... */
  id: string;
  /** The exposure's id (the plan's, or "target" for --target). */
  exposure: string;
  title: string;
  status: CheckStatus;
  reason: CheckReason;
  message: string;
  /** What to do, in one line. */
  fix?: string;
  vantage: Vantage;
  latencyMs?: number;
}

export type Verdict = 'answers' | 'answers, login required' | 'problem' | 'not checked';

export interface ExposureVerdict {
  exposure: string;
  kind: ExposureKind | 'workload';
  protocol: Protocol;
  verdict: Verdict;
  /** The first failing check: the one to fix first. */
  cause?: Check;
}

export interface CheckReport {
  apiVersion: 'envserve/v1';
  kind: 'CheckReport';
  envName?: string;
  runtime: 'local' | 'docker' | 'k8s';
  namespace?: string;
  /** Every exposure answers (skipped checks and "login required" included). */
  ok: boolean;
  exposures: ExposureVerdict[];
  checks: Check[];
  durationMs: number;
}
