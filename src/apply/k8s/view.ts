// What the cluster says about an environment's objects, watched instead of polled: one informer
// each for its Services, their EndpointSlices (the EndpointSlice controller copies a Service's
// labels onto its slices, so the same owner selector finds them) and its Ingresses. Exposures
// subscribe to the objects they depend on and are probed when those change.
// Probes of the same backend are shared: forty Services in front of one pod port cost one
// request through the API server's service proxy per round, not forty.
import type { KubeClient, RawAnswer, RawRequestOptions, RequestOptions } from './client.js';
import { Informer } from './informer.js';
import { ownerSelector, type Obj } from './owned.js';

export interface EndpointSlice {
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> };
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean } }[];
  ports?: { name?: string; port?: number; protocol?: string }[];
}

const SERVICE_NAME = 'kubernetes.io/service-name';

export class ClusterView {
  readonly services: Informer<Obj>;
  readonly slices: Informer<EndpointSlice>;
  readonly ingresses: Informer<Obj>;
  constructor(
    api: Pick<KubeClient, 'request' | 'watch'>,
    readonly namespace: string,
    envName: string,
    readonly shared = new SharedProbes(),
  ) {
    const ns = encodeURIComponent(namespace);
    const sel = ownerSelector(envName);
    this.services = new Informer(api, `/api/v1/namespaces/${ns}/services`, sel);
    this.slices = new Informer(api, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, sel);
    this.ingresses = new Informer(api, `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses`, sel);
  }

  /** Lists all three (errors propagate, as a failed request would), then watches. */
  async start(): Promise<void> {
    await Promise.all([this.services.start(), this.slices.start(), this.ingresses.start()]);
  }

  stop(): void {
    this.services.stop();
    this.slices.stop();
    this.ingresses.stop();
  }

  /** Ready endpoint addresses of a Service and the ports its slices carry, sorted (a key for sharing probes). */
  readyEndpoints(service: string): { addresses: string[]; ports: number[] } {
    const slices = this.slices.all().filter((s) => s.metadata?.labels?.[SERVICE_NAME] === service);
    const addresses = slices.flatMap((s) => (s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).flatMap((e) => e.addresses ?? []));
    const ports = slices.flatMap((s) => (s.ports ?? []).map((p) => p.port ?? 0));
    return { addresses: [...new Set(addresses)].sort(), ports: [...new Set(ports)].sort((a, b) => a - b) };
  }

  /** Calls listener when the Service or one of its EndpointSlices changes. */
  onService(name: string, listener: () => void): () => void {
    const onSvc = (n: string) => n === name && listener();
    const onSlice = (_n: string, s?: EndpointSlice) => {
      // A deleted slice carries no object here: any deletion may concern us.
      if (!s || s.metadata?.labels?.[SERVICE_NAME] === name) listener();
    };
    this.services.on('change', onSvc);
    this.slices.on('change', onSlice);
    return () => {
      this.services.off('change', onSvc);
      this.slices.off('change', onSlice);
    };
  }

  onIngress(name: string, listener: () => void): () => void {
    const on = (n: string) => n === name && listener();
    this.ingresses.on('change', on);
    return () => this.ingresses.off('change', on);
  }
}

/** Runs a probe once for everyone asking with the same key at about the same time. */
export class SharedProbes {
  private readonly recent = new Map<string, { at: number; result: Promise<any> }>();

  constructor(private readonly maxAgeMs = 1000) {}

  run<R>(key: string, probe: () => Promise<R>): Promise<R> {
    const now = Date.now();
    const hit = this.recent.get(key);
    if (hit && now - hit.at <= this.maxAgeMs) return hit.result as Promise<R>;
    for (const [k, v] of this.recent) if (now - v.at > this.maxAgeMs) this.recent.delete(k);
    const result = probe();
    this.recent.set(key, { at: now, result });
    // The age counts from the answer, so a slow probe is still shared by those who asked meanwhile.
    void result.then(
      () => this.recent.get(key)?.result === result && this.recent.set(key, { at: Date.now(), result }),
      () => this.recent.delete(key),
    );
    return result;
  }
}

type Requester = Pick<KubeClient, 'request' | 'requestRaw'>;

/**
 * The API the prober uses for this environment (src/probe/apiserver.ts): a Service's probe
 * through the API server's service proxy is answered from the watch when the Service has no ready
 * endpoint (no request), and shared by every Service with the same ready endpoints and target
 * ports; its ready endpoints are read from the watched EndpointSlices. Anything else goes to the
 * API server as asked.
 */
export class ViewApi {
  constructor(
    private readonly client: Requester,
    private readonly view: () => ClusterView | undefined,
  ) {}

  request<T = unknown>(path: string, o?: RequestOptions): Promise<T> {
    const v = this.view();
    if (v && (!o?.method || o.method === 'GET')) {
      const svc = /^kubernetes\.io\/service-name=([^,]+)$/.exec(String(o?.query?.labelSelector ?? ''));
      if (svc && path === `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(v.namespace)}/endpointslices` && v.services.get(svc[1]!)) {
        return Promise.resolve({ items: v.slices.all().filter((s) => s.metadata?.labels?.[SERVICE_NAME] === svc[1]) } as T);
      }
    }
    return this.client.request<T>(path, o);
  }

  requestRaw(path: string, o?: RawRequestOptions): Promise<RawAnswer> {
    const v = this.view();
    const proxy = /^\/api\/v1\/namespaces\/([^/]+)\/services\/([^/:]+):(\d+)\/proxy\/$/.exec(path);
    const name = proxy && decodeURIComponent(proxy[2]!);
    if (v && name && decodeURIComponent(proxy[1]!) === v.namespace && v.services.get(name)) {
      const ep = v.readyEndpoints(name);
      if (ep.addresses.length === 0) return Promise.resolve(noEndpointsAnswer(name));
      // Shared, so no one caller's signal may cancel it.
      const { signal: _mine, ...shared } = o ?? {};
      return v.shared.run(`service-proxy ${v.namespace} ${ep.addresses.join(',')} ${ep.ports.join(',')}`, () => this.client.requestRaw(path, shared));
    }
    return this.client.requestRaw(path, o);
  }
}

/** What the API server's service proxy answers for a Service without a ready endpoint, said from the watch. */
function noEndpointsAnswer(service: string): RawAnswer {
  const status = { kind: 'Status', apiVersion: 'v1', status: 'Failure', message: `no endpoints available for service "${service}" (as watched)`, reason: 'ServiceUnavailable', code: 503 };
  return { status: 503, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(status)), truncated: false };
}
