// The operator's controller, in controller-runtime's shape: informers (ExposureSets,
// ExposurePolicies, namespaces, IngressClasses and the objects it owns) turn events into keys on
// a work queue; workers take a key and reconcile that ExposureSet (policy → Services/Ingresses by
// server-side apply → status), which returns a requeue-after or throws (→ per-key backoff); it
// never queues itself. With a leader elector only the leader's workers run, and every write goes
// through a client that refuses it unless the Lease is surely still held.
// Nothing lives only in memory: object names are derived from the resource, every apply is
// idempotent and children carry an ownerReference, so a new leader converges to the same objects,
// never duplicates them, and the garbage collector removes them with their resource.
import { EventEmitter } from 'node:events';
import { isNotFound, type KubeClient } from '../apply/k8s/client.js';
import { Informer } from '../apply/k8s/informer.js';
import { LABEL_EXPOSURE_SET, MANAGED_BY } from '../apply/k8s/manifests.js';
import { applyObject, collectionPath, describeObject, objectPath, type Obj } from '../apply/k8s/owned.js';
import { policyFromObject } from '../policy/parse.js';
import type { ExposurePolicy } from '../policy/types.js';
import { VERSION } from '../version.js';
import { CHILD_KINDS, deleteChild, listChildren, listLoginChildren, LOGIN_KINDS, owns, type LoginKind } from './children.js';
import { A, accessGeneration, LABEL_LOGIN, LABEL_SET_NAMESPACE, checkName, syncCheckGeneration, type LoginGatewayRef } from './login/ingress.js';
import { desiredFor, type Desired } from './desired.js';
import { guardWrites, NotLeaderError, type LeaderElector } from './leader.js';
import { canonical, nextConditions, observe } from './observe.js';
import { API_VERSION, KIND, policiesPath, resourcePath, type ExposureSet, type ExposureSetStatus } from './resource.js';
import { WorkQueue } from './workqueue.js';

export { checkCrds, CrdsMissingError, waitForCrds, whileApiServerAway, type VersionInfo } from './crds.js';
export { canonical } from './observe.js';

export interface OperatorOptions {
  /** Parallel reconciles (default 4). */
  concurrency?: number;
  /** How long a not-yet-Ready ExposureSet waits before it is looked at again (default 1000 ms). */
  requeueMs?: number;
  /** The first retry's delay after a failed reconcile; it doubles per failure up to 30 s (default 250 ms). */
  baseBackoffMs?: number;
  /** Only the leader reconciles; without one, this process always does. */
  leader?: LeaderElector;
  /** Log every write sent to the API server (an audit of what this process wrote). */
  logWrites?: boolean;
  /** The field manager of the status writes (default envserve-operator): one per pod shows who wrote. */
  fieldManager?: string;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** The login gateway this operator runs (issue 22): login-level Ingresses go through it. Without: they are refused. */
  loginGateway?: LoginGatewayRef;
}

/** What reconcile asks of the queue: look at the key again after requeueAfter ms. */
export interface Result {
  requeueAfter?: number;
}

type Api = Pick<KubeClient, 'request' | 'watch'>;
const keyOf = (ns: string, name: string) => `${ns}/${name}`;
const childSelector = `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_EXPOSURE_SET}`;

export class Operator extends EventEmitter {
  readonly sets = new Map<string, ExposureSet>();
  readonly policies = new Map<string, ExposurePolicy>();
  readonly namespaces = new Map<string, Record<string, string>>();
  defaultIngressClass?: string;
  readonly queue: WorkQueue;
  /** What each set holds, for the others' per-namespace limit. */
  private readonly counts = new Map<string, number>();
  private readonly lastGeneration = new Map<string, number>();
  /** Sets that were all Ready at their last reconcile: they do not requeue themselves, so endpoint changes do. */
  private readonly readySets = new Set<string>();
  /** Deleted sets whose objects the leader removes at once (the garbage collector would, later). */
  private readonly tombstones = new Map<string, ExposureSet>();
  private readonly informers: Informer<Obj>[] = [];
  /** The client reconcile writes with: refuses writes unless leading (with a leader elector). */
  private readonly writer: Api;
  readonly stats = { reconciles: 0, applies: 0, deletes: 0, statusWrites: 0, errors: 0, refusedWrites: 0 };

  constructor(
    private readonly client: Api,
    private readonly opts: OperatorOptions = {},
  ) {
    super();
    this.queue = new WorkQueue(opts.baseBackoffMs !== undefined ? { baseDelayMs: opts.baseBackoffMs } : {});
    const leader = opts.leader;
    this.writer = guardWrites(
      client,
      () => !leader || leader.canWrite(),
      (method, path) => {
        this.stats.refusedWrites++;
        this.log('warn', `not leading (or the Lease may have expired): refused ${method} ${path}`);
      },
      opts.logWrites ? (method, path) => this.log('info', `write ${method} ${path}`) : undefined,
    );
  }

  private log(level: 'info' | 'warn' | 'error', m: string): void {
    (this.opts.log ?? ((l, msg) => process.stderr.write(`${new Date().toISOString()} ${l} ${msg}\n`)))(level, m);
  }

  /** Every informer has listed once. */
  get ready(): boolean {
    return this.informers.length > 0 && this.informers.every((i) => i.listed);
  }

  private enqueueNamespace(ns: string): void {
    for (const [k, s] of this.sets) if (s.metadata.namespace === ns) this.queue.add(k);
  }

  private enqueueAll(): void {
    for (const k of this.sets.keys()) this.queue.add(k);
  }

  /** Runs until the signal aborts: the informers always (the HTTP API reads their cache), the workers while leading. */
  async run(signal: AbortSignal): Promise<void> {
    const watch = (path: string, labelSelector: string, onChange: (key: string, o: Obj | undefined, old: Obj | undefined) => void) => {
      const inf = new Informer<Obj>(this.client, path, labelSelector);
      inf.on('change', onChange);
      inf.on('watchError', (m: string) => this.log('warn', `watching ${path}: ${m} (retrying)`));
      this.informers.push(inf);
      return inf;
    };
    watch(resourcePath(), '', (k, o, old) => this.onSet(k, o as ExposureSet | undefined, old as ExposureSet | undefined));
    watch(policiesPath(), '', (name, o) => {
      if (o) this.setPolicy(o);
      else this.policies.delete(name);
      this.enqueueAll();
    });
    watch('/api/v1/namespaces', '', (name, o) => {
      const before = JSON.stringify(this.namespaces.get(name));
      if (o) this.namespaces.set(name, o.metadata.labels ?? {});
      else this.namespaces.delete(name);
      if (before !== JSON.stringify(this.namespaces.get(name))) this.enqueueNamespace(name);
    });
    const classes = watch('/apis/networking.k8s.io/v1/ingressclasses', '', () => {
      const before = this.defaultIngressClass;
      this.defaultIngressClass = classes.all().find((c) => c.metadata.annotations?.['ingressclass.kubernetes.io/is-default-class'] === 'true')?.metadata.name;
      if (before !== this.defaultIngressClass) this.enqueueAll();
    });
    // Someone deleted or changed one of our objects: put it back (our own creations come back as added).
    for (const path of ['/api/v1/services', '/apis/networking.k8s.io/v1/ingresses']) {
      watch(path, childSelector, (_k, o, old) => {
        const x = o ?? old;
        // (a login Ingress lives in the operator's namespace; its label names the set's)
        if (x && old) this.queue.addAfter(keyOf(x.metadata.labels![LABEL_SET_NAMESPACE] ?? x.metadata.namespace!, x.metadata.labels![LABEL_EXPOSURE_SET]!), o ? 200 : 0);
      });
    }
    // The pods behind a Ready set's Service went (the EndpointSlice controller copies the
    // Service's labels onto its slices): its status follows after the first Ready too. Only a
    // slice left with no ready endpoint wakes a Ready set (sets not Ready requeue themselves), so
    // a burst of new sets adds no reconciles.
    watch('/apis/discovery.k8s.io/v1/endpointslices', childSelector, (_k, o, old) => {
      const x = (o ?? old)!;
      const k = keyOf(x.metadata.namespace!, x.metadata.labels![LABEL_EXPOSURE_SET]!);
      const endpoints = ((o as { endpoints?: { conditions?: { ready?: boolean } }[] } | undefined)?.endpoints ?? []).filter((e) => e.conditions?.ready !== false);
      if (this.readySets.has(k) && endpoints.length === 0) this.queue.addAfter(k, 200);
    });
    for (const inf of this.informers) inf.startInBackground();
    signal.addEventListener('abort', () => {
      for (const inf of this.informers) inf.stop();
      this.queue.shutDown();
    }, { once: true });

    const leader = this.opts.leader;
    if (!leader) return this.work(signal);
    const running: Promise<void>[] = [];
    await leader.run(signal, (leading) => {
      // A new leader looks at everything: what the last one left half done, and what changed meanwhile.
      this.enqueueAll();
      running.push(this.work(leading));
    });
    await Promise.all(running);
  }

  /** The workers, until the signal aborts (shut down, or the lead lost). */
  private async work(signal: AbortSignal): Promise<void> {
    while (!this.ready && !signal.aborted) await new Promise((r) => setTimeout(r, 50));
    void this.sweepLoginOrphans().catch((e: Error) => this.log('warn', `removing login objects of deleted ExposureSets: ${e.message}`));
    await Promise.all(Array.from({ length: this.opts.concurrency ?? 4 }, () => this.worker(signal)));
  }

  private async worker(signal: AbortSignal): Promise<void> {
    for (;;) {
      const k = await this.queue.get(signal);
      if (k === undefined) return;
      try {
        const r = await this.reconcile(k);
        this.queue.forget(k);
        if (r.requeueAfter) this.queue.addAfter(k, r.requeueAfter);
      } catch (e) {
        // Not leading: the workers stop as soon as the elector notices; should this process lead
        // again it looks at every set anyway.
        if (e instanceof NotLeaderError) this.queue.addAfter(k, 1000);
        else {
          this.stats.errors++;
          const ms = this.queue.addRateLimited(k);
          this.log('warn', `reconcile ${k}: ${(e as Error).message} (retrying in ${ms} ms)`);
        }
      } finally {
        this.queue.done(k);
      }
      if (signal.aborted) return;
    }
  }

  private setPolicy(o: Obj): void {
    const { policy, errors } = policyFromObject(o);
    if (errors.length) this.log('warn', `ExposurePolicy ${policy.name} is invalid (${errors.join('; ')}): it denies every exposure in the namespaces it selects`);
    this.policies.set(policy.name, errors.length ? { ...policy, errors } : policy);
  }

  private onSet(k: string, o: ExposureSet | undefined, old: ExposureSet | undefined): void {
    if (!o) {
      this.forget(k);
      if (old) {
        const s = { ...old, apiVersion: API_VERSION, kind: KIND };
        this.emit('set', 'DELETED', s);
        this.tombstones.set(k, s);
        this.queue.add(k);
        this.enqueueNamespace(s.metadata.namespace); // the namespace's limit has room again
      }
      return;
    }
    const s = { ...o, apiVersion: API_VERSION, kind: KIND };
    this.tombstones.delete(k);
    this.sets.set(k, s);
    this.emit('set', old ? 'MODIFIED' : 'ADDED', s);
    // Our own status writes come back with the same generation: nothing to do.
    if (old && s.metadata.generation === this.lastGeneration.get(k)) return;
    this.queue.add(k);
  }

  private forget(k: string): void {
    this.sets.delete(k);
    this.counts.delete(k);
    this.lastGeneration.delete(k);
    this.readySets.delete(k);
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

  /** Deletes the set's login Ingresses and HTTPRoutes in the operator's namespace that were not just applied (issue 22). */
  private async pruneLogin(set: ExposureSet, applied: Map<string, Obj>): Promise<void> {
    const gw = this.opts.loginGateway;
    if (!gw) return;
    for (const kind of loginKinds(gw)) {
      for (const o of await listLoginChildren(this.client, set, kind, gw.namespace)) {
        if (!applied.has(`${kind}/${o.metadata.name}`) && (await deleteChild(this.writer, kind, gw.namespace, o))) this.stats.deletes++;
      }
    }
  }

  /**
   * Login Ingresses and HTTPRoutes whose set is gone or was re-created (deleted while no operator
   * ran: no owner reference lets the garbage collector do it across namespaces). Once per lead.
   */
  async sweepLoginOrphans(): Promise<number> {
    const gw = this.opts.loginGateway;
    if (!gw) return 0;
    let n = 0;
    for (const kind of loginKinds(gw)) {
      let items: Obj[];
      try {
        items = (await this.client.request<{ items: Obj[] }>(collectionPath(kind, gw.namespace), { query: { labelSelector: `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_LOGIN}=true` } })).items;
      } catch (e) {
        if (kind !== 'Ingress' && isNotFound(e)) continue; // no Gateway API, or no Traefik CRDs, here
        throw e;
      }
      for (const o of items) {
        const l = o.metadata.labels ?? {};
        const set = this.sets.get(keyOf(l[LABEL_SET_NAMESPACE] ?? '', l[LABEL_EXPOSURE_SET] ?? ''));
        if (set && set.metadata.uid === o.metadata.annotations?.[A.setUid]) continue;
        if (await deleteChild(this.writer, kind, gw.namespace, o)) n++;
      }
    }
    this.stats.deletes += n;
    return n;
  }

  /** One ExposureSet, by "namespace/name", from the cache to the cluster and its status. */
  async reconcile(k: string): Promise<Result> {
    const set = this.sets.get(k);
    const gone = this.tombstones.get(k);
    if (!set && gone) {
      // Deleted: its objects go at once (their ownerReference lets the garbage collector do it as
      // well, also while no operator runs, but it can lag by a minute).
      for (const kind of CHILD_KINDS) for (const o of await listChildren(this.client, gone, kind)) if (await deleteChild(this.writer, kind, gone.metadata.namespace, o)) this.stats.deletes++;
      await this.pruneLogin(gone, new Map());
      this.tombstones.delete(k);
      return {};
    }
    if (!set || set.metadata.deletionTimestamp) return {};
    this.stats.reconciles++;
    const ns = set.metadata.namespace;
    let d: Desired = desiredFor({
      set,
      policies: [...this.policies.values()],
      namespaceLabels: this.namespaces.get(ns) ?? { 'kubernetes.io/metadata.name': ns },
      othersInNamespace: this.othersBefore(set),
      ...(this.defaultIngressClass !== undefined && { defaultIngressClass: this.defaultIngressClass }),
      ...(this.opts.loginGateway && { loginGateway: this.opts.loginGateway }),
    });
    this.counts.set(k, d.outcome === 'Admitted' ? d.count : 0);

    // Never touch an object of that name that is not this resource's.
    const clashes: string[] = [];
    const generations = new Map<string, string>();
    for (const o of d.objects) {
      let cur: Obj | undefined;
      try {
        cur = await this.client.request<Obj>(objectPath(o.kind, o.metadata.namespace ?? ns, o.metadata.name));
        if (!owns(set, cur)) clashes.push(`${describeObject({ ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? ns } })} already exists and is not this ${KIND}'s`);
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      // A login Ingress keeps its access generation while its level stays (issue 22); its Traefik check (after it) holds passes to the same.
      if (o.kind === 'Middleware') syncCheckGeneration(o, generations.get(o.metadata.name) ?? o.metadata.annotations![A.generation]!);
      else if (o.metadata.labels?.[LABEL_LOGIN]) generations.set(checkName(o.metadata.name), (o.metadata.annotations![A.generation] = String(accessGeneration(cur, o.metadata.annotations![A.access]!, set.metadata.generation ?? 1))));
    }
    if (clashes.length) d = { ...d, outcome: 'Denied', reason: 'NotOwned', message: `${clashes.join('; ')}; nothing was changed`, objects: [] };

    const applied = new Map<string, Obj>();
    for (const o of d.objects) {
      applied.set(`${o.kind}/${o.metadata.name}`, await applyObject(this.writer, o.metadata.namespace ?? ns, o));
      this.stats.applies++;
    }
    // Prune what this set no longer wants (a removed exposure, or everything once denied).
    for (const kind of CHILD_KINDS) {
      for (const o of await listChildren(this.client, set, kind)) {
        if (!applied.has(`${kind}/${o.metadata.name}`) && (await deleteChild(this.writer, kind, ns, o))) this.stats.deletes++;
      }
    }
    await this.pruneLogin(set, applied);

    const exposures = d.outcome === 'Admitted' ? await observe(this.client, set, d, applied) : d.exposures;
    const allReady = d.outcome === 'Admitted' && exposures.every((e) => e.kind === 'k8s-port-forward' || e.ready);
    const notReady = exposures.find((e) => e.kind !== 'k8s-port-forward' && !e.ready);
    const status: ExposureSetStatus = { observedGeneration: set.metadata.generation ?? 0, conditions: nextConditions(set, d, allReady, notReady), exposures, operatorVersion: VERSION };
    if (canonical(status) !== canonical(set.status ?? {})) {
      try {
        const updated = await this.writer.request<ExposureSet>(`${resourcePath(ns, set.metadata.name)}/status`, {
          method: 'PATCH',
          query: { fieldManager: this.opts.fieldManager ?? 'envserve-operator' },
          contentType: 'application/merge-patch+json',
          body: { status },
        });
        this.stats.statusWrites++;
        const cur = this.sets.get(k);
        if (cur && cur.metadata.uid === updated.metadata.uid && Number(updated.metadata.resourceVersion) >= Number(cur.metadata.resourceVersion ?? 0)) this.sets.set(k, { ...updated, apiVersion: API_VERSION, kind: KIND });
      } catch (e) {
        if (!isNotFound(e)) throw e;
        return {}; // deleted meanwhile
      }
    }
    this.lastGeneration.set(k, set.metadata.generation ?? 0);
    if (d.outcome === 'Admitted' && allReady) this.readySets.add(k);
    else this.readySets.delete(k);
    return d.outcome === 'Admitted' && !allReady ? { requeueAfter: this.opts.requeueMs ?? 1000 } : {};
  }
}

function order(s: ExposureSet): string {
  return `${(s.metadata as { creationTimestamp?: string }).creationTimestamp ?? ''}/${s.metadata.name}`;
}

/** What a login-level URL may have in the operator's namespace: Middlewares only with `--login-check traefik` (only then may the operator list them). */
function loginKinds(gw: LoginGatewayRef): readonly LoginKind[] {
  return gw.traefik ? LOGIN_KINDS : LOGIN_KINDS.filter((k) => k !== 'Middleware');
}
