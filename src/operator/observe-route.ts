// What the operator reports about an HTTPRoute it applied: its Gateway's verdict (the parent
// status for its parentRef: Accepted, ResolvedRefs) and the Gateway's addresses. The applied
// object has no status yet, so the route is read again.
import { isNotFound, KubeApiError, type KubeClient } from '../apply/k8s/client.js';
import type { Obj } from '../apply/k8s/owned.js';
import { GATEWAY_PATH, ROUTES_PATH } from '../apply/k8s/route.js';
import { routeState } from '../apply/k8s/route-watch.js';
import type { ExposureStatus } from './resource.js';

export async function observeRoute(client: Pick<KubeClient, 'request'>, ns: string, name: string, applied: Obj): Promise<Partial<ExposureStatus>> {
  const ref = applied.spec?.parentRefs?.[0] as { namespace?: string; name: string; sectionName?: string } | undefined;
  if (!ref) return { ready: false, reason: 'RouteNoParent', message: 'the HTTPRoute names no Gateway' };
  const gwNs = ref.namespace ?? ns;
  const route = await client.request<Obj>(`${ROUTES_PATH(ns)}/${encodeURIComponent(name)}`);
  const s = routeState(route, { namespace: gwNs, name: ref.name, ...(ref.sectionName !== undefined && { sectionName: ref.sectionName }) }, ns);
  let addresses: string[] = [];
  try {
    const gw = await client.request<Obj>(GATEWAY_PATH(gwNs, ref.name));
    addresses = ((gw.status?.addresses ?? []) as { value?: string }[]).map((a) => a.value).filter((v): v is string => !!v);
  } catch (e) {
    if (!(isNotFound(e) || (e instanceof KubeApiError && e.code === 403))) throw e;
  }
  const gw = `Gateway ${gwNs}/${ref.name}${ref.sectionName ? ` (listener ${ref.sectionName})` : ''}`;
  if (s.state === 'no-parent') return { ready: false, reason: 'RouteNoParent', message: `no controller has taken up the HTTPRoute for ${gw}` };
  if (s.state === 'not-accepted') return { ready: false, reason: 'RouteNotAccepted', message: `${gw} does not accept it: ${s.accepted?.reason ?? 'Pending'}${s.accepted?.message ? ` (${s.accepted.message})` : ''}` };
  if (s.state === 'unresolved') return { ready: false, reason: 'RouteRefsUnresolved', message: `${gw} accepted it; its backend does not resolve: ${s.resolved?.reason}${s.resolved?.message ? ` (${s.resolved.message})` : ''}` };
  return { ready: true, reason: 'Ready', addresses, message: `accepted by ${gw} (Accepted=True${s.resolved ? `, ResolvedRefs=${s.resolved.status}` : ''})` };
}
