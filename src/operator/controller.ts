// The operator's controller: watches ExposureSets, ExposurePolicies, namespaces and the objects it
// owns; reconciles each ExposureSet (policy → Services/Ingresses by server-side apply → status).
// Nothing lives only in memory: object names are derived from the resource, every apply is
// idempotent and children carry an ownerReference, so a restarted operator converges to the same
// objects, never duplicates them, and the garbage collector removes them with their resource.
import { EventEmitter } from 'node:events';
import { UserError } from '../errors.js';
import { isNotFound, KubeApiError, type KubeClient, type WatchEvent } from '../apply/k8s/client.js';
import { LABEL_EXPOSURE_SET, MANAGED_BY } from '../apply/k8s/manifests.js';
import { applyObject, describeObject, objectPath, type Obj } from '../apply/k8s/owned.js';
import { policyFromObject } from '../policy/parse.js';
import type { ExposurePolicy } from '../policy/types.js';
import { sameMinor, VERSION } from '../version.js';
import { desiredFor, type Desired } from './desired.js';
import { inform } from './informer.js';
import { API_VERSION, CRD_NAMES, KIND, VERSION_ANNOTATION, policiesPath, resourcePath, type Condition, type ExposureSet, type ExposureSetStatus, type ExposureStatus } from './resource.js';
import type { OperatorReason } from '../reasons.js';

export interface OperatorOptions {
  /** Parallel reconciles (default 4). */
  concurrency?: number;
  /** How often a not-yet-Ready ExposureSet is looked at again (default 1000 ms). */
  requeueMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

export interface VersionInfo {
  version: string;
  apiVersion: string;
  /** The envserve version that installed the CRDs (their annotation), if readable. */
  crdVersion?: string;
  /** Set when the CRDs and this operator disagree on the minor version. */
  skew?: string;
}

type Api = Pick<KubeClient, 'request' | 'watch'>;
const key = (ns: string, name: string) => `${ns}/${name}`;

/** CRDs missing: the operator cannot run (exit 2). */
export class CrdsMissingError extends UserError {}

/** The installed CRDs against this envserve's version; throws CrdsMissingError when they are absent. */
export async function checkCrds(client: Pick<KubeClient, 'request'>, version = VERSION): Promise<VersionInfo> {
  try {
    await client.request(`/apis/${API_VERSION}`);
  } catch (e) {
    if (isNotFound(e)) {
      throw new CrdsMissingError(
        `the envserve CRDs are not installed in this cluster (the API ${API_VERSION} does not exist)`,
        'install them with: envserve operator manifests | kubectl apply -f -',
      );
    }
    throw e;
  }
  const info: VersionInfo = { version, apiVersion: API_VERSION };
  try {
    const crd = await client.request<Obj>(`/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${CRD_NAMES[0]}`);
    const v = crd.metadata.annotations?.[VERSION_ANNOTATION];
    if (v) {
      info.crdVersion = v;
      if (!sameMinor(v, version)) info.skew = `the CRDs were installed by envserve ${v}, this is envserve ${version}: re-apply \`envserve operator manifests\` of the version you run`;
    }
  } catch (e) {
    if (!(e instanceof KubeApiError && (e.code === 403 || e.code === 404))) throw e;
  }
  return info;
}

export class Operator extends EventEmitter {
  readonly sets = new Map<string, ExposureSet>();
  readonly policies = new Map<string, ExposurePolicy>();
  readonly namespaces = new Map<string, Record<string, string>>();
  defaultIngressClass?: string;
  /** What each set holds, for the others' per-namespace limit. */
  private readonly counts = new Map<string, number>();
  private readonly lastGeneration = new Map<string, number>();
  /** Sets that were all Ready at their last reconcile: they do not requeue themselves, so endpoint changes do. */
  private readonly readySets = new Set<string>();
  private readonly pending = new Set<string>();
  private readonly running = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private wake?: () => void;
  private synced = { sets: false, policies: false, namespaces: false };
  readonly stats = { reconciles: 0, applies: 0, deletes: 0, statusWrites: 0, errors: 0 };

  constructor(
    private readonly client: Api,
    private readonly opts: OperatorOptions = {},
  ) {
    super();
  }

  private log(level: 'info' | 'warn' | 'error', m: string): void {
    (this.opts.log ?? ((l, msg) => process.stderr.write(`${new Date().toISOString()} ${l} ${msg}\n`)))(level, m);
  }

  get ready(): boolean {
    return this.synced.sets && this.synced.policies && this.synced.namespaces;
  }

  enqueue(k: string, afterMs = 0): void {
    if (afterMs > 0) {
      if (this.timers.has(k)) return;
      this.timers.set(k, setTimeout(() => { this.timers.delete(k); this.enqueue(k); }, afterMs).unref());
      return;
    }
    this.pending.add(k);
    this.wake?.();
  }

  private enqueueNamespace(ns: string): void {
    for (const [k, s] of this.sets) if (s.metadata.namespace === ns) this.enqueue(k);
  }

  private enqueueAll(): void {
    for (const k of this.sets.keys()) this.enqueue(k);
  }

  /** Runs until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const onErr = (what: string) => (e: unknown) => this.log('warn', `${what}: ${(e as Error).message} (retrying)`);
    const informers = [
      inform<ExposureSet>(this.client, resourcePath(), {}, {
        list: (items) => {
          const seen = new Set<string>();
          for (const s of items) { const k = key(s.metadata.namespace, s.metadata.name); seen.add(k); this.sets.set(k, { ...s, apiVersion: API_VERSION, kind: KIND }); this.enqueue(k); }
          for (const k of [...this.sets.keys()]) if (!seen.has(k)) this.forget(k);
          this.synced.sets = true;
        },
        event: (ev) => this.onSet(ev),
        error: onErr('watching ExposureSets'),
      }, signal),
      inform<Obj>(this.client, policiesPath(), {}, {
        list: (items) => { this.policies.clear(); for (const p of items) this.setPolicy(p); this.synced.policies = true; this.enqueueAll(); },
        event: (ev) => { if (ev.type === 'DELETED') this.policies.delete(ev.object.metadata.name); else this.setPolicy(ev.object); this.enqueueAll(); },
        error: onErr('watching ExposurePolicies'),
      }, signal),
      inform<Obj>(this.client, '/api/v1/namespaces', {}, {
        list: (items) => { this.namespaces.clear(); for (const n of items) this.namespaces.set(n.metadata.name, n.metadata.labels ?? {}); this.synced.namespaces = true; this.enqueueAll(); },
        event: (ev) => {
          const n = ev.object.metadata.name;
          const before = JSON.stringify(this.namespaces.get(n));
          if (ev.type === 'DELETED') this.namespaces.delete(n); else this.namespaces.set(n, ev.object.metadata.labels ?? {});
          if (before !== JSON.stringify(this.namespaces.get(n))) this.enqueueNamespace(n);
        },
        error: onErr('watching namespaces'),
      }, signal),
      inform<Obj>(this.client, '/apis/networking.k8s.io/v1/ingressclasses', {}, {
        list: (items) => { this.defaultIngressClass = defaultClass(items); },
        event: () => { /* relisted below */ void this.refreshIngressClasses(); },
        error: onErr('watching IngressClasses'),
      }, signal),
      // Someone deleted or changed one of our objects: put it back.
      ...(['/api/v1/services', '/apis/networking.k8s.io/v1/ingresses'] as const).map((path) =>
        inform<Obj>(this.client, path, { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_EXPOSURE_SET}` }, {
          list: () => undefined,
          event: (ev) => { if (ev.type === 'DELETED' || ev.type === 'MODIFIED') this.enqueue(key(ev.object.metadata.namespace!, ev.object.metadata.labels![LABEL_EXPOSURE_SET]!), ev.type === 'MODIFIED' ? 200 : 0); },
          error: onErr(`watching ${path}`),
        }, signal),
      ),
      // The pods behind a Ready set's Service went (the EndpointSlice controller copies the
      // Service's labels onto its slices): its status follows after the first Ready too. Only a
      // slice left with no ready endpoint wakes a Ready set (sets not Ready requeue themselves
      // every second), so a burst of new sets adds no reconciles.
      inform<Obj>(this.client, '/apis/discovery.k8s.io/v1/endpointslices', { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_EXPOSURE_SET}` }, {
        list: () => undefined,
        event: (ev) => {
          const k = key(ev.object.metadata.namespace!, ev.object.metadata.labels![LABEL_EXPOSURE_SET]!);
          const endpoints = ((ev.object as { endpoints?: { conditions?: { ready?: boolean } }[] }).endpoints ?? []).filter((e) => e.conditions?.ready !== false);
          if (this.readySets.has(k) && (ev.type === 'DELETED' || endpoints.length === 0)) this.enqueue(k, 200);
        },
        error: onErr('watching EndpointSlices'),
      }, signal),
    ];
    const workers = Array.from({ length: this.opts.concurrency ?? 4 }, () => this.worker(signal));
    signal.addEventListener('abort', () => { this.wake?.(); for (const t of this.timers.values()) clearTimeout(t); }, { once: true });
    await Promise.all([...informers, ...workers]);
  }

  private async refreshIngressClasses(): Promise<void> {
    try {
      const l = await this.client.request<{ items: Obj[] }>('/apis/networking.k8s.io/v1/ingressclasses');
      const before = this.defaultIngressClass;
      this.defaultIngressClass = defaultClass(l.items);
      if (before !== this.defaultIngressClass) this.enqueueAll();
    } catch {
      // the informer retries
    }
  }

  private setPolicy(o: Obj): void {
    const { policy, errors } = policyFromObject(o);
    if (errors.length) this.log('warn', `ExposurePolicy ${policy.name} is invalid (${errors.join('; ')}): it denies every exposure in the namespaces it selects`);
    this.policies.set(policy.name, errors.length ? { ...policy, errors } : policy);
  }

  private onSet(ev: WatchEvent<ExposureSet>): void {
    const s = { ...ev.object, apiVersion: API_VERSION, kind: KIND };
    const k = key(s.metadata.namespace, s.metadata.name);
    this.emit('set', ev.type, s);
    if (ev.type === 'DELETED') {
      this.forget(k);
      void this.removeChildren(s).catch((e) => this.log('warn', `removing the objects of ${k}: ${(e as Error).message} (the garbage collector removes them too)`));
      this.enqueueNamespace(s.metadata.namespace); // the namespace's limit has room again
      return;
    }
    this.sets.set(k, s);
    // Our own status writes come back as MODIFIED with the same generation: nothing to do.
    if (ev.type === 'MODIFIED' && s.metadata.generation === this.lastGeneration.get(k)) return;
    this.enqueue(k);
  }

  /**
   * A deleted ExposureSet's Services and Ingresses go at once. Their ownerReference lets the
   * garbage collector do it as well, also while no operator runs, but it can lag by a minute.
   */
  private async removeChildren(set: ExposureSet): Promise<void> {
    const ns = set.metadata.namespace;
    for (const kind of ['Service', 'Ingress'] as const) {
      const path = kind === 'Service' ? `/api/v1/namespaces/${encodeURIComponent(ns)}/services` : `/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/ingresses`;
      const list = await this.client.request<{ items: Obj[] }>(path, { query: { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_EXPOSURE_SET}=${set.metadata.name}` } });
      for (const o of list.items.filter((x) => this.owns(set, x))) {
        try {
          await this.client.request(objectPath(kind, ns, o.metadata.name), { method: 'DELETE', body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: o.metadata.uid } } });
          this.stats.deletes++;
        } catch (e) {
          if (!isNotFound(e) && !(e instanceof KubeApiError && e.code === 409)) throw e;
        }
      }
    }
  }

  private forget(k: string): void {
    this.sets.delete(k);
    this.counts.delete(k);
    this.lastGeneration.delete(k);
    this.readySets.delete(k);
    const t = this.timers.get(k);
    if (t) clearTimeout(t);
    this.timers.delete(k);
  }

  private async worker(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const k = this.ready ? [...this.pending].find((x) => !this.running.has(x)) : undefined;
      if (k === undefined) {
        await new Promise<void>((r) => { this.wake = r; setTimeout(r, 500).unref(); });
        continue;
      }
      this.pending.delete(k);
      this.running.add(k);
      try {
        await this.reconcile(k);
      } catch (e) {
        this.stats.errors++;
        this.log('warn', `reconcile ${k}: ${(e as Error).message} (retrying)`);
        this.enqueue(k, 2000);
      } finally {
        this.running.delete(k);
        if (this.pending.size) this.wake?.();
      }
    }
  }

  /** Older sets in the namespace come first for the per-namespace limit, so the answer survives a restart. */
  private othersBefore(set: ExposureSet): number {
    const me = order(set);
    let n = 0;
    for (const [k, s] of this.sets) {
      if (s.metadata.namespace !== set.metadata.namespace || s === set || order(s) >= me) continue;
      n += this.counts.get(k) ?? (Array.isArray(s.spec?.exposures) ? s.spec.exposures.length : 0);
    }
    return n;
  }

  async reconcile(k: string): Promise<void> {
    const set = this.sets.get(k);
    if (!set || set.metadata.deletionTimestamp) return;
    this.stats.reconciles++;
    const ns = set.metadata.namespace;
    let d: Desired = desiredFor({
      set,
      policies: [...this.policies.values()],
      namespaceLabels: this.namespaces.get(ns) ?? { 'kubernetes.io/metadata.name': ns },
      othersInNamespace: this.othersBefore(set),
      ...(this.defaultIngressClass !== undefined && { defaultIngressClass: this.defaultIngressClass }),
    });
    this.counts.set(k, d.outcome === 'Admitted' ? d.count : 0);

    // Never touch an object of that name that is not this resource's.
    const applied = new Map<string, Obj>();
    const clashes: string[] = [];
    for (const o of d.objects) {
      try {
        const cur = await this.client.request<Obj>(objectPath(o.kind, ns, o.metadata.name));
        if (!this.owns(set, cur)) clashes.push(`${describeObject({ ...o, metadata: { ...o.metadata, namespace: ns } })} already exists and is not this ${KIND}'s`);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
    }
    if (clashes.length) d = { ...d, outcome: 'Denied', reason: 'NotOwned', message: `${clashes.join('; ')}; nothing was changed`, objects: [] };

    for (const o of d.objects) {
      applied.set(`${o.kind}/${o.metadata.name}`, await applyObject(this.client, ns, o));
      this.stats.applies++;
    }
    // Prune what this set no longer wants (a removed exposure, or everything once denied).
    for (const kind of ['Service', 'Ingress'] as const) {
      const path = kind === 'Service' ? `/api/v1/namespaces/${encodeURIComponent(ns)}/services` : `/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/ingresses`;
      const list = await this.client.request<{ items: Obj[] }>(path, { query: { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_EXPOSURE_SET}=${set.metadata.name}` } });
      for (const o of list.items) {
        if (applied.has(`${kind}/${o.metadata.name}`) || !this.owns(set, o)) continue;
        try {
          await this.client.request(objectPath(kind, ns, o.metadata.name), { method: 'DELETE', body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: o.metadata.uid } } });
          this.stats.deletes++;
        } catch (e) {
          if (!isNotFound(e) && !(e instanceof KubeApiError && e.code === 409)) throw e;
        }
      }
    }

    const exposures = d.outcome === 'Admitted' ? await this.observe(set, d, applied) : d.exposures;
    const allReady = d.outcome === 'Admitted' && exposures.every((e) => e.kind === 'k8s-port-forward' || e.ready);
    const notReady = exposures.find((e) => e.kind !== 'k8s-port-forward' && !e.ready);
    const conditions = nextConditions(set, d, allReady, notReady);
    const status: ExposureSetStatus = { observedGeneration: set.metadata.generation ?? 0, conditions, exposures, operatorVersion: VERSION };
    if (canonical(status) !== canonical(set.status ?? {})) {
      try {
        const updated = await this.client.request<ExposureSet>(`${resourcePath(ns, set.metadata.name)}/status`, {
          method: 'PATCH',
          contentType: 'application/merge-patch+json',
          body: { status },
        });
        this.stats.statusWrites++;
        const cur = this.sets.get(k);
        if (cur && cur.metadata.uid === updated.metadata.uid && Number(updated.metadata.resourceVersion) >= Number(cur.metadata.resourceVersion ?? 0)) this.sets.set(k, { ...updated, apiVersion: API_VERSION, kind: KIND });
      } catch (e) {
        if (!isNotFound(e)) throw e;
        return; // deleted meanwhile
      }
    }
    this.lastGeneration.set(k, set.metadata.generation ?? 0);
    if (d.outcome === 'Admitted' && allReady) this.readySets.add(k);
    else this.readySets.delete(k);
    if (d.outcome === 'Admitted' && !allReady) this.enqueue(k, this.opts.requeueMs ?? 1000);
  }

  private owns(set: ExposureSet, o: Obj): boolean {
    const l = o.metadata.labels ?? {};
    const refs = ((o.metadata as Record<string, unknown>).ownerReferences ?? []) as { uid?: string }[];
    return l['app.kubernetes.io/managed-by'] === MANAGED_BY && l[LABEL_EXPOSURE_SET] === set.metadata.name && (refs.length === 0 || refs.some((r) => r.uid === set.metadata.uid));
  }

  /** Readiness and addresses of what was applied: endpoints behind each Service, an address on each Ingress. */
  private async observe(set: ExposureSet, d: Desired, applied: Map<string, Obj>): Promise<ExposureStatus[]> {
    const ns = set.metadata.namespace;
    const out: ExposureStatus[] = [];
    for (const x of d.exposures) {
      const [kind, name] = (x.object ?? '').split('/');
      if (x.kind === 'k8s-port-forward' || !name) {
        out.push({ ...x, message: 'runs on the user\'s machine (envserve serve)' });
        continue;
      }
      const o = applied.get(`${kind === 'service' ? 'Service' : 'Ingress'}/${name}`);
      if (kind === 'service' && o) {
        const port = o.spec?.ports?.[0];
        const addresses = [`${o.spec?.clusterIP}:${port?.port}`];
        if (port?.nodePort) addresses.push(`<node>:${port.nodePort}`);
        const lb = (o.status?.loadBalancer?.ingress ?? []).map((i: { ip?: string; hostname?: string }) => `${i.ip ?? i.hostname}:${port?.port}`);
        addresses.push(...lb);
        const slices = await this.client.request<{ items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }>(
          `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/endpointslices`,
          { query: { labelSelector: `kubernetes.io/service-name=${name}` } },
        );
        const endpoints = slices.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
        if (endpoints === 0) out.push({ ...x, ready: false, reason: 'NoEndpoints', message: `no Ready pod matches the Service's selector ${JSON.stringify(o.spec?.selector)}`, addresses });
        else if (o.spec?.type === 'LoadBalancer' && lb.length === 0) out.push({ ...x, ready: false, reason: 'LoadBalancerPending', message: 'no load balancer address yet', addresses });
        else out.push({ ...x, ready: true, reason: 'Ready', addresses, url: `http://${addresses[0]}/` });
      } else if (kind === 'ingress' && o) {
        const lb = (o.status?.loadBalancer?.ingress ?? []).map((i: { ip?: string; hostname?: string }) => i.ip ?? i.hostname).filter(Boolean) as string[];
        if (lb.length === 0) out.push({ ...x, ready: false, reason: 'IngressNotAdmitted', message: `no Ingress controller has admitted it yet (class ${o.spec?.ingressClassName ?? 'default'})` });
        else out.push({ ...x, ready: true, reason: 'Ready', addresses: lb });
      } else out.push({ ...x, ready: false, reason: 'Starting' });
    }
    return out;
  }
}

/** JSON with sorted keys: the API server stores unstructured status with its keys sorted. */
export function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.keys(x).sort().map((k) => [k, x[k]])) : x));
}

function order(s: ExposureSet): string {
  return `${(s.metadata as { creationTimestamp?: string }).creationTimestamp ?? ''}/${s.metadata.name}`;
}

function defaultClass(items: Obj[]): string | undefined {
  return items.find((c) => c.metadata.annotations?.['ingressclass.kubernetes.io/is-default-class'] === 'true')?.metadata.name;
}

/** Admitted / Denied / Ready, keeping lastTransitionTime when a condition's status did not change. */
function nextConditions(set: ExposureSet, d: Desired, allReady: boolean, notReady: ExposureStatus | undefined): Condition[] {
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
    cond('Ready', allReady, allReady ? 'Ready' : admitted ? (notReady?.reason ?? 'Starting') : d.reason, allReady ? 'every Service has a Ready endpoint and every Ingress an address' : admitted ? `${notReady?.id}: ${notReady?.message ?? 'pending'}` : 'denied: nothing was created'),
  ];
}

