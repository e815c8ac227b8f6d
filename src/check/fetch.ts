// Reads the objects `check` diagnoses from, all in parallel (one round trip in practice), through
// the project's one Kubernetes client. A read that RBAC forbids becomes "unavailable" and the
// checks that need it are skipped with reason Forbidden, instead of failing the whole check.
import { isNotFound, KubeApiError, type KubeClient } from '../apply/k8s/client.js';
import type { ClusterSnapshot, Maybe, Obj } from './snapshot.js';
import { isUnavailable } from './snapshot.js';
import type { TargetRef, WorkloadRef } from './subject.js';

type Api = Pick<KubeClient, 'request'>;

async function read<T>(what: string, fn: () => Promise<T>): Promise<Maybe<T>> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof KubeApiError && e.code === 403) return { unavailable: 'Forbidden', message: `this user may not read ${what}` };
    if (e instanceof KubeApiError) return { unavailable: 'Error', message: `reading ${what}: ${e.message} (${e.code})` };
    throw e;
  }
}

const items = async (client: Api, path: string, query?: Record<string, string>) => (await client.request<{ items: Obj[] }>(path, query ? { query } : {})).items ?? [];

/** Reads everything the diagnosis of `namespace` may need. */
export async function fetchSnapshot(client: Api, namespace: string, workload?: WorkloadRef | TargetRef): Promise<ClusterSnapshot> {
  const ns = encodeURIComponent(namespace);
  const deploymentName = workload?.kind === 'deployment' ? workload.name : undefined;
  const [pods, services, endpointSlices, ingresses, ingressClasses, networkPolicies, clusterDNS, nodeAddresses, deployment] = await Promise.all([
    read('pods', () => items(client, `/api/v1/namespaces/${ns}/pods`)),
    read('services', () => items(client, `/api/v1/namespaces/${ns}/services`)),
    read('endpointslices', () => items(client, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`)),
    read('ingresses', () => items(client, `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses`)),
    read('ingressclasses', () => items(client, '/apis/networking.k8s.io/v1/ingressclasses')),
    read('networkpolicies', () => items(client, `/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`)),
    read('services in kube-system', async () => {
      try {
        await client.request('/api/v1/namespaces/kube-system/services/kube-dns');
        return true;
      } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
      }
    }),
    read('nodes', async () => (await items(client, '/api/v1/nodes')).map(nodeAddress).filter((a): a is string => !!a)),
    deploymentName === undefined
      ? Promise.resolve(undefined)
      : read(`deployment ${deploymentName}`, async () => {
        try {
          return await client.request<Obj>(`/apis/apps/v1/namespaces/${ns}/deployments/${encodeURIComponent(deploymentName)}`);
        } catch (e) {
          if (isNotFound(e)) return null;
          throw e;
        }
      }),
  ]);
  // TLS secrets: existence only; the answer's data is dropped at once and never printed.
  const secretNames = new Set<string>();
  if (!isUnavailable(ingresses)) for (const i of ingresses) for (const t of (i.spec?.tls ?? []) as Obj[]) if (t.secretName) secretNames.add(t.secretName);
  const secrets: Record<string, Maybe<boolean>> = {};
  await Promise.all([...secretNames].map(async (name) => {
    secrets[name] = await read(`secret ${name}`, async () => {
      try {
        await client.request(`/api/v1/namespaces/${ns}/secrets/${encodeURIComponent(name)}`);
        return true;
      } catch (e) {
        if (isNotFound(e)) return false;
        throw e;
      }
    });
  }));
  const routes = await fetchRoutes(client, namespace);
  return {
    namespace, pods, services, endpointSlices, ingresses, ingressClasses, networkPolicies, secrets, clusterDNS, nodeAddresses,
    ...(deployment !== undefined && { deployment }),
    ...routes,
  };
}

/** The namespace's HTTPRoutes (null: no Gateway API) and the Gateways they name (null: missing). */
async function fetchRoutes(client: Api, namespace: string): Promise<Pick<ClusterSnapshot, 'httpRoutes' | 'gateways'>> {
  const httpRoutes = await read('httproutes', async () => {
    try {
      return await items(client, `/apis/gateway.networking.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/httproutes`);
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  });
  const gateways: Record<string, Maybe<Obj | null>> = {};
  if (httpRoutes && !isUnavailable(httpRoutes)) {
    const refs = new Set<string>();
    for (const r of httpRoutes) for (const p of (r.spec?.parentRefs ?? []) as Obj[]) if ((p.kind ?? 'Gateway') === 'Gateway') refs.add(`${p.namespace ?? namespace}/${p.name}`);
    await Promise.all([...refs].map(async (key) => {
      const [ns, name] = key.split('/') as [string, string];
      gateways[key] = await read(`gateway ${key}`, async () => {
        try {
          return await client.request<Obj>(`/apis/gateway.networking.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/gateways/${encodeURIComponent(name)}`);
        } catch (e) {
          if (isNotFound(e)) return null;
          throw e;
        }
      });
    }));
  }
  return { httpRoutes, gateways };
}

function nodeAddress(n: Obj): string | undefined {
  const a = (n.status?.addresses ?? []) as { type: string; address: string }[];
  return (a.find((x) => x.type === 'InternalIP') ?? a.find((x) => x.type === 'ExternalIP'))?.address;
}
