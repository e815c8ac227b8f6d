// The human view of a status, shared by `up`/`serve` (live) and `status`.
import type { EnvStatus, ExposureStatus } from './types.js';

export function exposureLine(e: ExposureStatus): string[] {
  const name = e.name ?? e.id;
  const url = e.urls[0] ?? (e.listen ? `${e.listen.address}:${e.listen.port}` : '-');
  const state = e.state === 'ready' ? 'ready' : e.state;
  return [name, url, e.target ? `-> ${e.target}` : '', state, e.message ?? ''];
}

export function formatStatus(s: EnvStatus, opts: { stale?: string } = {}): string {
  const lines: string[] = [];
  lines.push(`environment ${s.envName} (${s.runtime} runtime, ${s.mode}, envserve pid ${s.pid})  ${s.envFile}`);
  if (opts.stale) lines.push(`STALE: ${opts.stale}`);
  if (s.container) lines.push(`container ${s.container.name} (${s.container.id.slice(0, 12)}) image ${s.container.image}${s.container.state ? `: ${s.container.state}` : ''}`);
  for (const p of s.processes) {
    lines.push(`process ${p.name}: ${p.state}${p.pid ? ` pid ${p.pid}` : ''}${p.message ? ` (${p.message})` : ''}${p.log ? `  log: ${p.log}` : ''}`);
  }
  if (s.exposures.length === 0) lines.push('no exposures');
  else lines.push(columns([['NAME', 'URL', 'TARGET', 'STATE', 'NOTES'], ...s.exposures.map(exposureLine)]));
  for (const n of s.notes) lines.push(`note: ${n}`);
  return `${lines.join('\n')}\n`;
}

function columns(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** One line per exposure whose state or answer changed, for the live view. */
export function changes(prev: EnvStatus | undefined, next: EnvStatus): string[] {
  const out: string[] = [];
  const before = new Map(prev?.exposures.map((e) => [e.id, e]));
  for (const e of next.exposures) {
    const p = before.get(e.id);
    if (p && p.state === e.state && p.reason === e.reason && p.message === e.message && p.target === e.target) continue;
    const [name, url, target, state, msg] = exposureLine(e);
    out.push(`${name} ${url} ${target} ${state}${msg ? ` (${msg})` : ''}`.replace(/\s+/g, ' '));
  }
  const procsBefore = new Map(prev?.processes.map((p) => [p.name, p]));
  for (const p of next.processes) {
    const q = procsBefore.get(p.name);
    if (q && q.state === p.state) continue;
    out.push(`process ${p.name}: ${p.state}${p.pid ? ` pid ${p.pid}` : ''}${p.message ? ` (${p.message})` : ''}`);
  }
  if (prev?.container?.state !== next.container?.state && next.container) out.push(`container ${next.container.name}: ${next.container.state ?? '?'}`);
  for (const n of next.notes) if (!prev?.notes.includes(n)) out.push(`note: ${n}`);
  return out;
}
