// Runs the real command (bin/envserve.js → dist/) as a user would, and captures what it prints.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = `${REPO}bin/envserve.js`;

let built = false;

/**
 * bin/envserve.js runs dist/: a test of the command must not run code older than src/. The runner
 * (scripts/run-tests.mjs) builds first; a test file run by other means rebuilds here when a source
 * file is newer than the build, and fails if the build fails.
 */
export function ensureBuilt(): void {
  if (built) return;
  const newest = (dir: string): number =>
    Math.max(0, ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs)));
  let at = 0;
  try {
    at = statSync(`${REPO}dist/cli/main.js`).mtimeMs;
  } catch {
    /* not built */
  }
  if (newest(`${REPO}src`) > at) {
    const r = spawnSync('npm', ['run', 'build'], { cwd: REPO, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status ?? r.signal}): the tests would run stale code\n${r.stdout}${r.stderr}`);
  }
  built = true;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function envserve(args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  ensureBuilt();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? REPO,
    input: opts.input,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
