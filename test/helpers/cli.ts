// Runs the real command (bin/envserve.js → dist/) as a user would, and captures what it prints.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const BIN = `${REPO}bin/envserve.js`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function envserve(args: string[], opts: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): CliResult {
  if (!existsSync(`${REPO}dist/cli/main.js`)) throw new Error('dist/ is missing: run `npm run build` first (npm test does)');
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
