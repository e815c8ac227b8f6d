// What the gateway guards, from its watches (issue 22): the login Ingresses and HTTPRoutes in the
// operator's namespace (only the operator writes there: host, Service to forward to, level, generation) and
// the ExposureSets (a route holds only while its set exists with the UID the Ingress names — a
// deleted or re-created set ends its sessions at once, before its Ingress is even removed). Pure.
import type { Obj } from '../../apply/k8s/owned.js';
import { LABEL_EXPOSURE_SET } from '../../apply/k8s/manifests.js';
import { isAccessLevel, needsLogin } from '../../plan/access.js';
import type { GatewayRoute } from './gateway.js';
import { A, LABEL_LOGIN, LABEL_SET_NAMESPACE } from './ingress.js';

/** Host → route. A host claimed by two login objects goes to the older one (a later one cannot take it over). */
export function routesFrom(ingresses: readonly Obj[], setUid: (namespace: string, name: string) => string | undefined): Map<string, GatewayRoute> {
  const out = new Map<string, GatewayRoute>();
  const created = (o: Obj) => String((o.metadata as { creationTimestamp?: string }).creationTimestamp ?? '');
  const byAge = [...ingresses].sort((a, b) => created(a).localeCompare(created(b)) || a.metadata.name.localeCompare(b.metadata.name));
  for (const ing of byAge) {
    const r = routeOf(ing);
    if (!r || out.has(r.host) || setUid(r.namespace, r.setName) !== r.setUid) continue;
    out.set(r.host, r);
  }
  return out;
}

export function routeOf(ing: Obj): GatewayRoute | undefined {
  const l = ing.metadata.labels ?? {};
  const a = ing.metadata.annotations ?? {};
  const route = ing.kind === 'HTTPRoute';
  const host = String((route ? ing.spec?.hostnames?.[0] : ing.spec?.rules?.[0]?.host) ?? '').toLowerCase();
  const up = /^([a-z0-9.-]+):(\d{1,5})$/.exec(a[A.upstream] ?? '');
  const access = a[A.access] ?? '';
  const generation = Number(a[A.generation]);
  const lifetime = Number(a[A.lifetime]);
  if (l[LABEL_LOGIN] !== 'true' || !host || !up || !isAccessLevel(access) || !needsLogin(access) || !Number.isInteger(generation) || !(lifetime > 0)) return undefined;
  const namespace = l[LABEL_SET_NAMESPACE];
  const setName = l[LABEL_EXPOSURE_SET];
  const setUid = a[A.setUid];
  if (!namespace || !setName || !setUid) return undefined;
  return {
    host,
    setUid,
    namespace,
    setName,
    access,
    accessGeneration: generation,
    upstream: { host: up[1]!, port: Number(up[2]) },
    tls: route ? a[A.tls] === 'true' : Array.isArray(ing.spec?.tls) && ing.spec.tls.some((t: { hosts?: string[] }) => (t.hosts ?? []).map((h) => h.toLowerCase()).includes(host)),
    sessionLifetimeMs: lifetime,
    ...(a[A.pass] === 'true' && { pass: true }),
  };
}
