// From checks to verdicts, and the table `check` prints. Pure.
import type { Protocol } from '../plan/types.js';
import type { Check, CheckReport, ExposureVerdict } from './types.js';

export interface ExposureInfo {
  id: string;
  kind: ExposureVerdict['kind'];
  protocol: Protocol;
}

/** An exposure answers when no check failed; "login required" when a probe met an auth wall. */
export function verdicts(exposures: ExposureInfo[], checks: Check[]): ExposureVerdict[] {
  return exposures.map((x) => {
    const mine = checks.filter((c) => c.exposure === x.id);
    const cause = mine.find((c) => c.status === 'fail');
    const probes = mine.filter((c) => c.vantage !== 'static');
    const verdict = cause
      ? 'problem'
      : probes.some((c) => c.status === 'pass' && c.reason === 'LoginRequired') && !probes.some((c) => c.status === 'pass' && c.reason === 'Answers')
        ? 'answers, login required'
        : probes.some((c) => c.status === 'pass') ? 'answers' : 'not checked';
    return { exposure: x.id, kind: x.kind, protocol: x.protocol, verdict, ...(cause && { cause }) };
  });
}

export function buildReport(base: Pick<CheckReport, 'runtime'> & { envName?: string; namespace?: string }, exposures: ExposureInfo[], checks: Check[], durationMs: number): CheckReport {
  const v = verdicts(exposures, checks);
  return {
    apiVersion: 'envserve/v1',
    kind: 'CheckReport',
    ...(base.envName !== undefined && { envName: base.envName }),
    runtime: base.runtime,
    ...(base.namespace !== undefined && { namespace: base.namespace }),
    ok: v.every((e) => e.verdict !== 'problem'),
    exposures: v,
    checks,
    durationMs,
  };
}

const MARK: Record<Check['status'], string> = { pass: 'ok', fail: 'FAIL', warn: 'warn', info: 'info', skipped: 'skip' };

/** Per exposure: its verdict, every check on one line, and the cause with its fix at the end. */
export function formatReport(r: CheckReport, verbose = true): string {
  let out = '';
  for (const v of r.exposures) {
    out += `${v.exposure} (${v.kind}, ${v.protocol}): ${v.verdict}\n`;
    const rows = r.checks.filter((c) => c.exposure === v.exposure && (verbose || (c.status !== 'pass' && c.status !== 'info')));
    for (const c of rows) {
      out += `  ${MARK[c.status].padEnd(4)}  ${c.vantage.padEnd(9)}  ${c.id.padEnd(30)}  ${c.reason.padEnd(22)}  ${c.message}\n`;
    }
    if (v.cause) out += `  => ${v.cause.reason}: ${v.cause.message}\n${v.cause.fix ? `     fix: ${v.cause.fix}\n` : ''}`;
    out += '\n';
  }
  const problems = r.exposures.filter((v) => v.verdict === 'problem').length;
  out += problems === 0
    ? `every exposure answers (${r.exposures.length}), in ${r.durationMs} ms\n`
    : `${problems} of ${r.exposures.length} exposure${r.exposures.length === 1 ? '' : 's'} ${problems === 1 ? 'has a problem' : 'have problems'}, in ${r.durationMs} ms\n`;
  return out;
}
