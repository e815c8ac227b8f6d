// `check` for the local and Docker runtimes: is `envserve up` running, are its processes alive,
// does the env port have a listener on this machine (and on which address), and does the proxy or
// published port answer.
import { listTcpListeners, processOfInode, processStartTime } from '../apply/local/proc-net.js';
import { connectAddress } from '../apply/local/ports.js';
import { detectWsl, wslNotes } from '../apply/local/wsl.js';
import type { HostExposure, Plan } from '../plan/types.js';
import type { EnvStatus } from '../status/types.js';
import { probeFromHere } from './probes.js';
import type { Check } from './types.js';

export interface LocalCheckOptions {
  plan: Plan;
  /** The state `up`/`serve` wrote, if any (and whether it is stale). */
  state?: EnvStatus;
  stale?: string;
  file: string;
  procRoot?: string;
  timeoutMs?: number;
}

export async function checkLocal(o: LocalCheckOptions): Promise<Check[]> {
  const host = o.plan.exposures.filter((e): e is HostExposure => e.kind === 'host');
  const checks: Check[] = [];
  const c = (x: HostExposure, id: string, title: string, rest: Pick<Check, 'status' | 'reason' | 'message'> & { fix?: string; latencyMs?: number }): Check =>
    ({ id, exposure: x.id, title, vantage: 'local', ...rest });
  const running = o.state && !o.stale ? o.state : undefined;
  await Promise.all(host.map(async (x) => {
    if (!running) {
      checks.push(c(x, 'up.running', 'envserve up runs for this file', {
        status: 'fail', reason: 'NotRunning',
        message: o.stale ? `envserve up is not running for ${o.file} (${o.stale})` : `envserve up is not running for ${o.file}`,
        fix: `envserve up -f ${o.file}`,
      }));
      return;
    }
    checks.push(c(x, 'up.running', 'envserve up runs for this file', { status: 'pass', reason: 'Ok', message: `pid ${running.pid}, ${running.runtime} runtime, since ${running.startedAt}` }));
    // Processes (local runtime): alive, and the same process as recorded.
    for (const p of running.processes) {
      if (p.state === 'not-installed') continue;
      const alive = p.pid !== undefined && processStartTime(p.pid, o.procRoot) !== undefined && (p.startTime === undefined || processStartTime(p.pid, o.procRoot) === p.startTime);
      checks.push(alive
        ? c(x, `process.${p.name}`, `${p.name} runs`, { status: 'pass', reason: 'Ok', message: `pid ${p.pid}: ${p.argv.join(' ')}` })
        : c(x, `process.${p.name}`, `${p.name} runs`, { status: 'fail', reason: 'ProcessNotRunning', message: `${p.name} is not running${p.exitCode !== undefined && p.exitCode !== null ? ` (exit code ${p.exitCode})` : ''}${p.message ? `: ${p.message}` : ''}`, ...(p.log && { fix: `read its log: ${p.log}` }) }));
    }
    if (running.container) {
      checks.push(c(x, 'container', 'the container runs', running.container.state === 'running' || running.container.state === undefined
        ? { status: 'pass', reason: 'Ok', message: `container ${running.container.name} (${running.container.image})` }
        : { status: 'fail', reason: 'ProcessNotRunning', message: `container ${running.container.name} is ${running.container.state}`, fix: `docker logs ${running.container.name}` }));
    }
    if (running.runtime === 'local') {
      // Who listens on the env port, and where: 127.0.0.1 is fine here (the proxy connects to it).
      const ls = listTcpListeners(o.procRoot).filter((l) => l.port === x.envPort);
      if (ls.length === 0) {
        checks.push(c(x, 'env.listening', `something listens on port ${x.envPort}`, { status: 'fail', reason: 'NotListening', message: `nothing listens on port ${x.envPort} on this machine`, fix: `start the service on port ${x.envPort} (envserve status shows the processes and their logs)` }));
      } else {
        const who = processOfInode(ls[0]!.inode, o.procRoot);
        checks.push(c(x, 'env.listening', `something listens on port ${x.envPort}`, { status: 'pass', reason: 'Ok', message: `listens on ${ls.map((l) => `${l.address}:${l.port}`).join(', ')}${who ? ` (pid ${who.pid} ${who.command})` : ''}` }));
      }
    }
    const st = running.exposures.find((e) => e.id === x.id);
    if (!st?.listen) {
      checks.push(c(x, 'probe.local.listen', 'the exposed port answers', { status: 'fail', reason: 'NotListening', message: st?.message ?? 'envserve has no listener for this exposure', fix: 'envserve status' }));
      return;
    }
    const r = await probeFromHere({ id: x.id, host: connectAddress(st.listen.address), port: st.listen.port, protocol: x.protocol, timeoutMs: o.timeoutMs ?? 2000 });
    checks.push(c(x, 'probe.local.listen', `${st.listen.address}:${st.listen.port} answers`, {
      status: r.ok ? 'pass' : 'fail', reason: r.reason, message: r.detail, latencyMs: r.latencyMs,
      ...(!r.ok && { fix: r.reason === 'ConnectionRefused' ? 'envserve is not listening there: restart envserve up' : r.reason === 'NotHttp' ? `the service on ${x.envPort} answers, and not with plain HTTP: an HTTPS-only app (open its https:// URL), or not a web page (bind it with protocol="tcp")` : `the service behind it does not answer: is it listening on ${x.envPort}?` }),
    }));
    const wsl = detectWsl(o.procRoot);
    if (wsl) {
      const note = wslNotes(wsl, [{ name: x.id, address: st.listen.address, port: st.listen.port, protocol: x.protocol }])[0] ?? '';
      const unreachable = /does not reach|IPv6/.test(note);
      checks.push(c(x, 'wsl.windows', 'Windows reaches it', { status: unreachable ? 'warn' : 'pass', reason: unreachable ? 'AppBoundToLoopback' : 'Ok', message: note, ...(unreachable && { fix: 'listen on 127.0.0.1 or 0.0.0.0 (--listen)' }) }));
    }
  }));
  return checks;
}
