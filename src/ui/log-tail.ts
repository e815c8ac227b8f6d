// The last lines of each process log, for the dashboard: read from the end of the file (at most
// 8 KiB), so a long-running process's log costs the same as a short one.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import type { EnvStatus, ProcessRecord } from '../status/types.js';

export function lastLines(path: string, n = 5, maxBytes = 8192): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, maxBytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    const lines = buf.toString('utf8').split('\n');
    if (len < size) lines.shift(); // a partial first line
    while (lines.length && lines.at(-1) === '') lines.pop();
    return lines.slice(-n);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export type ProcessView = ProcessRecord & { lastLines?: string[] };

export function withLogTails(s: EnvStatus): EnvStatus & { processes: ProcessView[] } {
  return { ...s, processes: s.processes.map((p) => (p.log ? { ...p, lastLines: lastLines(p.log) } : p)) };
}
