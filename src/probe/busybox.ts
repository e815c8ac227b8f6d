// The prober's minimal form, for an image nearly every cluster can pull (busybox): the same specs
// as `envserve probe --spec`, run by a shell script with busybox's `nc` (TCP) and `wget -S` (HTTP:
// the status line, Location and the start of the body), and its output read back into the same
// results. What it cannot see: a WebSocket upgrade, the TLS certificate, a held TCP connection.
// Pure: the script is text, the log is parsed; `check` runs it in its fallback probe pod.
import { excerptOf } from './proxy-answer.js';
import { PROXY_NOT_READY } from './local.js';
import { hostPort, type ProbeSpec, type SeenResult } from './spec.js';
import type { ReasonCode } from '../reasons.js';

/** What the busybox probe does not check, for people ("not checked from inside: ..."). */
export const BUSYBOX_LIMITS = ['WebSocket upgrades', 'TLS certificates', "error pages (an Ingress controller's own 404 reads as the app's)"] as const;

const MARK = '@@envserve-probe';
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The script: every spec in parallel, each printing one framed block (one printf: a pipe write
 * under 4 KiB is not interleaved) — "MARK i rc ms", the tool's output, "MARK end i".
 */
export function busyboxScript(specs: readonly ProbeSpec[], timeoutMs = 2000): string {
  const t = Math.max(1, Math.ceil(timeoutMs / 1000));
  const lines = [
    'ms() { read u _ < /proc/uptime; echo "${u%.*}${u#*.}0"; }',
    `emit() { printf '${MARK} %s %s %s\\n%s\\n${MARK} end %s\\n' "$1" "$2" "$3" "$4" "$1"; }`,
    // nc -w: the connect timeout; the outer timeout ends a connection that stays open (it was accepted).
    `p_tcp() { t0=$(ms); out=$(timeout ${t + 1} nc -w ${t} "$2" "$3" </dev/null 2>&1 >/dev/null); rc=$?; emit "$1" "$rc" $(( $(ms) - t0 )) "$out"; }`,
    `p_http() { t0=$(ms); if [ -n "$3" ]; then out=$(timeout ${t + 1} wget -S -q -O - --no-check-certificate --header "Host: $3" "$2" 2>&1); else out=$(timeout ${t + 1} wget -S -q -O - --no-check-certificate "$2" 2>&1); fi; rc=$?; out=$(printf '%s' "$out" | head -c 1500); emit "$1" "$rc" $(( $(ms) - t0 )) "$out"; }`,
  ];
  specs.forEach((s, i) => {
    if (s.protocol === 'tcp') lines.push(`p_tcp ${i} ${q(s.host)} ${s.port} &`);
    else lines.push(`p_http ${i} ${q(`${s.tls ? 'https' : 'http'}://${hostPort(s.host, s.port)}${s.path ?? '/'}`)} ${q(s.hostHeader ?? '')} &`);
  });
  lines.push('wait', `echo '${MARK} done'`);
  return lines.join('\n');
}

/** The results in the fallback pod's log (in the specs' order), or undefined when it did not finish. */
export function parseBusyboxLog(log: string, specs: readonly ProbeSpec[]): SeenResult[] | undefined {
  if (!log.includes(`${MARK} done`)) return undefined;
  const blocks = new Map<number, { rc: number; ms: number; out: string }>();
  const re = new RegExp(`^${MARK} (\\d+) (\\d+) (-?\\d+)\\n([\\s\\S]*?)\\n?${MARK} end \\1$`, 'gm');
  for (const m of log.matchAll(re)) blocks.set(Number(m[1]), { rc: Number(m[2]), ms: Number(m[3]), out: m[4]! });
  return specs.map((s, i) => {
    const b = blocks.get(i);
    if (!b) return { id: s.id, ok: false, reason: 'Unreachable', detail: 'the probe printed no result', error: { message: 'no result' } };
    const seen = s.protocol === 'tcp' ? tcpSeen(b) : httpSeen(b, s.via === 'ingress');
    return { id: s.id, ...seen, ...(b.ms >= 0 && { latencyMs: b.ms }) };
  });
}

const killedByTimeout = (rc: number) => rc === 124 || rc === 143 || rc === 137;

function failure(text: string, rc: number): Omit<SeenResult, 'id'> {
  const message = text.split('\n').map((l) => l.trim()).filter(Boolean).at(-1) ?? (killedByTimeout(rc) ? 'no answer in time' : `exit code ${rc}`);
  const reason: ReasonCode = /refused/i.test(message) ? 'ConnectionRefused'
    : /reset/i.test(message) ? 'ConnectionReset'
      : /timed? ?out/i.test(message) || (killedByTimeout(rc) && !text.trim()) ? 'Timeout'
        : 'Unreachable';
  return { ok: false, reason, detail: message, error: { message } };
}

function tcpSeen(b: { rc: number; out: string }): Omit<SeenResult, 'id'> {
  // Connected: nc ended when the other side closed (0), or was ended still connected (timeout).
  if (b.rc === 0 || (killedByTimeout(b.rc) && !b.out.trim())) return { ok: true, reason: 'Ready' };
  return failure(b.out, b.rc);
}

function httpSeen(b: { rc: number; out: string }, viaProxy: boolean): Omit<SeenResult, 'id'> {
  const status = /^\s+HTTP\/[\d.]+\s+(\d{3})([^\n]*)$/m.exec(b.out);
  if (!status) return failure(b.out.split('\n').filter((l) => /^wget: |^nc: |timed out|refused/i.test(l)).join('\n') || b.out, b.rc);
  const code = Number(status[1]);
  const location = /^\s+Location:\s*(\S+)/im.exec(b.out)?.[1];
  // The body follows the last header block (busybox ends each with a line of two spaces).
  const end = b.out.lastIndexOf('\n  \n');
  const body = end >= 0 ? b.out.slice(end + 4).split('\n').filter((l) => !l.startsWith('wget: ')).join('\n') : '';
  // wget prints no body for an error status: then it is unseen (undefined), not empty.
  const seen = { httpStatus: code, ...(location !== undefined && { location }), ...(code < 400 && { excerpt: excerptOf(Buffer.from(body)) }) };
  const line = `HTTP ${code}${status[2]!.trimEnd()}`;
  return viaProxy && PROXY_NOT_READY.has(code) ? { ok: false, reason: 'IngressRouteNotAnswering', detail: line, ...seen } : { ok: true, reason: 'Ready', detail: line, ...seen };
}
