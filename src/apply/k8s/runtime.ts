// The Kubernetes runtime: the Runtime interface over the pieces in this folder.
//   preflight  — kubeconfig, namespace, every permission (SelfSubjectAccessReview), the target
//                workload, name clashes with objects envserve does not own, local ports: all
//                before any change.
//   startEnvironment — `up`: server-side apply of the Deployment.
//   expose     — port-forward: a listener following the Ready pod; Service / Ingress: its object
//                applied (server-side apply: a changed spec updates it in place), then its
//                addresses settled (LoadBalancer address, Ingress admission).
//   prune      — after every reconcile: owned Services/Ingresses no exposure wants any more are
//                deleted (a binding removed from the env file, a stopped exposure, an earlier run).
//   stopEnvironment — `up`: delete what envserve owns for this environment and wait until gone.
// Preflight runs again for every changed plan (opts.reload): permissions, ownership and ports of
// what is new, before anything changes. Emits 'change' when the pod a forward reaches changes.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { UserError } from '../../errors.js';
import type { Exposure, ExposureKind, K8sIngressExposure, K8sPortForwardExposure, K8sServiceExposure, Plan } from '../../plan/types.js';
import type { ClusterRecord, OwnedObject } from '../../status/records.js';
import type { ExposureHandle, Runtime, RuntimeResources, StartOptions } from '../types.js';
import { checkAccess, type Capability } from './access.js';
import { explainKubeError, KubeApiError, loadKubeClient, type ConnectOptions, type KubeClient } from './client.js';
import { IngressWatcher } from './ingress-watch.js';
import { exposeRoute } from './route-expose.js';
import { ingressName, LABEL_EXPOSURE, renderManifests, serviceName } from './manifests.js';
import { applyObject, checkOwnership, deleteAndWait, listOwned, RUNTIME_KINDS, type Obj } from './owned.js';
import { PodTracker } from './pod-tracker.js';
import { removeOwned } from './remove.js';
import { PortForwarder, recentFailure } from './pf/forwarder.js';
import { PortForwardSessions } from './pf/pool.js';
import { ServiceWatcher } from './service-watch.js';
import { checkNamespace, resolveTarget, type ResolvedTarget, type TargetSpec } from './target.js';
import { ClusterView, ViewApi } from './view.js';
import { ingressHandle, serviceHandle, type HandleContext, type K8sExposureHandle } from './object-handles.js';

export type { K8sExposureHandle } from './object-handles.js';

export interface K8sRuntimeOptions extends ConnectOptions {
  /** --target / --selector; default: the environment's own Deployment. */
  target?: TargetSpec;
  /** The image for `up` when build() names none. */
  image?: string;
  /** How long a LoadBalancer Service / an Ingress may take to get an address (default 20 s). */
  addressTimeoutMs?: number;
  /** How long a port-forward connection waits for a Ready pod (default 30 s). */
  podWaitTimeoutMs?: number;
  /** How long `up` waits for the first Ready pod before going on (default 60 s). */
  readyTimeoutMs?: number;
  /** An already loaded client (tests, the bench). */
  client?: KubeClient;
}

const KINDS: readonly ExposureKind[] = ['k8s-port-forward', 'k8s-service', 'k8s-ingress', 'k8s-route'];

export class K8sRuntime extends EventEmitter implements Runtime {
  readonly name = 'k8s' as const;
  readonly kinds = KINDS;
  client!: KubeClient;
  namespace!: string;
  private plan!: Plan;
  private mode: StartOptions['mode'] = 'serve';
  private listenOverride?: string;
  /** Aborted when envserve stops during start-up: waits for addresses end early. */
  private signal?: AbortSignal;
  private target!: ResolvedTarget;
  /** Every object the current plan wants (the Deployment for `up`, a Service/Ingress per exposure). */
  private desired: Obj[] = [];
  /** What envserve applied and has not deleted: the state record's owned objects. */
  private readonly owned = new Map<string, OwnedObject>();
  private tracker?: PodTracker;
  /** Port-forward sessions of every forward of this runtime; closed by stopEnvironment. */
  private readonly sessions = new PortForwardSessions();
  private readonly handles = new Set<K8sExposureHandle>();
  private readonly watchers = new Set<{ refresh(): Promise<unknown>; pending(): boolean }>();
  /** The environment's Services, EndpointSlices and Ingresses, watched (undefined: not allowed). */
  private view?: Promise<ClusterView | undefined>;
  private viewNow?: ClusterView;
  private viewNote?: string;
  /** The port-forwards by pod port and protocol, in start order: the first one carries their probes. */
  private readonly forwards = new Map<string, { id: string; listen: { address: string; port: number } }[]>();
  private viewApi?: ViewApi;

  constructor(readonly o: K8sRuntimeOptions = {}) {
    super();
    // The API server out of reach, or back: every forward's status changes now.
    this.sessions.onReachability = () => {
      const ids = [...this.forwards.values()].flat().map((f) => f.id);
      if (ids.length > 0) this.emit('change', ids);
    };
  }

  /** For probes through the API server: Service probes answered from the watch where it can. */
  get api(): ViewApi | undefined {
    if (!this.client) return undefined;
    return (this.viewApi ??= new ViewApi(this.client, () => this.viewNow));
  }

  /**
   * Watches the environment's Services, EndpointSlices and Ingresses (one informer each, started
   * with the first of them). A user who may not list or watch them still gets working exposures,
   * probed every interval instead.
   */
  private ensureView(): Promise<ClusterView | undefined> {
    this.view ??= (async () => {
      const v = new ClusterView(this.client, this.namespace, this.plan.env.name);
      try {
        await v.start();
        return (this.viewNow = v);
      } catch (e) {
        v.stop();
        if (!(e instanceof KubeApiError && e.code === 403)) throw e;
        this.viewNote = `cannot watch Services, EndpointSlices and Ingresses (${e.message}): they are probed every interval instead`;
        return undefined;
      }
    })();
    return this.view;
  }

  private get attaching(): boolean {
    return this.o.target !== undefined && this.o.target.kind !== 'environment';
  }

  async preflight(plan: Plan, exposures: Exposure[], opts: StartOptions): Promise<void> {
    if (opts.reload) return this.replan(plan, exposures, opts.reload.added);
    this.plan = plan;
    this.mode = opts.mode;
    this.listenOverride = opts.listenOverride;
    this.signal = opts.signal;
    const other = exposures.filter((e) => !KINDS.includes(e.kind));
    if (other.length > 0) {
      throw new UserError(
        `the Kubernetes runtime cannot apply ${other.map((e) => `${e.declaredBy} at ${e.position}`).join(', ')}`,
        'host.bind/runtime.expose run with --runtime local or docker',
      );
    }
    const createEnv = opts.mode === 'up' && !this.attaching;
    if (createEnv && !plan.env.base.image && !this.o.image) {
      throw new UserError(
        'build() names no image, so envserve cannot create the environment in Kubernetes',
        'pass --image <image> (an image with the environment built in), or attach to a running workload with --target k8s:<namespace>/deployment/<name> or --selector key=value',
      );
    }
    const client = (this.client = this.o.client ?? loadKubeClient(this.o));
    const target = this.o.target ?? { kind: 'environment' as const };
    this.namespace = (target.kind === 'deployment' || target.kind === 'pod') && target.namespace ? target.namespace : client.namespace;
    const ns = this.namespace;
    try {
      await checkNamespace(client, ns);
      const caps = new Set<Capability>([createEnv ? 'environment' : 'attach']);
      for (const e of exposures) caps.add(e.kind as Capability);
      await checkAccess(client, ns, [...caps], `the user of context "${client.contextName}"`);
      this.target = await resolveTarget(client, target, ns, plan.env.name);
      this.desired = renderManifests({ ...plan, exposures }, {
        namespace: ns,
        selector: this.target.serviceSelector,
        deployment: createEnv,
        ...(this.o.image !== undefined && { image: this.o.image }),
      }) as Obj[];
      await checkOwnership(client, ns, plan.env.name, this.desired);
    } catch (e) {
      throw explainKubeError(e, `Kubernetes (${client.server}, namespace ${ns})`);
    }
    for (const e of exposures) if (e.kind === 'k8s-port-forward') await checkPortFree(this.listenAddress(e), e.hostPort, e);
  }

  /** The env file changed: the new exposures' permissions, names and ports, before any change. */
  private async replan(plan: Plan, exposures: Exposure[], added: Exposure[]): Promise<void> {
    const other = exposures.filter((e) => !KINDS.includes(e.kind));
    if (other.length > 0) throw new UserError(`the Kubernetes runtime cannot apply ${other.map((e) => `${e.declaredBy} at ${e.position}`).join(', ')}`);
    const ns = this.namespace;
    const createEnv = this.mode === 'up' && !this.attaching;
    const desired = renderManifests({ ...plan, exposures }, {
      namespace: ns,
      selector: this.target.serviceSelector,
      deployment: createEnv,
      ...(this.o.image !== undefined && { image: this.o.image }),
    }) as Obj[];
    try {
      const caps = new Set(added.map((e) => e.kind as Capability));
      if (caps.size > 0) await checkAccess(this.client, ns, [...caps], `the user of context "${this.client.contextName}"`);
      await checkOwnership(this.client, ns, plan.env.name, desired);
    } catch (e) {
      throw explainKubeError(e, `Kubernetes (${this.client.server}, namespace ${ns})`);
    }
    for (const e of added) if (e.kind === 'k8s-port-forward') await checkPortFree(this.listenAddress(e), e.hostPort, e);
    this.plan = plan;
    this.desired = desired;
  }

  private listenAddress(e: K8sPortForwardExposure): string {
    return this.listenOverride ?? e.listenAddress;
  }

  /** Applies the desired objects of one exposure (or, with undefined, the environment's own: the Deployment). */
  private async applyFor(exposureId: string | undefined): Promise<Obj[]> {
    const objs = this.desired.filter((o) => o.metadata.labels?.[LABEL_EXPOSURE] === exposureId);
    const stored = await Promise.all(objs.map((o) => applyObject(this.client, this.namespace, o)));
    for (const o of stored) this.owned.set(`${o.kind}/${o.metadata.name}`, { kind: o.kind, namespace: this.namespace, name: o.metadata.name });
    return stored;
  }

  /** Deletes owned Services/Ingresses that none of `wanted` renders to (Tilt-style diff by label). */
  async prune(wanted: readonly Exposure[]): Promise<void> {
    if (!this.client) return;
    // Nothing of these kinds declared now or applied in this run: nothing to look for (and a user
    // who may only port-forward may not even list them).
    const pruned = ['Service', 'Ingress', 'HTTPRoute'];
    const declared = this.desired.some((o) => pruned.includes(o.kind));
    if (!declared && ![...this.owned.values()].some((o) => pruned.includes(o.kind))) return;
    const ids = new Set(wanted.map((e) => e.id));
    const keep = new Set(this.desired.filter((o) => ids.has(o.metadata.labels?.[LABEL_EXPOSURE] ?? '')).map((o) => `${o.kind}/${o.metadata.name}`));
    try {
      const stale = (await listOwned(this.client, this.namespace, this.plan.env.name, ['HTTPRoute', 'Ingress', 'Service'])).filter(
        (o) => o.metadata.labels?.[LABEL_EXPOSURE] !== undefined && !keep.has(`${o.kind}/${o.metadata.name}`),
      );
      if (stale.length > 0) await deleteAndWait(this.client, stale);
      for (const o of stale) this.owned.delete(`${o.kind}/${o.metadata.name}`);
    } catch (e) {
      throw explainKubeError(e, 'removing objects the env file no longer declares');
    }
  }

  private trackerStarted?: Promise<PodTracker>;
  /** The one pod tracker of the workload (exposures start in parallel: they wait for the same one). */
  private ensureTracker(): Promise<PodTracker> {
    this.trackerStarted ??= this.startTracker();
    return this.trackerStarted;
  }

  private async startTracker(): Promise<PodTracker> {
    const t = new PodTracker(this.client, this.target.pods);
    this.tracker = t;
    // The pod new connections go to, or why there is none: a change of either concerns every
    // forward (Services learn about pods from their EndpointSlices).
    let last = '';
    t.on('change', () => {
      const now = `${t.current()?.metadata?.name}|${t.reason()}`;
      if (now === last) return;
      last = now;
      const ids = [...this.forwards.values()].flat().map((f) => f.id);
      if (ids.length > 0) this.emit('change', ids);
    });
    await t.start();
    return t;
  }

  async startEnvironment(_plan: Plan, _exposures: Exposure[], opts: StartOptions): Promise<void> {
    try {
      await this.applyFor(undefined);
      const t = await this.ensureTracker();
      if (opts.mode === 'up') await t.waitReady(this.o.readyTimeoutMs ?? 60_000, opts.signal).catch(() => undefined);
    } catch (e) {
      throw explainKubeError(e, 'applying the environment');
    }
  }

  async expose(e: Exposure): Promise<ExposureHandle> {
    try {
      let h: K8sExposureHandle;
      if (e.kind === 'k8s-port-forward') h = await this.exposePortForward(e);
      else if (e.kind === 'k8s-service') h = await this.exposeService(e);
      else if (e.kind === 'k8s-ingress') h = await this.exposeIngress(e);
      else if (e.kind === 'k8s-route') h = await exposeRoute(this.client, this.namespace, e, () => this.applyFor(e.id), this.handleContext(), this.o.addressTimeoutMs, this.signal);
      else throw new UserError(`the Kubernetes runtime cannot apply ${e.declaredBy}`);
      this.handles.add(h);
      return h;
    } catch (err) {
      throw explainKubeError(err, `exposing ${e.id}`);
    }
  }

  private async exposePortForward(e: K8sPortForwardExposure): Promise<K8sExposureHandle> {
    const tracker = await this.ensureTracker();
    const pf = new PortForwarder({
      client: this.client,
      sessions: this.sessions,
      tracker,
      namespace: this.namespace,
      remotePort: e.envPort,
      listenAddress: this.listenAddress(e),
      localPort: e.hostPort,
      ...(this.o.podWaitTimeoutMs !== undefined && { waitTimeoutMs: this.o.podWaitTimeoutMs }),
    });
    let listen: { address: string; port: number };
    try {
      listen = await pf.start();
    } catch (err) {
      throw new UserError(`cannot listen on ${this.listenAddress(e)}:${e.hostPort} for ${e.declaredBy} at ${e.position}: ${(err as Error).message}`);
    }
    const url = `${e.protocol === 'http' ? 'http' : 'tcp'}://${listen.address}:${listen.port}${e.protocol === 'http' ? '/' : ''}`;
    const self = this;
    // Forwards to the same pod port share one tunnel: they are probed through the first one's
    // listener, so a probe round opens one stream for all of them.
    const group = `${e.envPort}/${e.protocol}`;
    // A refusal (or the first connection taken after one) shows now, not at the next probe round.
    pf.on('refusing', () => this.emit('change', [e.id]));
    const peers = this.forwards.get(group) ?? [];
    const me = { id: e.id, listen };
    peers.push(me);
    this.forwards.set(group, peers);
    const handle: K8sExposureHandle & { forwarder: PortForwarder } = {
      spec: e,
      listen,
      forwarder: pf,
      watched: true,
      get target() {
        const pod = tracker.current()?.metadata?.name;
        return `${self.target.description} port ${e.envPort}${pod ? ` (pod ${pod})` : ''} in ${self.namespace}, through the API server`;
      },
      observed: () => ({ listener: (this.forwards.get(group) ?? [])[0]?.listen ?? listen }),
      condition() {
        if (!tracker.current()) return { reason: tracker.reasonCode(), message: `waiting for a Ready pod: ${tracker.reason()}`, blocking: true };
        // Blocking: a TCP forward's probe would take its own listener's accept for an answer.
        const away = self.sessions.unreachable;
        if (away) return { reason: 'ClusterUnreachable', message: away, blocking: true, transient: true };
        const s = pf.stats;
        if (s.refusing) return { reason: 'ConnectionRefused', message: s.lastRefusal ?? `nothing listens on port ${e.envPort} in the pod`, blocking: false, explainsFailure: true };
        const failed = recentFailure(s);
        // RBAC (or the credentials) no longer allow the port-forward: that is why probes fail.
        if (failed && s.lastErrorForbidden) return { reason: 'Forbidden', message: `last connection failed: ${failed}`, blocking: false, explainsFailure: true };
        if (failed) return { reason: 'ConnectionReset', message: `last connection failed: ${failed}`, blocking: false };
        return undefined;
      },
      details: () => {
        const pod = tracker.current()?.metadata?.name;
        return { ...(pod !== undefined && { pod }), reconnects: pf.stats.retried };
      },
      urls: () => {
        const path = self.plan.env.services.find((x) => x.port === e.envPort)?.urlPath;
        return e.protocol === 'http' && path && path !== '/' ? [url, url.replace(/\/$/, path)] : [url];
      },
      addresses: () => [{ scope: 'local', address: listen.address, port: listen.port, url }],
      stop: () => {
        const rest = (this.forwards.get(group) ?? []).filter((f) => f !== me);
        if (rest.length > 0) this.forwards.set(group, rest);
        else this.forwards.delete(group);
        return pf.stop();
      },
    };
    return handle;
  }

  private async exposeService(e: K8sServiceExposure): Promise<K8sExposureHandle> {
    await this.applyFor(e.id);
    const view = await this.ensureView();
    const name = serviceName(this.plan, e);
    const w = new ServiceWatcher(this.client, this.namespace, name, e, this.o.addressTimeoutMs ?? 20_000, view);
    await w.settle(this.signal);
    return serviceHandle(this.handleContext(), e, name, w, view);
  }

  private async exposeIngress(e: K8sIngressExposure): Promise<K8sExposureHandle> {
    await this.applyFor(e.id);
    const view = await this.ensureView();
    const name = ingressName(this.plan, e);
    const w = new IngressWatcher(this.client, this.namespace, name, e, this.o.addressTimeoutMs ?? 20_000, view);
    await w.settle(this.signal);
    return ingressHandle(this.handleContext(), e, name, w, view);
  }

  private handleContext(): HandleContext {
    return { namespace: this.namespace, plan: this.plan, targetDescription: this.target.description, changed: (id) => this.emit('change', [id]), watchers: this.watchers };
  }

  /** `up` ends: remove what envserve created for this environment. `serve` leaves it for `down`. */
  async stopEnvironment(): Promise<void> {
    this.tracker?.stop();
    this.viewNow?.stop();
    await Promise.all([...this.handles].map((h) => h.stop()));
    this.sessions.close();
    if (this.mode === 'up' && this.owned.size > 0 && !this.attaching) {
      // Its own kinds: an ExposureSet is the operator plan source's to delete (it does, for `up`).
      await removeOwned(this.client, this.namespace, this.plan.env.name, RUNTIME_KINDS);
      this.owned.clear();
    }
    this.client?.close();
  }

  /** Before a probe round: re-read Services waiting for a load balancer and Ingresses not yet admitted. */
  async refresh(): Promise<boolean> {
    const pending = [...this.watchers].filter((w) => w.pending());
    await Promise.all(pending.map((w) => w.refresh().catch(() => undefined)));
    return pending.length > 0;
  }

  resources(): RuntimeResources {
    const owned = [...this.owned.values()];
    const notes = owned.map((o) => `${o.kind.toLowerCase()} ${o.namespace}/${o.name} (owned by envserve)`);
    if (!this.client) return { processes: [], notes, owned };
    notes.unshift(`cluster ${this.client.server}, context ${this.client.contextName}, namespace ${this.namespace}`);
    if (this.viewNote) notes.push(this.viewNote);
    const cluster: ClusterRecord = {
      server: this.client.server,
      context: this.client.contextName,
      namespace: this.namespace,
      ...(this.client.kubeconfigPath !== undefined && { kubeconfig: this.client.kubeconfigPath }),
      ...(workloadRecord(this.o.target) && { workload: workloadRecord(this.o.target)! }),
    };
    return { processes: [], notes, owned, cluster };
  }
}

/** What `serve --target` / `--selector` named, for the state record (`check -f` reaches the same pods). */
function workloadRecord(t: TargetSpec | undefined): ClusterRecord['workload'] {
  if (!t || t.kind === 'environment') return undefined;
  return t.kind === 'selector' ? { kind: 'selector', labels: t.labels } : { kind: t.kind, name: t.name };
}

async function checkPortFree(address: string, port: number, e: Exposure): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (err: NodeJS.ErrnoException) =>
      reject(new UserError(`${address}:${port} is not free for ${e.declaredBy} at ${e.position} (${err.code ?? err.message})`, 'pick another host_port, or stop what uses it')),
    );
    s.listen({ host: address, port, exclusive: true }, () => s.close(() => resolve()));
  });
}
