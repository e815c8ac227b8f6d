// The state file: where `up`/`serve` record what runs, so `status` and `down` (other processes)
// can see it. One file per env file, keyed by its absolute path:
//   $ENVSERVE_STATE_DIR or $XDG_STATE_HOME/envserve or ~/.local/state/envserve / <name>-<hash>.json
// Written only when the content changes, atomically (write + rename).
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { EnvStatus } from './types.js';

export function stateDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.ENVSERVE_STATE_DIR) return env.ENVSERVE_STATE_DIR;
  const base = env.XDG_STATE_HOME || join(homedir(), '.local', 'state');
  return join(base, 'envserve');
}

export function stateKey(envFile: string): string {
  const abs = resolve(envFile);
  const safeName = abs.split('/').slice(-2, -1)[0]?.replace(/[^A-Za-z0-9_.-]/g, '_') || 'env';
  return `${safeName}-${createHash('sha256').update(abs).digest('hex').slice(0, 12)}`;
}

export class StatusStore {
  readonly path: string;
  /** Per-process logs of the local runtime. */
  readonly logDir: string;
  private last = '';

  constructor(envFile: string, dir = stateDir()) {
    const key = stateKey(envFile);
    this.path = join(dir, `${key}.json`);
    this.logDir = join(dir, `${key}.logs`);
  }

  /** Writes if different from what this store wrote last; returns whether it wrote. */
  write(status: EnvStatus): boolean {
    const text = `${JSON.stringify(status, null, 2)}\n`;
    if (text === this.last) return false;
    mkdirSync(join(this.path, '..'), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, text, { mode: 0o600 });
    renameSync(tmp, this.path);
    this.last = text;
    return true;
  }

  read(): EnvStatus | undefined {
    try {
      return JSON.parse(readFileSync(this.path, 'utf8')) as EnvStatus;
    } catch {
      return undefined;
    }
  }

  remove(): void {
    rmSync(this.path, { force: true });
    this.last = '';
  }
}
