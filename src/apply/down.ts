// `down`: stop what `up`/`serve` started for an env file. If that envserve process still runs,
// it is asked to stop (SIGTERM) and does its own cleanup; if it crashed, the state file says
// what to clean: recorded processes (PID + start time checked) and the owned container.
import { existsSync } from 'node:fs';
import { processStartTime } from './local/proc-net.js';
import { isAlive, stopRecordedProcess } from './local/processes.js';
import type { StatusStore } from '../status/store.js';
import type { EnvStatus } from '../status/types.js';

/** Whether the envserve process that wrote this state still runs; else why it is stale. */
export function staleReason(s: EnvStatus, procRoot?: string): string | undefined {
  const alive = s.pidStartTime !== undefined ? processStartTime(s.pid, procRoot) === s.pidStartTime : isAlive(s.pid);
  return alive ? undefined : `envserve (pid ${s.pid}) is not running any more; run envserve down to clean up what it left`;
}

export async function down(store: StatusStore, log: (line: string) => void, opts: { timeoutMs?: number } = {}): Promise<boolean> {
  const s = store.read();
  if (!s) return false;
  if (!staleReason(s)) {
    log(`stopping envserve (pid ${s.pid})`);
    process.kill(s.pid, 'SIGTERM');
    const deadline = Date.now() + (opts.timeoutMs ?? 20000);
    while (!staleReason(s) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    if (!staleReason(s)) {
      log(`envserve (pid ${s.pid}) did not stop in time; killing it`);
      process.kill(s.pid, 'SIGKILL');
      while (!staleReason(s)) await new Promise((r) => setTimeout(r, 50));
    }
    if (!store.read()) return true; // it cleaned up after itself
  }
  // Crashed (or killed): clean what the state file records.
  for (const p of s.processes) {
    if (await stopRecordedProcess(p)) log(`stopped process ${p.name} (pid ${p.pid})`);
  }
  if (s.container?.owned) {
    const { removeContainer } = await import('./docker/client.js');
    const removed = await removeContainer(s.container.id, s.container.engine);
    log(removed ? `removed container ${s.container.name}` : `container ${s.container.name} was already gone`);
  }
  store.remove();
  return true;
}

/** Containers envserve made for this env file that no state file knows about (killed mid-start). */
export async function removeLabelledContainers(envFileAbs: string, log: (line: string) => void): Promise<number> {
  const { dockerClient, engineAddress, removeContainer, LABEL_ENV_FILE } = await import('./docker/client.js');
  const engine = engineAddress();
  if (engine.startsWith('unix://') && !existsSync(engine.slice('unix://'.length))) return 0;
  const docker = dockerClient(engine);
  let list: { Id: string; Names: string[] }[];
  try {
    list = await docker.listContainers({ all: true, filters: { label: [`${LABEL_ENV_FILE}=${envFileAbs}`] } });
  } catch {
    return 0; // no engine here: nothing of ours can run in it
  }
  for (const c of list) {
    await removeContainer(c.Id, engine);
    log(`removed container ${c.Names[0]?.replace(/^\//, '') ?? c.Id.slice(0, 12)}`);
  }
  return list.length;
}
