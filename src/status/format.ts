// The human view of a status, shared by `up`/`serve` (live) and `status`.
import type { ContainerRecord, EnvStatus, ExposureStatus, ProcessRecord } from './types.js';

export function exposureLine(e: ExposureStatus): string[] {
  const name = e.name ?? e.id;
  const url = e.urls[0] ?? (e.inCluster?.length ? inClusterText(e) : e.listen ? `${e.listen.address}:${e.listen.port}` : '-');
  const state = e.state === 'ready' ? 'ready' : e.state;
  // Ready means it answers; a server error is still worth seeing without -o json.
  const failing = e.state === 'ready' && e.httpStatus !== undefined && e.httpStatus >= 500 && `the app answers HTTP ${e.httpStatus}`;
  const notes = [e.access && `access: ${e.access}`, failing, e.message].filter(Boolean).join('; ');
  return [name, url, e.target ? `-> ${e.target}` : '', state, notes];
}

/** "10.96.0.7:8888 (in-cluster only; from here: http://127.0.0.1:1234/)": an address no laptop can open, and what can. */
export function inClusterText(e: Pick<ExposureStatus, 'inCluster' | 'reach'>): string {
  const addr = (e.inCluster?.[0] ?? '').replace(/^[a-z]+:\/\//, '').replace(/\/$/, '');
  const how = e.reach?.command ?? e.reach?.url;
  return `${addr} (in-cluster only${how ? `; from here: ${how}` : ''})`;
}

export function formatStatus(s: EnvStatus, opts: { stale?: string } = {}): string {
  const lines: string[] = [];
  lines.push(`environment ${s.envName} (${s.runtime} runtime, ${s.mode}, envserve pid ${s.pid})  ${s.envFile}`);
  if (opts.stale) lines.push(`STALE: ${opts.stale}`);
  if (s.container) lines.push(`container ${s.container.name} (${s.container.id.slice(0, 12)}) image ${s.container.image}${s.container.state ? `: ${s.container.state}` : ''}${restartNote(s.container)}`);
  for (const p of s.processes) lines.push(`${processLine(p)}${p.log ? `  log: ${p.log}` : ''}`);
  if (s.exposures.length === 0) lines.push('no exposures');
  else lines.push(columns([['NAME', 'URL', 'TARGET', 'STATE', 'NOTES'], ...s.exposures.map(exposureLine)]));
  for (const n of s.notes) lines.push(`note: ${n}`);
  return `${lines.join('\n')}\n`;
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

function processLine(p: ProcessRecord): string {
  return `process ${p.name}: ${p.state}${p.pid ? ` pid ${p.pid}` : ''}${p.message ? ` (${p.message})` : ''}${restartNote(p)}`;
}

/** "; restarts 2, last exit code 3 at 07:12:40" once it was restarted or has ended. */
function restartNote(r: ProcessRecord | ContainerRecord): string {
  if (!r.restarts && !r.lastExit) return '';
  const how = r.lastExit ? ` last exit ${r.lastExit.signal ?? (r.lastExit.code !== undefined ? `code ${r.lastExit.code}` : '?')} at ${r.lastExit.at.slice(11, 19)}` : '';
  return `; restarts ${r.restarts ?? 0}${how ? `,${how}` : ''}`;
}

/** State, restart count or last exit differ: the engine's exit event may land after the restart shows. */
function restartChanged(a: ProcessRecord | ContainerRecord, b: ProcessRecord | ContainerRecord): boolean {
  return a.state !== b.state || restartNote(a) !== restartNote(b);
}

/** One line per exposure whose state or answer changed, for the live view. */
export function changes(prev: EnvStatus | undefined, next: EnvStatus): string[] {
  const out: string[] = [];
  const before = new Map(prev?.exposures.map((e) => [e.id, e]));
  for (const e of next.exposures) {
    const p = before.get(e.id);
    if (p && p.reason === e.reason && exposureLine(p).join('\0') === exposureLine(e).join('\0')) continue;
    const [name, url, target, state, msg] = exposureLine(e);
    out.push(`${name} ${url} ${target} ${state}${msg ? ` (${msg})` : ''}`.replace(/\s+/g, ' '));
  }
  const procsBefore = new Map(prev?.processes.map((p) => [p.name, p]));
  for (const p of next.processes) {
    const q = procsBefore.get(p.name);
    if (q && !restartChanged(q, p)) continue;
    out.push(processLine(p));
  }
  const [c, pc] = [next.container, prev?.container];
  if (c && (!pc || restartChanged(pc, c))) out.push(`container ${c.name}: ${c.state ?? '?'}${restartNote(c)}`);
  for (const n of next.notes) if (!prev?.notes.includes(n)) out.push(`note: ${n}`);
  return out;
}
