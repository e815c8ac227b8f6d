// After an Ingress is applied: wait until the controller admits it (an address in
// status.loadBalancer) and the route answers for its Host and path, then report the URL.
import type { K8sIngressExposure } from '../../plan/types.js';
import type { KubeClient } from './client.js';
import type { Obj } from './owned.js';
import { sleep } from './backoff.js';
import { probeHttp } from './probe.js';
import type { Address } from './service-watch.js';
import type { ClusterView } from './view.js';

type Api = Pick<KubeClient, 'request'>;

export class IngressWatcher {
  ing?: Obj;
  admitted = false;
  lastProbe?: { answering: boolean; message?: string };

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
      const port = a.ports[0] ?? 80;
      return { scope: 'ingress', address: a.address, port, url: `http://${a.address}:${port}${this.exposure.path} (Host: ${this.exposure.host})` };
    });
  }

  async probe(): Promise<{ answering: boolean; message?: string }> {
    if (!this.admitted) await this.refresh().catch(() => undefined);
    const addrs = this.addresses();
    if (addrs.length === 0) {
      this.lastProbe = {
        answering: false,
        message: `no Ingress controller has admitted it yet (no address in status.loadBalancer)${this.exposure.className ? ` — is a controller for class "${this.exposure.className}" running?` : ' — is an Ingress controller running, and is there a default IngressClass?'}`,
      };
      return this.lastProbe;
    }
    const a = addrs[0]!;
    const r = await probeHttp(a.address, a.port, { path: this.exposure.path, hostHeader: this.exposure.host, viaProxy: true });
    this.lastProbe = r.answering ? { answering: true } : { answering: false, message: `the route does not answer yet: ${r.message}` };
    return this.lastProbe;
  }

  /** Waits (up to timeoutMs) for admission and an answering route; never throws for a slow controller. */
  async settle(): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    await this.refresh();
    let delay = 50;
    for (;;) {
      const r = await this.probe();
      if (r.answering || Date.now() > deadline) return;
      await sleep(delay);
      delay = Math.min(500, delay * 2);
    }
  }
}
