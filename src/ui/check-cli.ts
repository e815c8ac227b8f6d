// The dashboard's `check` button runs `envserve check -o json` for the environment (the same
// command and JSON contract users have, src/check/) and shows the part about one exposure. A
// child process keeps check's work (API reads, probes) out of the process that holds the
// forwards. No debug pod: a button click creates nothing in the cluster.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { checkResultFor, type CheckReportLike } from './check-result.js';
import type { ActionResult } from './types.js';

export interface CheckTarget {
  envFile: string;
  envName: string;
  runtime: string;
  cluster?: { kubeconfig?: string; context?: string; namespace?: string };
}

const BIN = fileURLToPath(new URL('../../bin/envserve.js', import.meta.url));

export function checkArgs(t: CheckTarget): string[] {
  const c = t.cluster;
  return [
    'check', '-f', t.envFile, '--name', t.envName, '--runtime', t.runtime, '-o', 'json', '--no-debug-pod',
    ...(c?.kubeconfig ? ['--kubeconfig', c.kubeconfig] : []),
    ...(c?.context ? ['--context', c.context] : []),
    ...(c?.namespace ? ['-n', c.namespace] : []),
  ];
}

/**
 * Runs the check; `fallback` answers when this envserve has no `check` command (a build without
 * it): the engine's own probe of the exposure, and the result says so.
 */
export function checkViaCli(t: CheckTarget, exposureId: string, fallback: () => Promise<ActionResult>, timeoutMs = 120_000): Promise<ActionResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...checkArgs(t)], { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', (e) => resolve({ ok: false, reason: 'Internal', message: `envserve check did not run: ${e.message}` }));
    child.on('close', (code) => {
      if (/unknown command 'check'/.test(err)) {
        void fallback().then((r) => resolve({ ...r, message: `${r.message ?? ''} (probed now: this envserve has no check command)`.trim() }));
        return;
      }
      if (code === 0 || code === 1) {
        try {
          return resolve(checkResultFor(JSON.parse(out) as CheckReportLike, exposureId));
        } catch {
          /* not a report: fall through */
        }
      }
      resolve({ ok: false, reason: code === 2 ? 'InvalidInput' : 'Internal', message: `envserve check ended with exit ${code}: ${err.trim().split('\n').slice(0, 3).join(' ')}` });
    });
  });
}
