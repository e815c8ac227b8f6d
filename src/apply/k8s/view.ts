// What the cluster says about an environment's objects, watched instead of polled: one informer
// each for its Services, their EndpointSlices (the EndpointSlice controller copies a Service's
// labels onto its slices, so the same owner selector finds them) and its Ingresses. Exposures
// subscribe to the objects they depend on and are probed when those change.
// Probes of the same backend are shared: forty Services in front of one pod port cost one
// request through the API server's service proxy per round, not forty.
import type { KubeClient } from './client.js';
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
