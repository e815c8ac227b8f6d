// Exposing a k8s-route: apply its HTTPRoute, wait for the Gateway to take it up, build its handle.
import type { K8sRouteExposure } from '../../plan/types.js';
import type { KubeClient } from './client.js';
import type { HandleContext, K8sExposureHandle } from './object-handles.js';
import type { Obj } from './owned.js';
import { routeName } from './route.js';
import { routeHandle, RouteWatcher } from './route-watch.js';

export async function exposeRoute(
  client: KubeClient,
  namespace: string,
  e: K8sRouteExposure,
  apply: () => Promise<Obj[]>,
  ctx: HandleContext,
  timeoutMs = 20_000,
  signal?: AbortSignal,
): Promise<K8sExposureHandle> {
  await apply();
  const name = routeName(ctx.plan, e);
  const w = new RouteWatcher(client, namespace, name, e, timeoutMs);
  await w.settle(signal);
  return routeHandle(ctx, e, name, w);
}
