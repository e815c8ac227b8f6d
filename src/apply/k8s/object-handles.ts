// The handles of the cluster-object exposures (a Service, an Ingress): built once the object is
// applied and its watcher has settled; what they report comes from that watcher.
import type { ObservedExposure } from '../../probe/index.js';
import type { K8sIngressExposure, K8sServiceExposure, Plan } from '../../plan/types.js';
import type { ExposureHandle } from '../types.js';
import type { IngressWatcher } from './ingress-watch.js';
import { serviceName } from './manifests.js';
import { describeObject } from './owned.js';
import type { Address, ServiceWatcher } from './service-watch.js';
import type { ClusterView } from './view.js';

/** What a k8s exposure adds to the common handle: every address. */
export interface K8sExposureHandle extends ExposureHandle {
  urls(): string[];
  addresses(): Address[];
  /** The cluster object behind it, if any ("service default/x"). */
  readonly object?: string;
}

/** What the handles need from the runtime. */
export interface HandleContext {
  readonly namespace: string;
  readonly plan: Plan;
  /** The workload the exposures reach ("deployment default/app"). */
  readonly targetDescription: string;
  /** The exposure's object (or what it routes to) changed: probe it now. */
  changed(id: string): void;
  /** Watchers refreshed before each probe round while pending (a load balancer, an admission). */
  readonly watchers: Set<{ refresh(): Promise<unknown>; pending(): boolean }>;
}

export function serviceHandle(ctx: HandleContext, e: K8sServiceExposure, name: string, w: ServiceWatcher, view: ClusterView | undefined): K8sExposureHandle {
  const watcher = { refresh: () => w.refresh(), pending: () => w.lbPending || !w.svc };
  // The Service or its endpoints changed: refresh its addresses from the watch, probe it now.
  const unwatch = view?.onService(name, () => {
    void w.refresh().catch(() => undefined);
    ctx.changed(e.id);
  });
  const object = describeObject({ kind: 'Service', metadata: { name, namespace: ctx.namespace } });
  const first = () => w.addresses().find((a) => a.scope !== 'cluster') ?? w.addresses()[0];
  const handle: K8sExposureHandle = {
    spec: e,
    get listen() {
      const a = first();
      return a ? { address: a.address, port: a.port } : { address: '', port: e.servicePort };
    },
    target: `${ctx.targetDescription} port ${e.envPort}`,
    object,
    watched: view !== undefined,
    observed: () => observedOf(ctx.namespace, name, w.addresses()),
    condition() {
      if (w.lbPending) return { reason: 'LoadBalancerPending', message: w.lbMessage ?? 'waiting for a load-balancer address', blocking: true };
      return undefined;
    },
    urls: () => w.addresses().filter((a) => a.scope !== 'cluster').map((a) => a.url),
    inCluster: () => {
      const urls = w.addresses().filter((a) => a.scope === 'cluster').map((a) => a.url);
      const port = w.addresses().find((a) => a.scope === 'cluster')?.port ?? e.servicePort;
      return { urls, command: `kubectl -n ${ctx.namespace} port-forward service/${name} ${port}:${port}` };
    },
    addresses: () => w.addresses(),
    // The Service stays until `down` (or `up` ends); prune() removes it when the plan drops it.
    stop: watching(ctx, watcher, unwatch),
  };
  return handle;
}

export function ingressHandle(ctx: HandleContext, e: K8sIngressExposure, name: string, w: IngressWatcher, view: ClusterView | undefined): K8sExposureHandle {
  const watcher = { refresh: () => w.refresh(), pending: () => !w.admitted };
  const changed = () => {
    void w.refresh().catch(() => undefined);
    ctx.changed(e.id);
  };
  // The Ingress itself, and the Service it routes to (its endpoints are what answers).
  const backend = serviceName(ctx.plan, ctx.plan.exposures.find((x) => x.id === e.serviceId) as K8sServiceExposure);
  const offs = view ? [view.onIngress(name, changed), view.onService(backend, () => ctx.changed(e.id))] : [];
  const unwatch = () => offs.forEach((off) => off());
  const handle: K8sExposureHandle = {
    spec: e,
    get listen() {
      const a = w.addresses()[0];
      return a ? { address: a.address, port: a.port } : { address: e.host, port: 80 };
    },
    target: `service ${backend} port ${e.servicePort}`,
    object: describeObject({ kind: 'Ingress', metadata: { name, namespace: ctx.namespace } }),
    watched: view !== undefined,
    observed: () => observedOf(ctx.namespace, name, w.addresses()),
    condition() {
      if (!w.admitted) return { reason: 'IngressNotAdmitted', message: w.notAdmittedMessage(), blocking: true };
      return undefined;
    },
    urls: () => [w.url(), ...w.addresses().map((a) => a.url)],
    addresses: () => w.addresses(),
    stop: watching(ctx, watcher, unwatch),
  };
  return handle;
}

/** Registers the handle's watcher with the runtime; the returned stop() undoes that and the watch. */
function watching(ctx: HandleContext, watcher: { refresh(): Promise<unknown>; pending(): boolean }, unwatch: (() => void) | undefined): () => Promise<void> {
  ctx.watchers.add(watcher);
  return async () => {
    unwatch?.();
    ctx.watchers.delete(watcher);
  };
}

function observedOf(namespace: string, name: string, addrs: Address[]): ObservedExposure {
  return {
    object: { namespace, name },
    addresses: addrs.flatMap((a) => (a.scope === 'local' ? [] : [{ scope: a.scope, address: a.address, port: a.port }])),
  };
}
