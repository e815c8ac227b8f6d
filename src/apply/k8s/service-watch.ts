// After a Service is applied: every address it is reachable on (ClusterIP:port inside the
// cluster, node:nodePort, the load balancer's address) and a wait for the LoadBalancer address with
// a plain explanation when none comes. Whether they answer is src/probe/'s job.
import type { K8sServiceExposure } from '../../plan/types.js';
import { KubeApiError, type KubeClient } from './client.js';
import type { ClusterView } from './view.js';
import type { Obj } from './owned.js';
import { sleep } from '../backoff.js';

export interface Address {
  /** cluster: only from inside the cluster; node / load-balancer: from wherever the node or LB is reachable. */
  scope: 'cluster' | 'node' | 'load-balancer' | 'ingress' | 'local';
  address: string;
  port: number;
  url: string;
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
    /** The environment's watched objects: reads come from their cache once the watch has it. */
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
  async settle(signal?: AbortSignal): Promise<void> {
    await this.refresh();
    await this.loadNodeIPs();
    if (this.svc?.spec?.type !== 'LoadBalancer') return;
    const deadline = this.started + this.lbTimeoutMs;
    while (this.lbPending && Date.now() < deadline && !signal?.aborted) {
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
}
