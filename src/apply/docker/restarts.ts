// `up`'s container restarts by the engine's restart policy (Docker with its own backoff, Podman at
// once). Inspect says how often (RestartCount), but once the container runs again its exit code is
// gone: the engine's 'die' events, followed while it runs, keep it.
import type { ContainerInspect, DockerEngine } from './client.js';
import type { ContainerRecord, ProcessExit } from '../../status/types.js';

/** Restarted after every exit until envserve stops or removes it (`docker stop` by hand is respected). */
export const RESTART_POLICY = { Name: 'unless-stopped', MaximumRetryCount: 0 };

/** Follows the container's 'die' events; returns a function that stops following. */
export async function followExits(docker: DockerEngine, id: string, onExit: (e: ProcessExit) => void): Promise<() => void> {
  // Filtered by container only: Podman 4.3 sends nothing when an `event` filter is added.
  return docker.events({ container: [id] }, (ev) => {
    if (ev.Action !== 'die') return;
    const code = Number(ev.Actor?.Attributes?.exitCode);
    const at = ev.timeNano ? ev.timeNano / 1e6 : (ev.time ?? 0) * 1000 || Date.now();
    onExit({ ...(Number.isInteger(code) && { code }), at: new Date(at).toISOString() });
  });
}

/** The restart count and last exit from an inspect (and the last 'die' event seen, which has the code); true when they changed. */
export function noteRestarts(rec: ContainerRecord, info: ContainerInspect, lastDie: ProcessExit | undefined): boolean {
  const before = JSON.stringify([rec.restarts, rec.lastExit]);
  rec.restarts = info.RestartCount ?? 0;
  const finished = info.State.FinishedAt;
  if (finished && !finished.startsWith('0001-')) { // it has ended before
    const at = new Date(finished).toISOString();
    if (!info.State.Running) rec.lastExit = { code: info.State.ExitCode, at };
    else rec.lastExit = lastDie && Math.abs(Date.parse(lastDie.at) - Date.parse(at)) < 5000 ? lastDie : { at };
  }
  return JSON.stringify([rec.restarts, rec.lastExit]) !== before;
}
