// After a Service is applied: every address it is reachable on (ClusterIP:port inside the
// cluster, node:nodePort, the load balancer's address), a wait for the LoadBalancer address with a
// plain explanation when none comes, and whether each address answers.
import type { K8sServiceExposure } from '../../plan/types.js';
import { isNotFound, KubeApiError, type KubeClient } from './client.js';
import type { Obj } from './owned.js';
import { sleep } from './backoff.js';
import { probeHttp, probeTcp, PROXY_NOT_READY, type ProbeResult } from './probe.js';
import type { ClusterView } from './view.js';

export interface Address {
  /** cluster: only from inside the cluster; node / load-balancer: from wherever the node or LB is reachable. */
  scope: 'cluster' | 'node' | 'load-balancer' | 'ingress' | 'local';
  address: string;
  port: number;
  url: string;
  answering?: boolean;
  message?: string;
}

type Api = Pick<KubeClient, 'request'>;

export function lbPendingMessage(waitedMs: number): string {
  return (
    `no load balancer has given the Service an address after ${Math.round(waitedMs / 1000)} s: this cluster seems to have no ` +
    'load-balancer provider (as on bare metal, kind, or minikube without `minikube tunnel`). ' +
    'What works instead: type=cloud.k8s.nodePort (node:nodePort), or a port-forward (cloud.k8s.bind(env_port, host_port=...))'
  );
}

export class ServiceWatcher {
  svc?: Obj;
  private nodeIPs: string[] = [];
  lbPending = false;
  lbMessage?: string;
  readonly started = Date.now();

  constructor(
    private readonly client: Api,
    readonly namespace: string,
    readonly name: string,
    readonly exposure: K8sServiceExposure,
    /** How long expose() waits for a LoadBalancer address. */
    readonly lbTimeoutMs = 20_000,
    /** The environment's watched objects: reads come from its cache, probes are shared. */
    private readonly view?: ClusterView,
  ) {}

  private get path(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/services/${encodeURIComponent(this.name)}`;
  }

  async refresh(): Promise<Obj> {
    this.svc = this.view?.services.get(this.name) ?? (await this.client.request<Obj>(this.path));
    const type = this.svc.spec?.type;
    if (type === 'LoadBalancer') {
      const ing = this.lbIngress();
      this.lbPending = ing.length === 0;
      this.lbMessage = this.lbPending ? lbPendingMessage(Date.now() - this.started) : undefined;
    }
    return this.svc;
  }

  private lbIngress(): string[] {
    const list = (this.svc?.status?.loadBalancer?.ingress ?? []) as { ip?: string; hostname?: string }[];
    return list.map((i) => i.ip ?? i.hostname).filter((x): x is string => !!x);
  }

  /** Reads the Service; for a LoadBalancer waits up to lbTimeoutMs for its address (no error if none). */
  async settle(): Promise<void> {
    await this.refresh();
    await this.loadNodeIPs();
    if (this.svc?.spec?.type !== 'LoadBalancer') return;
    const deadline = this.started + this.lbTimeoutMs;
    while (this.lbPending && Date.now() < deadline) {
      await sleep(200);
      await this.refresh();
    }
  }

  /** Node addresses for NodePorts: the nodes' InternalIP/ExternalIP, or the pods' host IPs if nodes may not be listed. */
  private async loadNodeIPs(): Promise<void> {
    const type = this.svc?.spec?.type;
    if (type !== 'NodePort' && type !== 'LoadBalancer') return;
    try {
      const nodes = await this.client.request<{ items: { status?: { addresses?: { type: string; address: string }[] } }[] }>('/api/v1/nodes');
      const ips = nodes.items.flatMap((n) => (n.status?.addresses ?? []).filter((a) => a.type === 'ExternalIP' || a.type === 'InternalIP').map((a) => a.address));
      this.nodeIPs = [...new Set(ips)];
    } catch (e) {
      if (!(e instanceof KubeApiError && e.code === 403)) throw e;
      const sel = Object.entries(this.svc?.spec?.selector ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
      const pods = await this.client.request<{ items: { status?: { hostIP?: string } }[] }>(`/api/v1/namespaces/${encodeURIComponent(this.namespace)}/pods`, { query: { labelSelector: sel } });
      this.nodeIPs = [...new Set(pods.items.map((p) => p.status?.hostIP).filter((x): x is string => !!x))];
    }
  }

  addresses(): Address[] {
    const s = this.svc;
    if (!s) return [];
    const port = (s.spec?.ports ?? [])[0] ?? {};
    const scheme = this.exposure.protocol === 'http' ? 'http' : 'tcp';
    const out: Address[] = [];
    const add = (scope: Address['scope'], address: string, p: number) =>
      out.push({ scope, address, port: p, url: `${scheme}://${address.includes(':') ? `[${address}]` : address}:${p}${scheme === 'http' ? '/' : ''}` });
    if (s.spec?.clusterIP && s.spec.clusterIP !== 'None') add('cluster', s.spec.clusterIP, port.port);
    if (port.nodePort) for (const ip of this.nodeIPs) add('node', ip, port.nodePort);
    for (const ip of this.lbIngress()) add('load-balancer', ip, port.port);
    return out;
  }

  /** The in-cluster DNS name. */
  dnsName(): string {
    return `${this.name}.${this.namespace}.svc`;
  }

  /**
   * Probes each address: node and LB addresses directly from this machine; the ClusterIP through the
   * API server's service proxy (HTTP), or by counting ready endpoints when that is not allowed.
   */
  async probe(): Promise<Address[]> {
    if (this.view) {
      // The watch keeps the Service current; gone from it means deleted.
      const cur = this.view.services.get(this.name);
      if (!cur) return [];
      if (cur !== this.svc) await this.refresh();
    } else if (this.lbPending || !this.svc) await this.refresh().catch(() => undefined);
    const addrs = this.addresses();
    const http = this.exposure.protocol === 'http';
    await Promise.all(
      addrs.map(async (a) => {
        let r: ProbeResult;
        if (a.scope === 'cluster') r = await this.probeClusterIP(a.port, http);
        else r = http ? await probeHttp(a.address, a.port) : await probeTcp(a.address, a.port);
        a.answering = r.answering;
        if (r.message) a.message = r.message;
      }),
    );
    return addrs;
  }

  private async probeClusterIP(port: number, http: boolean): Promise<ProbeResult> {
    const view = this.view;
    if (view) {
      // The EndpointSlice watch says whether anything is behind the Service, without a request.
      const ep = view.readyEndpoints(this.name);
      if (ep.addresses.length === 0) return { answering: false, message: 'no ready endpoints: no Ready pod matches the selector' };
      if (!http) return { answering: true, message: `${ep.addresses.length} ready endpoint${ep.addresses.length === 1 ? '' : 's'}` };
      // Whether the pods answer: one request through the service proxy for every Service with
      // the same endpoints and target ports.
      return view.shared.run(`service-proxy ${this.namespace} ${ep.addresses.join(',')} ${ep.ports.join(',')}`, () => this.probeViaApiServer(port, http));
    }
    return this.probeViaApiServer(port, http);
  }

  private async probeViaApiServer(port: number, http: boolean): Promise<ProbeResult> {
    if (http) {
      try {
        await this.client.request(`/api/v1/namespaces/${encodeURIComponent(this.namespace)}/services/${encodeURIComponent(this.name)}:${port}/proxy/`, { timeoutMs: 3000 });
        return { answering: true };
      } catch (e) {
        if (e instanceof KubeApiError && e.code !== 403 && !PROXY_NOT_READY.has(e.code)) return { answering: true, status: e.code };
        if (!(e instanceof KubeApiError && e.code === 403)) return { answering: false, message: `through the API server's service proxy: ${(e as Error).message}` };
      }
    }
    try {
      const res = await this.client.request<{ items: { endpoints?: { conditions?: { ready?: boolean } }[] }[] }>(
        `/apis/discovery.k8s.io/v1/namespaces/${encodeURIComponent(this.namespace)}/endpointslices`,
        { query: { labelSelector: `kubernetes.io/service-name=${this.name}` } },
      );
      const ready = res.items.flatMap((s) => s.endpoints ?? []).filter((e) => e.conditions?.ready !== false).length;
      return ready > 0 ? { answering: true, message: `${ready} ready endpoint${ready === 1 ? '' : 's'}` } : { answering: false, message: 'no ready endpoints: no Ready pod matches the selector' };
    } catch (e) {
      if (isNotFound(e) || (e instanceof KubeApiError && e.code === 403)) return { answering: false, message: 'cannot check from outside the cluster (no permission for services/proxy or endpointslices)' };
      return { answering: false, message: (e as Error).message };
    }
  }
}
