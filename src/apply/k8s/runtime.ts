// The Kubernetes runtime: the Runtime interface over the pieces in this folder.
//   preflight  — kubeconfig, namespace, every permission (SelfSubjectAccessReview), the target
//                workload, name clashes with objects envserve does not own, local ports: all
//                before any change.
//   startEnvironment — `up`: server-side apply of the Deployment.
//   expose     — port-forward: a listener following the Ready pod; Service / Ingress: applied
//                (all owned objects in one parallel batch, stale ones pruned), then their
//                addresses settled (LoadBalancer address, Ingress admission) and probed.
//   stopEnvironment — `up`: delete what envserve owns for this environment and wait until gone.
import net from 'node:net';
import { UserError } from '../../errors.js';
import type { Exposure, ExposureKind, K8sIngressExposure, K8sPortForwardExposure, K8sServiceExposure, Plan } from '../../plan/types.js';
import type { ContainerRecord, ProcessRecord } from '../../status/types.js';
import type { ExposureHandle, Runtime, StartOptions } from '../types.js';
import { checkAccess, type Capability } from './access.js';
import { explainKubeError, KubeApiError, loadKubeClient, type ConnectOptions, type KubeClient } from './client.js';
import { IngressWatcher } from './ingress-watch.js';
import { API_CONCURRENCY, mapLimit } from './limit.js';
import { ingressName, LABEL_EXPOSURE, renderManifests, serviceName } from './manifests.js';
import { applyObject, checkOwnership, deleteAndWait, describeObject, listOwned, type Obj } from './owned.js';
import { PodTracker } from './pod-tracker.js';
import { PortForwarder } from './port-forward.js';
import { probeHttp, probeTcp } from './probe.js';
import { ServiceWatcher, type Address } from './service-watch.js';
import { checkNamespace, resolveTarget, type ResolvedTarget, type TargetSpec } from './target.js';
import { ClusterView, SharedProbes } from './view.js';

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

/** What a k8s exposure adds to the common handle: every address and its own probe. */
export interface K8sExposureHandle extends ExposureHandle {
  urls(): string[];
  addresses(): Address[];
  probe(): Promise<{ answering: boolean; message?: string }>;
  /** The cluster object behind it, if any ("service default/x"). */
  readonly object?: string;
}

const KINDS: readonly ExposureKind[] = ['k8s-port-forward', 'k8s-service', 'k8s-ingress'];

export class K8sRuntime implements Runtime {
  readonly name = 'k8s' as const;
  readonly kinds = KINDS;
  /** Exposures whose changes are watched (onChange) are probed at least this often while nothing changes. */
  readonly maxProbeIntervalMs = 30_000;
  client!: KubeClient;
  namespace!: string;
  private plan!: Plan;
  private mode: StartOptions['mode'] = 'serve';
  private listenOverride?: string;
  private target!: ResolvedTarget;
  private desired: Obj[] = [];
  private applied?: Promise<Map<string, Obj>>;
  private tracker?: PodTracker;
  private view?: Promise<ClusterView | undefined>;
  private viewNote?: string;
  /** Probes of the same backend at about the same time run once. */
  private readonly shared = new SharedProbes();
  private readonly handles = new Set<K8sExposureHandle>();

  constructor(readonly o: K8sRuntimeOptions = {}) {}

  private get attaching(): boolean {
    return this.o.target !== undefined && this.o.target.kind !== 'environment';
  }

  async preflight(plan: Plan, exposures: Exposure[], opts: StartOptions): Promise<void> {
    this.plan = plan;
    this.mode = opts.mode;
    this.listenOverride = opts.listenOverride;
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

  private listenAddress(e: K8sPortForwardExposure): string {
    return this.listenOverride ?? e.listenAddress;
  }

  /** Applies every desired object at once (first expose or startEnvironment) and prunes stale ones. */
  private applyAll(): Promise<Map<string, Obj>> {
    this.applied ??= (async () => {
      const ns = this.namespace;
      const stored = await mapLimit(this.desired, API_CONCURRENCY, (o) => applyObject(this.client, ns, o));
      const byKey = new Map(stored.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
      // Tilt-style diff: owned Services/Ingresses of this environment that the plan no longer has.
      const wanted = new Set(this.desired.map((o) => `${o.kind}/${o.metadata.name}`));
      const stale = (await listOwned(this.client, ns, this.plan.env.name, ['Service', 'Ingress'])).filter(
        (o) => !wanted.has(`${o.kind}/${o.metadata.name}`) && o.metadata.labels?.[LABEL_EXPOSURE] !== undefined,
      );
      if (stale.length > 0) await deleteAndWait(this.client, stale);
      return byKey;
    })();
    return this.applied;
  }

  private async ensureTracker(): Promise<PodTracker> {
    if (!this.tracker) {
      const t = new PodTracker(this.client, this.target.pods);
      this.tracker = t;
      await t.start();
    }
    return this.tracker;
  }

  /**
   * The environment's Services, EndpointSlices and Ingresses, watched (after they were applied).
   * A user who may not list or watch them still gets working exposures, probed on a fixed
   * interval instead (undefined).
   */
  private ensureView(): Promise<ClusterView | undefined> {
    this.view ??= (async () => {
      await this.applyAll();
      const v = new ClusterView(this.client, this.namespace, this.plan.env.name, this.shared);
      try {
        await v.start();
        return v;
      } catch (e) {
        v.stop();
        if (!(e instanceof KubeApiError && e.code === 403)) throw e;
        this.viewNote = `cannot watch Services, EndpointSlices and Ingresses (${e.message}): probing them every interval instead`;
        return undefined;
      }
    })();
    return this.view;
  }

  async startEnvironment(_plan: Plan, _exposures: Exposure[], opts: StartOptions): Promise<void> {
    try {
      await this.applyAll();
      const t = await this.ensureTracker();
      if (opts.mode === 'up') await t.waitReady(this.o.readyTimeoutMs ?? 60_000).catch(() => undefined);
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
    const shared = this.shared;
    let probedAt = 0;
    const handle: K8sExposureHandle & { forwarder: PortForwarder } = {
      spec: e,
      listen,
      forwarder: pf,
      get target() {
        const pod = tracker.current()?.metadata?.name;
        return `${self.target.description} port ${e.envPort}${pod ? ` (pod ${pod})` : ''} in ${self.namespace}, through the API server`;
      },
      probeEndpoint: listen,
      condition() {
        if (!tracker.current()) return { state: 'waiting', message: `waiting for a Ready pod: ${tracker.reason()}` };
        const s = pf.stats;
        if (s.lastError && s.lastErrorAt && Date.now() - s.lastErrorAt < 10_000) return { state: 'ready', message: `last connection failed: ${s.lastError}` };
        return undefined;
      },
      urls: () => {
        const path = self.plan.env.services.find((x) => x.port === e.envPort)?.urlPath;
        return e.protocol === 'http' && path && path !== '/' ? [url, url.replace(/\/$/, path)] : [url];
      },
      addresses: () => [{ scope: 'local', address: listen.address, port: listen.port, url }],
      async probe() {
        const pod = tracker.current()?.metadata?.name;
        if (!pod) return { answering: false, message: tracker.reason() };
        const s = pf.stats;
        try {
          // A user's connection got an answer from this pod since the last probe: no new stream.
          if (s.lastAnswerPod === pod && (s.lastAnswerAt ?? 0) > probedAt) return { answering: true };
          // TCP accept is always local; probe end to end by sending a request through the tunnel,
          // once for every forward to the same pod port.
          const r = await shared.run(`port-forward ${self.namespace}/${pod}:${e.envPort} ${e.protocol}`, () =>
            e.protocol === 'http' ? probeHttp(listen.address, listen.port, { timeoutMs: 5000 }) : probeTcp(listen.address, listen.port),
          );
          return { answering: r.answering, ...(r.message && { message: r.message }) };
        } finally {
          probedAt = Date.now();
        }
      },
      onChange(listener) {
        // The pod new connections go to, or why there is none: a change of either is news.
        let last = `${tracker.current()?.metadata?.name}|${tracker.reason()}`;
        const on = () => {
          const now = `${tracker.current()?.metadata?.name}|${tracker.reason()}`;
          if (now === last) return;
          last = now;
          listener();
        };
        tracker.on('change', on);
        return () => tracker.off('change', on);
      },
      stop: () => pf.stop(),
    };
    return handle;
  }

  private async exposeService(e: K8sServiceExposure): Promise<K8sExposureHandle> {
    const view = await this.ensureView();
    const name = serviceName(this.plan, e);
    const w = new ServiceWatcher(this.client, this.namespace, name, e, this.o.addressTimeoutMs ?? 20_000, view);
    await w.settle();
    const object = describeObject({ kind: 'Service', metadata: { name, namespace: this.namespace } });
    const first = () => w.addresses().find((a) => a.scope !== 'cluster') ?? w.addresses()[0];
    const handle: K8sExposureHandle = {
      spec: e,
      get listen() {
        const a = first();
        return a ? { address: a.address, port: a.port } : { address: '', port: e.servicePort };
      },
      target: `${this.target.description} port ${e.envPort}`,
      get probeEndpoint() {
        return handle.listen;
      },
      object,
      condition() {
        if (w.lbPending) return { state: 'waiting', message: w.lbMessage ?? 'waiting for a load-balancer address' };
        return undefined;
      },
      urls: () => w.addresses().map((a) => a.url),
      addresses: () => w.addresses(),
      async probe() {
        const addrs = await w.probe();
        if (addrs.length === 0) return { answering: false, message: `${object} does not exist any more (deleted by someone else?)` };
        const answering = addrs.some((a) => a.answering);
        const notes = addrs.map((a) => `${a.scope} ${a.address}:${a.port} ${a.answering ? 'answers' : `does not answer${a.message ? ` (${a.message})` : ''}`}`);
        if (w.lbPending && w.lbMessage) notes.push(w.lbMessage);
        return { answering, message: notes.join('; ') };
      },
      ...(view && { onChange: (listener: () => void) => view.onService(name, listener) }),
      stop: async () => undefined, // the Service stays until `down` (or `up` ends)
    };
    return handle;
  }

  private async exposeIngress(e: K8sIngressExposure): Promise<K8sExposureHandle> {
    const view = await this.ensureView();
    const name = ingressName(this.plan, e);
    const w = new IngressWatcher(this.client, this.namespace, name, e, this.o.addressTimeoutMs ?? 20_000, view);
    await w.settle();
    const handle: K8sExposureHandle = {
      spec: e,
      get listen() {
        const a = w.addresses()[0];
        return a ? { address: a.address, port: a.port } : { address: e.host, port: 80 };
      },
      target: `service ${serviceName(this.plan, this.plan.exposures.find((x) => x.id === e.serviceId) as K8sServiceExposure)} port ${e.servicePort}`,
      get probeEndpoint() {
        return handle.listen;
      },
      object: describeObject({ kind: 'Ingress', metadata: { name, namespace: this.namespace } }),
      condition() {
        if (!w.admitted) return { state: 'waiting', message: w.lastProbe?.message ?? 'waiting for the Ingress controller' };
        return undefined;
      },
      urls: () => [w.url(), ...w.addresses().map((a) => a.url)],
      addresses: () => w.addresses(),
      probe: () => w.probe(),
      ...(view && { onChange: (listener: () => void) => view.onIngress(name, listener) }),
      stop: async () => undefined,
    };
    return handle;
  }

  /** `up` ends: remove what envserve created for this environment. `serve` leaves it for `down`. */
  async stopEnvironment(): Promise<void> {
    this.tracker?.stop();
    void this.view?.then((v) => v?.stop(), () => undefined);
    for (const h of this.handles) await h.stop();
    if (this.mode === 'up' && this.applied && !this.attaching) {
      await removeOwned(this.client, this.namespace, this.plan.env.name);
    }
    this.client?.close();
  }

  resources(): { processes: ProcessRecord[]; container?: ContainerRecord; notes: string[] } {
    const notes = this.desired.map((o) => `${describeObject({ ...o, metadata: { ...o.metadata, namespace: this.namespace } })} (owned by envserve)`);
    if (this.client) notes.unshift(`cluster ${this.client.server}, context ${this.client.contextName}, namespace ${this.namespace}`);
    if (this.viewNote) notes.push(this.viewNote);
    return { processes: [], notes };
  }
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

/** `down`: deletes every object envserve owns for the environment and waits until each is gone. */
export async function removeOwned(client: KubeClient, namespace: string, envName: string): Promise<Obj[]> {
  try {
    const objs = await listOwned(client, namespace, envName);
    // Ingresses first, then Services, then the Deployment: nothing routes to what is already gone.
    const order = { Ingress: 0, Service: 1, Deployment: 2 } as Record<string, number>;
    objs.sort((a, b) => (order[a.kind] ?? 9) - (order[b.kind] ?? 9));
    await deleteAndWait(client, objs);
    return objs;
  } catch (e) {
    throw explainKubeError(e, `removing the objects of environment ${envName} in namespace ${namespace}`);
  }
}

/** `down --runtime k8s` without a running session. */
export async function downK8s(connect: ConnectOptions, envName: string): Promise<Obj[]> {
  const client = loadKubeClient(connect);
  try {
    return await removeOwned(client, client.namespace, envName);
  } finally {
    client.close();
  }
}

/** `status`: what envserve owns for the environment, as the cluster has it. */
export async function listOwnedK8s(connect: ConnectOptions, envName: string): Promise<Obj[]> {
  const client = loadKubeClient(connect);
  try {
    return await listOwned(client, client.namespace, envName);
  } catch (e) {
    throw explainKubeError(e, `listing the objects of environment ${envName}`);
  } finally {
    client.close();
  }
}

