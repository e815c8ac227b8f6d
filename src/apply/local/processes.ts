// Child processes of the local runtime: started in their own process group (so the whole tree
// can be stopped, also by `down` after envserve itself crashed), output to a log file.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, readSync, fstatSync } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { ProcessRecord } from '../../status/types.js';
import { processStartTime } from './proc-net.js';
import { Backoff } from '../backoff.js';
import { fmtDelay, PROCESS_BACKOFF, realClock, type Clock } from './restart.js';

/** The executable `cmd` resolves to on PATH, or undefined. */
export function which(cmd: string, path = process.env.PATH ?? ''): string | undefined {
  const candidates = cmd.includes('/') ? [cmd] : path.split(delimiter).filter(Boolean).map((d) => join(d, cmd));
  for (const c of candidates) {
    try {
      accessSync(c, constants.X_OK);
      return isAbsolute(c) ? c : join(process.cwd(), c);
    } catch {
      /* next */
    }
  }
  return undefined;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  cwd: string;
  logDir: string;
}

export class ProcessGroup {
  readonly records: ProcessRecord[] = [];
  private readonly children = new Map<ProcessRecord, ChildProcess>();
  /** Pending restarts (their cancel functions). */
  private readonly timers = new Map<ProcessRecord, () => void>();
  private stopping = false;

  /** `onChange` is told when a process exits or starts again, so the status can show it. */
  constructor(private readonly onChange: () => void = () => {}, private readonly clock: Clock = realClock) {}

  /** `restart`: started again after each exit, with backoff (src/apply/local/restart.ts). */
  start(name: string, argv: string[], opts: SpawnOptions, restart = false): ProcessRecord {
    const rec: ProcessRecord = { name, argv, state: 'running', log: join(opts.logDir, `${name}.log`) };
    this.records.push(rec);
    this.spawn(rec, opts, restart ? new Backoff(PROCESS_BACKOFF) : undefined);
    return rec;
  }

  private spawn(rec: ProcessRecord, opts: SpawnOptions, backoff: Backoff | undefined): void {
    mkdirSync(opts.logDir, { recursive: true });
    const fd = openSync(rec.log!, 'a');
    try {
      const child = spawn(rec.argv[0]!, rec.argv.slice(1), { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd], detached: true });
      Object.assign(rec, { state: 'running', pid: child.pid, startTime: child.pid !== undefined ? processStartTime(child.pid) : undefined });
      for (const k of ['exitCode', 'message', 'restartAt'] as const) delete rec[k];
      backoff?.healthy(this.clock.now());
      child.on('error', (e) => {
        Object.assign(rec, { state: 'failed', message: e.message });
        this.onChange();
      });
      child.on('exit', (code, signal) => {
        if (this.stopping) return this.onChange();
        const now = this.clock.now();
        rec.lastExit = { ...(signal ? { signal } : { code: code ?? undefined }), at: new Date(now).toISOString() };
        if (rec.state === 'running') Object.assign(rec, { state: 'exited', exitCode: code, message: signal ? `killed by ${signal}` : `exited with code ${code}` });
        if (backoff && rec.state === 'exited') {
          const ms = backoff.next(now);
          rec.restartAt = new Date(now + ms).toISOString();
          rec.message += `; starting again in ${fmtDelay(ms)}`;
          this.timers.set(rec, this.clock.after(ms, () => {
            this.timers.delete(rec);
            rec.restarts = (rec.restarts ?? 0) + 1;
            this.spawn(rec, opts, backoff);
            this.onChange();
          }));
        }
        this.onChange();
      });
      this.children.set(rec, child);
    } finally {
      closeSync(fd);
    }
  }

  /** SIGTERM to each process group, SIGKILL after `graceMs`; resolves when all have exited. */
  async stopAll(graceMs = 3000): Promise<void> {
    this.stopping = true;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    for (const rec of this.records) delete rec.restartAt;
    await Promise.all(
      [...this.children].map(async ([rec, child]) => {
        if (child.pid === undefined) return;
        if (child.exitCode !== null || child.signalCode !== null) {
          signalGroup(child.pid, 'SIGKILL'); // the leader exited by itself; what it left in its group goes
          return;
        }
        const exited = new Promise<void>((r) => child.once('exit', () => r()));
        signalGroup(child.pid, 'SIGTERM');
        const timer = setTimeout(() => signalGroup(child.pid!, 'SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
        // the leader is gone; anything it left in its group goes too
        signalGroup(child.pid, 'SIGKILL');
        rec.state = 'exited';
      }),
    );
    this.children.clear();
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    /* already gone */
  }
}

/**
 * `down` after a crash: stops a recorded process (and its group) if it is still the same process
 * (PID and start time match), SIGKILL after `graceMs`. Returns whether it was running.
 */
export async function stopRecordedProcess(rec: ProcessRecord, graceMs = 3000, procRoot?: string): Promise<boolean> {
  if (rec.pid === undefined) return false;
  const alive = () => rec.startTime === undefined ? isAlive(rec.pid!) : processStartTime(rec.pid!, procRoot) === rec.startTime;
  if (!alive()) return false;
  signalGroup(rec.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  signalGroup(rec.pid, 'SIGKILL');
  return true;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The last `lines` non-empty lines of a log file (at most its last 4 KiB), for an exit message. */
export function logTail(path: string, lines = 5): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, 4096);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8').split('\n').map((l) => l.trimEnd()).filter(Boolean).slice(-lines);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
