// "Every URL shown is one the viewer can open" (issue 22 item 9). A ClusterIP Service answers only
// inside the cluster: its address is shown as in-cluster only, next to the exposures of the same
// plan that reach it from a laptop. Pure.
import type { Exposure } from './types.js';

/** Whether the exposure's own addresses are reachable only from inside the cluster. */
export function inClusterOnly(e: Exposure): boolean {
  return e.kind === 'k8s-service' && e.serviceType === 'ClusterIP';
}

/**
 * The exposures that reach service exposure `e` from outside the cluster, best first: its Ingress
 * or HTTPRoute (a URL anyone allowed can open), then a port-forward of the same environment port
 * (a URL on the machine that runs envserve).
 */
export function reachersOf(exposures: readonly Exposure[], e: Exposure): Exposure[] {
  if (e.kind !== 'k8s-service') return [];
  const routes = exposures.filter((x) => (x.kind === 'k8s-ingress' || x.kind === 'k8s-route') && x.serviceId === e.id);
  const forwards = exposures.filter((x) => x.kind === 'k8s-port-forward' && x.envPort === e.envPort);
  return [...routes, ...forwards];
}

/** For `plan`, under the table: "service-web answers only inside the cluster; from here: port-forward-web-8888". */
export function reachNote(exposures: readonly Exposure[], e: Exposure): string | undefined {
  if (!inClusterOnly(e)) return undefined;
  const via = reachersOf(exposures, e).map((x) => x.id);
  return `${e.id} answers only inside the cluster; ${via.length ? `from here: ${via.join(', ')}` : 'to reach it from here add host_port= (a port-forward) or ingress='}`;
}
