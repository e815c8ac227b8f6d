// `down`: stop what `up`/`serve` started for an env file, from any shell, with only the state
// record. If that envserve still runs it is asked to stop on its control socket (SIGTERM if the
// socket does not answer) and does its own cleanup; what is left — everything, after a crash or
// SIGKILL — is removed from the record: recorded processes (PID + start time checked), the owned
// container, and the Kubernetes objects envserve owns for the environment, reached with the
// recorded cluster (kubeconfig path, context, namespace: no flags or KUBECONFIG needed).
import { existsSync } from 'node:fs';
import { processStartTime } from '../apply/local/proc-net.js';
import { isAlive, stopRecordedProcess } from '../apply/local/processes.js';
import { ControlClient } from './control.js';
import type { StateRecord, StateStore } from './state.js';

/** Whether the envserve process that wrote this record still runs; else why it is stale. */
export function staleReason(s: Pick<StateRecord, 'pid' | 'pidStartTime'> & { stoppedAt?: string; owned?: StateRecord['owned'] }, procRoot?: string): string | undefined {
  if (s.stoppedAt) return `envserve stopped at ${s.stoppedAt} and left ${s.owned?.length ?? 0} object(s) in the cluster on purpose; envserve down removes them`;
  const alive = s.pidStartTime !== undefined ? processStartTime(s.pid, procRoot) === s.pidStartTime : isAlive(s.pid);
  return alive ? undefined : `envserve (pid ${s.pid}) is not running any more; run envserve down to clean up what it left`;
}

export interface DownOptions {
  /** How long a running envserve may take to stop itself before it is killed (default 30 s; 150 s for Kubernetes). */
  timeoutMs?: number;
}

/** Returns false when there was no record. */
export async function down(store: StateStore, log: (line: string) => void, opts: DownOptions = {}): Promise<boolean> {
  const rec = store.read();
  if (!rec) return false;
  if (!staleReason(rec)) await stopRunning(rec, log, opts.timeoutMs ?? (rec.runtime === 'k8s' ? 150_000 : 30_000));
  // Crashed, killed, or stopped: clean what the record says is ours.
  for (const p of rec.processes) {
    if (await stopRecordedProcess(p)) log(`stopped process ${p.name} (pid ${p.pid})`);
  }
  if (rec.container?.owned && store.read()) {
    const { removeContainer } = await import('../apply/docker/client.js');
    const removed = await removeContainer(rec.container.id, rec.container.engine);
    log(removed ? `removed container ${rec.container.name}` : `container ${rec.container.name} was already gone`);
  }
  if (rec.cluster) {
    const { removeOwnedFromRecord } = await import('../apply/k8s/remove.js');
    const objs = await removeOwnedFromRecord(rec.cluster, rec.envName);
    for (const o of objs) log(`deleted ${o.kind.toLowerCase()} ${o.namespace}/${o.name}`);
  }
  store.remove();
  return true;
}

async function stopRunning(rec: StateRecord, log: (line: string) => void, timeoutMs: number): Promise<void> {
  log(`stopping envserve (pid ${rec.pid})`);
  let asked = false;
  if (rec.controlSocket) {
    try {
      await new ControlClient(rec.controlSocket, 3000).stop();
      asked = true;
    } catch {
      // no answer on the socket: fall back to a signal
    }
  }
  if (!asked) process.kill(rec.pid, 'SIGTERM');
  const started = Date.now();
  let told = started;
  while (!staleReason(rec) && Date.now() - started < timeoutMs) {
    await new Promise((r) => setTimeout(r, 50));
    if (Date.now() - told > 10_000) {
      told = Date.now();
      log(`still stopping (${Math.round((told - started) / 1000)} s)...`);
    }
  }
  if (!staleReason(rec)) {
    log(`envserve (pid ${rec.pid}) did not stop within ${Math.round(timeoutMs / 1000)} s; killing it`);
    process.kill(rec.pid, 'SIGKILL');
    while (!staleReason(rec)) await new Promise((r) => setTimeout(r, 50));
  }
}

/** Containers envserve made for this env file that no state record knows about (killed mid-start). */
export async function removeLabelledContainers(envFileAbs: string, log: (line: string) => void): Promise<number> {
  const { dockerClient, engineAddress, removeContainer, LABEL_ENV_FILE } = await import('../apply/docker/client.js');
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
