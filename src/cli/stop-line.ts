// The last line `up`/`serve` print when they stop. `serve` leaves its Kubernetes Services and
// Ingresses for `down` (the next `serve` adopts them): it says what stays and how to remove it.
import type { StateRecord } from '../engine/state.js';

export function stopLine(left: StateRecord | undefined, file: string, envId: string): string {
  const objs = left?.stoppedAt ? left.owned : [];
  if (objs.length === 0) return 'stopped; nothing left running';
  const names = objs.slice(0, 5).map((o) => `${o.kind.toLowerCase()} ${o.namespace}/${o.name}`);
  if (objs.length > 5) names.push(`${objs.length - 5} more`);
  return `stopped; left in the cluster: ${names.join(', ')} (envserve down -f ${file}, or down --env ${envId}, removes them)`;
}
