// The objects envserve owns: checked for name clashes before anything changes, applied with
// server-side apply (field manager "envserve", so a second identical apply is a no-op and keeps the
// resourceVersion), listed by label, pruned when no longer wanted, deleted by `down` (waiting
// until they are gone). An object with a wanted name that envserve does not own is never touched.
import { UserError } from '../../errors.js';
import { sleep } from '../backoff.js';
import { isNotFound, KubeApiError, type KubeClient } from './client.js';
import { POLICY_GROUP, POLICY_VERSION } from '../../policy/types.js';
import { API_CONCURRENCY, mapLimit } from '../limit.js';
import { LABEL_ENV, LABEL_EXPOSURE_SET, MANAGED_BY } from './manifests.js';

export const FIELD_MANAGER = 'envserve';

export type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; resourceVersion?: string; uid?: string; deletionTimestamp?: string };
  spec?: any;
  status?: any;
};

export type OwnedKind = 'Deployment' | 'Service' | 'Ingress' | 'HTTPRoute' | 'ExposureSet' | 'Middleware';

const COLLECTIONS: Record<OwnedKind, string> = {
  Deployment: '/apis/apps/v1/namespaces/{ns}/deployments',
  Service: '/api/v1/namespaces/{ns}/services',
  Ingress: '/apis/networking.k8s.io/v1/namespaces/{ns}/ingresses',
  HTTPRoute: '/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/httproutes',
  // What `serve` submitted to the envserve operator (src/operator/resource.ts): the operator's
  // Services and Ingresses go with it (owner references).
  ExposureSet: `/apis/${POLICY_GROUP}/${POLICY_VERSION}/namespaces/{ns}/exposuresets`,
  // The operator's login check in Traefik (`--login-check traefik`), in the operator's namespace.
  Middleware: '/apis/traefik.io/v1alpha1/namespaces/{ns}/middlewares',
};

/** The kinds the Kubernetes runtime applies itself, in the order that routes nothing to what is gone. */
export const RUNTIME_KINDS: readonly OwnedKind[] = ['HTTPRoute', 'Ingress', 'Service', 'Deployment'];
/** Every kind `down` removes for an environment: what was submitted to the operator first. */
export const DOWN_KINDS: readonly OwnedKind[] = ['ExposureSet', ...RUNTIME_KINDS];

export function collectionPath(kind: string, namespace: string): string {
  const c = COLLECTIONS[kind as OwnedKind];
  if (!c) throw new Error(`envserve does not manage ${kind} objects`);
  return c.replace('{ns}', encodeURIComponent(namespace));
}

export function objectPath(kind: string, namespace: string, name: string): string {
  return `${collectionPath(kind, namespace)}/${encodeURIComponent(name)}`;
}

export function ownerSelector(envName: string): string {
  return `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_ENV}=${envName}`;
}

export const describeObject = (o: { kind: string; metadata: { name: string; namespace?: string } }) =>
  `${o.kind.toLowerCase()} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

/**
 * This environment's, and the CLI's: what the operator created for an ExposureSet carries the same
 * environment labels but is the operator's to change or delete (`up`/`down` leave it alone).
 */
export function isOwnedBy(o: Obj, envName: string): boolean {
  const l = o.metadata.labels ?? {};
  return l['app.kubernetes.io/managed-by'] === MANAGED_BY && l[LABEL_ENV] === envName && l[LABEL_EXPOSURE_SET] === undefined;
}

type Api = Pick<KubeClient, 'request'>;

/**
 * Reads every object to be applied; throws a UserError listing each one that exists and is not
 * this environment's. Returns the existing ones by "Kind/name".
 */
export async function checkOwnership(client: Api, namespace: string, envName: string, desired: Obj[]): Promise<Map<string, Obj>> {
  const existing = new Map<string, Obj>();
  const clashes: string[] = [];
  await mapLimit(desired, API_CONCURRENCY, async (d) => {
    try {
      const cur = await client.request<Obj>(objectPath(d.kind, namespace, d.metadata.name));
      existing.set(`${d.kind}/${d.metadata.name}`, cur);
      if (!isOwnedBy(cur, envName)) {
        const l = cur.metadata.labels ?? {};
        const who = l[LABEL_EXPOSURE_SET] !== undefined ? `the envserve operator created it for ExposureSet "${l[LABEL_EXPOSURE_SET]}"`
          : l['app.kubernetes.io/managed-by'] === MANAGED_BY ? `it belongs to envserve environment "${l[LABEL_ENV]}"` : `it is not labelled app.kubernetes.io/managed-by=${MANAGED_BY}, ${LABEL_ENV}=${envName}`;
        clashes.push(`${describeObject({ ...d, metadata: { ...d.metadata, namespace } })} already exists and envserve does not own it (${who})`);
      }
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  });
  if (clashes.length > 0) {
    throw new UserError(
      `${clashes.sort().join('\n')}\nnothing was changed`,
      'envserve never overwrites objects it did not create: delete or rename that object, use another namespace (-n), or another environment name (--name)',
      'NotOwned',
    );
  }
  return existing;
}

/** Server-side apply of one object; returns what the API server stored. */
export async function applyObject(client: Api, namespace: string, obj: Obj): Promise<Obj> {
  const body = { ...obj, metadata: { ...obj.metadata, namespace } };
  return client.request<Obj>(objectPath(obj.kind, namespace, obj.metadata.name), {
    method: 'PATCH',
    query: { fieldManager: FIELD_MANAGER, force: true },
    contentType: 'application/apply-patch+yaml',
    body,
  });
}

/** Every object this environment owns in the namespace, of the given kinds. */
export async function listOwned(client: Api, namespace: string, envName: string, kinds: readonly OwnedKind[] = RUNTIME_KINDS): Promise<Obj[]> {
  const lists = await Promise.all(
    kinds.map(async (kind) => {
      let res: { items: Obj[] };
      try {
        res = await client.request<{ items: Obj[] }>(collectionPath(kind, namespace), { query: { labelSelector: ownerSelector(envName) } });
      } catch (e) {
        // No operator, or no Gateway API, in this cluster (404). A kind this user may not list (403:
        // a user of the operator may have no rights on Services) holds nothing her envserve created.
        if (e instanceof KubeApiError && (e.code === 403 || ((kind === 'ExposureSet' || kind === 'HTTPRoute') && e.code === 404))) return [];
        throw e;
      }
      return res.items.map((o) => ({ ...o, kind, apiVersion: o.apiVersion ?? '' }));
    }),
  );
  return lists.flat().filter((o) => isOwnedBy(o, envName));
}

/**
 * Deletes the objects (at most API_CONCURRENCY requests in flight) and waits once for all of them
 * to be gone, up to timeoutMs: one LIST per kind and namespace per round, not one GET per object.
 * Services have no deletecollection (and it would need one more RBAC verb for the others), so
 * every object is deleted by name, with its uid as a precondition.
 */
export async function deleteAndWait(client: Api, objects: Obj[], timeoutMs = 60_000): Promise<void> {
  await mapLimit(objects, API_CONCURRENCY, async (o) => {
    const path = objectPath(o.kind, o.metadata.namespace!, o.metadata.name);
    try {
      // Foreground for the Deployment: it disappears only after its ReplicaSets and pods did. A
      // Service or an Ingress goes at once (Background): waiting for the garbage collector to
      // remove a Service's EndpointSlices first is what made `down` take seconds per Service.
      const propagationPolicy = o.kind === 'Deployment' ? 'Foreground' : 'Background';
      await client.request(path, {
        method: 'DELETE',
        body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy, ...(o.metadata.uid && { preconditions: { uid: o.metadata.uid } }) },
      });
    } catch (e) {
      if (isNotFound(e)) return;
      // A precondition failure (409) means the object was replaced by another one: not ours to delete.
      if ((e as { code?: number }).code === 409) return;
      throw e;
    }
  });
  const deadline = Date.now() + timeoutMs;
  let left = objects;
  for (;;) {
    const groups = new Map<string, Obj[]>();
    for (const o of left) {
      const k = `${o.kind}\0${o.metadata.namespace}`;
      groups.set(k, [...(groups.get(k) ?? []), o]);
    }
    const still = await Promise.all(
      [...groups.values()].map(async (group) => {
        const { kind, metadata } = group[0]!;
        const managed = group.every((o) => o.metadata.labels?.['app.kubernetes.io/managed-by'] === MANAGED_BY);
        const res = await client.request<{ items: Obj[] }>(collectionPath(kind, metadata.namespace!), managed ? { query: { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY}` } } : {});
        const there = new Map(res.items.map((x) => [x.metadata.name, x.metadata.uid]));
        // Gone, or replaced by a new object of the same name (another uid): done with it.
        return group.filter((o) => there.has(o.metadata.name) && (!o.metadata.uid || there.get(o.metadata.name) === o.metadata.uid));
      }),
    );
    left = still.flat();
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new Error(`${left.map(describeObject).join(', ')} ${left.length === 1 ? 'is' : 'are'} still there after ${timeoutMs / 1000} s`);
    await sleep(100);
  }
}
