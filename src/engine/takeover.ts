// What a new session does about the state record an earlier envserve left for the same env file:
// refuse while that envserve still runs; clean up after one that did not stop cleanly; and adopt
// what a `serve` that stopped cleanly left in the cluster — or, once started on another cluster,
// namespace or environment name, remove it.
import { UserError } from '../errors.js';
import type { Runtime } from '../apply/types.js';
import { sameServer } from '../apply/k8s/kubeconfig/server-url.js';
import { down, staleReason } from './down.js';
import type { StateRecord, StateStore } from './state.js';

/**
 * Returns the record of an earlier `serve` that stopped cleanly and left its Services/Ingresses:
 * this run adopts them (server-side apply, stale ones pruned) when it applies to the same cluster
 * and namespace; see removeLeftover.
 */
export async function takeOver(store: StateStore, describe: string, log: (line: string) => void): Promise<StateRecord | undefined> {
  const existing = store.read();
  if (!existing) return undefined;
  if (existing.stoppedAt) return existing;
  if (!staleReason(existing)) {
    throw new UserError(
      `${existing.envName} is already ${existing.mode === 'up' ? 'up' : 'served'} by envserve (pid ${existing.pid}, ${existing.runtime} runtime)`,
      `envserve status -f ${describe} shows it; envserve down -f ${describe} stops it`,
      'AlreadyRunning',
    );
  }
  log(`cleaning up after an earlier envserve (pid ${existing.pid}) that did not stop cleanly`);
  await down(store, (l) => log(`  ${l}`));
  return undefined;
}

/** Once started: removes what `before` left unless this run applies to the same cluster, namespace and environment. */
export function removeLeftover(before: StateRecord, runtime: Runtime, envName: string, log: (line: string) => void): void {
  const now = runtime.resources().cluster;
  const c = before.cluster;
  if (!c || (now && sameServer(c.server, now.server) && now.namespace === c.namespace && before.envName === envName)) return;
  log(`removing what an earlier envserve left in namespace ${c.namespace} (${c.server})`);
  void import('../apply/k8s/remove.js')
    .then(({ removeOwnedFromRecord }) => removeOwnedFromRecord(c, before.envName))
    .then((objs) => objs.forEach((o) => log(`  deleted ${o.kind.toLowerCase()} ${o.namespace}/${o.name}`)))
    .catch((e: Error) => log(`  could not remove them: ${e.message} (envserve down --runtime k8s -n ${c.namespace} does)`));
}
