// `check` for one exposure on the dashboard: the report of `envserve check` (src/check/, the same
// data `check -o json` prints), narrowed to that exposure and shown inline.
import type { CheckReason } from '../reasons.js';
import type { ActionResult } from './types.js';

/** What the dashboard reads of a CheckReport (src/check/types.ts). */
export interface CheckReportLike {
  ok: boolean;
  exposures: { exposure: string; verdict: string; cause?: { reason: CheckReason; message: string; fix?: string } }[];
  checks: { id: string; exposure: string; title: string; status: string; reason: CheckReason; message: string; fix?: string; vantage: string; latencyMs?: number }[];
}

export function checkResultFor(report: CheckReportLike, exposureId: string): ActionResult {
  const v = report.exposures.find((x) => x.exposure === exposureId);
  if (!v) return { ok: false, reason: 'NotFound', message: `check reported nothing about ${exposureId}` };
  const checks = report.checks.filter((c) => c.exposure === exposureId);
  const ok = v.verdict === 'answers' || v.verdict === 'answers, login required';
  return {
    ok,
    ...(v.cause ? { reason: v.cause.reason } : ok ? { reason: 'Ready' } : {}),
    message: `${v.verdict}${v.cause ? ` — ${v.cause.message}${v.cause.fix ? ` (fix: ${v.cause.fix})` : ''}` : ''}`,
    details: checks.map((c) => ({ status: c.status, title: c.title, vantage: c.vantage, reason: c.reason, ...(c.latencyMs !== undefined ? { latencyMs: c.latencyMs } : {}), message: c.message })),
  };
}
