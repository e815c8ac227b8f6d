// What the operator reports about an admitted ExposureSet: readiness and addresses of what it
// applied (endpoints behind each Service, an address on each Ingress), and the set's conditions.
import type { KubeClient } from '../apply/k8s/client.js';
import type { Obj } from '../apply/k8s/owned.js';
import type { OperatorReason } from '../reasons.js';
import type { Desired } from './desired.js';
import { observeRoute } from './observe-route.js';
import type { Condition, ExposureSet, ExposureStatus } from './resource.js';

/** Readiness and addresses of what was applied (`applied`: "Kind/name" → the object the API server returned). */
export async function observe(client: Pick<KubeClient, 'request'>, set: ExposureSet, d: Desired, applied: Map<string, Obj>): Promise<ExposureStatus[]> {
  const ns = set.metadata.namespace;
  const out: ExposureStatus[] = [];
  for (const x of d.exposures) {
    const [kind, name] = (x.object ?? '').split('/');
    if (x.kind === 'k8s-port-forward' || !name) {
      out.push({ ...x, message: 'runs on the user\'s machine (envserve serve)' });
      continue;
    }
    const o = applied.get(`${kind === 'service' ? 'Service' : kind === 'httproute' ? 'HTTPRoute' : 'Ingress'}/${name}`);
    if (kind === 'httproute' && o) {
      out.push({ ...x, ...(await observeRoute(client, o.metadata.namespace ?? ns, name, o)) }); // (a login route is in the operator's namespace)
      continue;
    }
    if (kind === 'service' && o) {
      const port = o.spec?.ports?.[0];
      const addresses = [`${o.spec?.clusterIP}:${port?.port}`];
      if (port?.nodePort) addresses.push(`<node>:${port.nodePort}`);
      const lb = (o.status?.loadBalancer?.ingress ?? []).map((i: { ip?: string; hostname?: string }) => `${i.ip ?? i.hostname}:${port?.port}`);
      addresses.push(...lb);
      const slices = await client.request<{ items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }>(
        `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/endpointslices`,
        { query: { labelSelector: `kubernetes.io/service-name=${name}` } },
      );
      const endpoints = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
      if (endpoints === 0) out.push({ ...x, ready: false, reason: 'NoEndpoints', message: `no Ready pod matches the Service's selector ${JSON.stringify(o.spec?.selector)}`, addresses });
      else if (o.spec?.type === 'LoadBalancer' && lb.length === 0) out.push({ ...x, ready: false, reason: 'LoadBalancerPending', message: 'no load balancer address yet', addresses });
      else {
        // A URL only where one answers from outside the cluster (its load balancer): the ClusterIP
        // (addresses[0]) answers only inside it, `<node>:port` names no node (issue 22).
        const http = d.plan?.exposures.find((e) => e.id === x.id)?.protocol === 'http';
        out.push({ ...x, ready: true, reason: 'Ready', addresses, ...(lb.length && { url: http ? `http://${lb[0]}/` : `tcp://${lb[0]}` }) });
      }
    } else if (kind === 'ingress' && o) {
      const lb = (o.status?.loadBalancer?.ingress ?? []).map((i: { ip?: string; hostname?: string }) => i.ip ?? i.hostname).filter(Boolean) as string[];
      if (lb.length === 0) out.push({ ...x, ready: false, reason: 'IngressNotAdmitted', message: `no Ingress controller has admitted it yet (class ${o.spec?.ingressClassName ?? 'default'})` });
      else out.push({ ...x, ready: true, reason: 'Ready', addresses: lb });
    } else out.push({ ...x, ready: false, reason: 'Starting' });
  }
  return out;
}

/** Admitted / Denied / Ready, keeping lastTransitionTime when a condition's status did not change. */
export function nextConditions(set: ExposureSet, d: Desired, allReady: boolean, notReady: ExposureStatus | undefined): Condition[] {
  const gen = set.metadata.generation ?? 0;
  const prev = new Map((set.status?.conditions ?? []).map((c) => [c.type, c]));
  const cond = (type: Condition['type'], ok: boolean, reason: OperatorReason, message: string): Condition => {
    const status = ok ? 'True' : 'False';
    const p = prev.get(type);
    return { type, status, reason, message, lastTransitionTime: p && p.status === status ? p.lastTransitionTime : new Date().toISOString(), observedGeneration: gen };
  };
  const admitted = d.outcome === 'Admitted';
  return [
    cond('Admitted', admitted, d.reason, d.message),
    cond('Denied', !admitted, admitted ? 'Admitted' : d.reason, admitted ? 'no exposure is denied' : d.message),
    cond('Ready', allReady, allReady ? 'Ready' : admitted ? (notReady?.reason ?? 'Starting') : d.reason, allReady ? 'every Service has a Ready endpoint, every Ingress an address and every HTTPRoute is accepted' : admitted ? `${notReady?.id}: ${notReady?.message ?? 'pending'}` : 'denied: nothing was created'),
  ];
}

/** JSON with sorted keys: the API server stores unstructured status with its keys sorted. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x));
}
