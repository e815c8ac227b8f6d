// The Services and Ingresses an ExposureSet owns: listed by label, recognised by label and
// ownerReference (never someone else's object of the same name), deleted by uid precondition.
import { isNotFound, KubeApiError, type KubeClient } from '../apply/k8s/client.js';
import { LABEL_EXPOSURE_SET, MANAGED_BY } from '../apply/k8s/manifests.js';
import { collectionPath, objectPath, type Obj } from '../apply/k8s/owned.js';
import type { ExposureSet } from './resource.js';
import { LABEL_LOGIN, LABEL_SET_NAMESPACE } from './login/ingress.js';

export const CHILD_KINDS = ['Service', 'Ingress', 'HTTPRoute'] as const;
export type ChildKind = (typeof CHILD_KINDS)[number];

/** Whether the object is this set's: our labels, and no ownerReference or one to this set's uid. */
export function owns(set: ExposureSet, o: Obj): boolean {
  const l = o.metadata.labels ?? {};
  const refs = ((o.metadata as Record<string, unknown>).ownerReferences ?? []) as { uid?: string }[];
  // A login Ingress lives in the operator's namespace: its labels name the set's namespace too.
  const ns = l[LABEL_SET_NAMESPACE] ?? o.metadata.namespace ?? set.metadata.namespace;
  return l['app.kubernetes.io/managed-by'] === MANAGED_BY && l[LABEL_EXPOSURE_SET] === set.metadata.name && ns === set.metadata.namespace && (refs.length === 0 || refs.some((r) => r.uid === set.metadata.uid));
}

/** What the operator makes for a login-level URL in its own namespace (issue 22). */
export const LOGIN_KINDS = ['Ingress', 'HTTPRoute', 'Middleware'] as const;
export type LoginKind = (typeof LOGIN_KINDS)[number];

/** The set's login Ingresses, HTTPRoutes or Traefik Middlewares in the operator's namespace (issue 22), by label. */
export async function listLoginChildren(client: Pick<KubeClient, 'request'>, set: ExposureSet, kind: LoginKind, gatewayNamespace: string): Promise<Obj[]> {
  const path = collectionPath(kind, gatewayNamespace);
  try {
    const list = await client.request<{ items: Obj[] }>(path, {
      query: { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_LOGIN}=true,${LABEL_EXPOSURE_SET}=${set.metadata.name},${LABEL_SET_NAMESPACE}=${set.metadata.namespace}` },
    });
    return list.items.filter((o) => owns(set, o));
  } catch (e) {
    if (kind !== 'Ingress' && isNotFound(e)) return []; // no Gateway API, or no Traefik CRDs, here
    throw e;
  }
}

/** The set's objects of one kind now (by label, then by ownership). */
export async function listChildren(client: Pick<KubeClient, 'request'>, set: ExposureSet, kind: ChildKind): Promise<Obj[]> {
  const ns = encodeURIComponent(set.metadata.namespace);
  const path = kind === 'Service' ? `/api/v1/namespaces/${ns}/services` : kind === 'Ingress' ? `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses` : `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`;
  let list: { items: Obj[] };
  try {
    list = await client.request<{ items: Obj[] }>(path, { query: { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_EXPOSURE_SET}=${set.metadata.name}` } });
  } catch (e) {
    // A cluster without Gateway API has no HTTPRoutes to own.
    if (kind === 'HTTPRoute' && isNotFound(e)) return [];
    throw e;
  }
  return list.items.filter((o) => owns(set, o));
}

/** Deletes that very object (uid precondition); gone or replaced meanwhile is fine. Returns whether it deleted. */
export async function deleteChild(client: Pick<KubeClient, 'request'>, kind: ChildKind | LoginKind, namespace: string, o: Obj): Promise<boolean> {
  try {
    await client.request(objectPath(kind, namespace, o.metadata.name), { method: 'DELETE', body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: o.metadata.uid } } });
    return true;
  } catch (e) {
    if (isNotFound(e) || (e instanceof KubeApiError && e.code === 409)) return false;
    throw e;
  }
}
