// After an Ingress is applied: wait until the controller admits it (an address in
// status.loadBalancer) and the route answers for its Host and path (through src/probe/: HTTPS
// when it has TLS), then report the URL.
import type { K8sIngressExposure } from '../../plan/types.js';
import { probeAll, summarize, targetsFor, type ProbeResult } from '../../probe/index.js';
import type { KubeClient } from './client.js';
import type { Obj } from './owned.js';
import { sleep } from '../backoff.js';
import type { Address } from './service-watch.js';
import type { ClusterView } from './view.js';

type Api = Pick<KubeClient, 'request'>;

export class IngressWatcher {
  ing?: Obj;
  admitted = false;
  lastProbe?: ProbeResult;

  constructor(
    private readonly client: Api,
    readonly namespace: string,
    readonly name: string,
    readonly exposure: K8sIngressExposure,
    readonly timeoutMs = 20_000,
    /** The environment's watched objects: reads come from its cache. */
    private readonly view?: ClusterView,
  ) {}

  async refresh(): Promise<void> {
    this.ing = this.view?.ingresses.get(this.name) ?? await this.client.request<Obj>(`/apis/networking.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/ingresses/${encodeURIComponent(this.name)}`);
    this.admitted = this.lbAddresses().length > 0;
  }

  private lbAddresses(): { address: string; ports: number[] }[] {
    const list = (this.ing?.status?.loadBalancer?.ingress ?? []) as { ip?: string; hostname?: string; ports?: { port: number }[] }[];
    return list
      .map((i) => ({ address: (i.ip ?? i.hostname)!, ports: (i.ports ?? []).map((p) => p.port) }))
      .filter((a) => !!a.address);
  }

  /** The URL users open: the Ingress's host and path. */
  url(): string {
    const scheme = this.exposure.tlsSecret ? 'https' : 'http';
    return `${scheme}://${this.exposure.host}${this.exposure.path === '/' ? '/' : this.exposure.path}`;
  }

  addresses(): Address[] {
    return this.lbAddresses().map((a) => {
      const port = a.ports[0] ?? (this.exposure.tlsSecret ? 443 : 80);
      return { scope: 'ingress', address: a.address, port, url: `${this.exposure.tlsSecret ? 'https' : 'http'}://${a.address}:${port}${this.exposure.path} (Host: ${this.exposure.host})` };
    });
  }

  /** Why it is not admitted, for status. */
  notAdmittedMessage(): string {
    return `no Ingress controller has admitted it yet (no address in status.loadBalancer)${this.exposure.className ? ` — is a controller for class "${this.exposure.className}" running?` : ' — is an Ingress controller running, and is there a default IngressClass?'}`;
  }

  /** Probes the route through the controller's address with the Ingress's Host (and TLS). */
  async probe(): Promise<ProbeResult> {
    if (!this.admitted) await this.refresh().catch(() => undefined);
    if (!this.admitted) return (this.lastProbe = { ok: false, reason: 'IngressNotAdmitted', detail: this.notAdmittedMessage() });
    const r = summarize(await probeAll(targetsFor(this.exposure, { addresses: this.addresses().map((a) => ({ scope: 'ingress' as const, address: a.address, port: a.port })) })));
    return (this.lastProbe = r);
  }

  /** Waits (up to timeoutMs) for admission and an answering route; never throws for a slow controller. */
  async settle(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    await this.refresh();
    let delay = 50;
    for (;;) {
      const r = await this.probe();
      if (r.ok || Date.now() > deadline || signal?.aborted) return;
      await sleep(delay);
      delay = Math.min(500, delay * 2);
    }
  }
}
