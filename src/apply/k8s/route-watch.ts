// After an HTTPRoute is applied: wait until its Gateway's controller takes it up (a parent status
// for our parentRef, Accepted and ResolvedRefs) and the route answers through the Gateway's address
// for its Host and path (through src/probe/, HTTPS when the route is), then report the URL. The
// route is read every probe round (no informer: a cluster without Gateway API has no such list).
import type { K8sRouteExposure } from '../../plan/types.js';
import { probeAll, summarize, targetsFor, type ProbeResult } from '../../probe/index.js';
import type { ReasonCode } from '../../reasons.js';
import { sleep } from '../backoff.js';
import { isNotFound, KubeApiError, type KubeClient } from './client.js';
import type { HandleContext, K8sExposureHandle } from './object-handles.js';
import { describeObject, type Obj } from './owned.js';
import { GATEWAY_PATH, ROUTES_PATH, routeUrl } from './route.js';
import type { Address } from './service-watch.js';
import { serviceName } from './manifests.js';
import type { K8sServiceExposure } from '../../plan/types.js';

type Api = Pick<KubeClient, 'request'>;
interface Cond { type: string; status: string; reason?: string; message?: string }

/** What the Gateway's controller says about the route, from the route's status.parents. */
export type RouteState =
  | { state: 'accepted'; accepted: Cond; resolved?: Cond }
  | { state: 'not-accepted' | 'unresolved'; accepted?: Cond; resolved?: Cond }
  | { state: 'no-parent' };

/** The parent status of our parentRef (same Gateway; same listener when one is named). */
export function routeState(route: Obj | undefined, ref: { namespace: string; name: string; sectionName?: string }, routeNamespace: string): RouteState {
  const parents = (route?.status?.parents ?? []) as { parentRef?: { namespace?: string; name?: string; sectionName?: string }; conditions?: Cond[] }[];
  const mine = parents.find((p) => (p.parentRef?.namespace ?? routeNamespace) === ref.namespace && p.parentRef?.name === ref.name && (p.parentRef?.sectionName ?? undefined) === ref.sectionName);
  if (!mine) return { state: 'no-parent' };
  const accepted = mine.conditions?.find((c) => c.type === 'Accepted');
  const resolved = mine.conditions?.find((c) => c.type === 'ResolvedRefs');
  if (accepted?.status !== 'True') return { state: 'not-accepted', ...(accepted && { accepted }), ...(resolved && { resolved }) };
  if (resolved && resolved.status !== 'True') return { state: 'unresolved', accepted, resolved };
  return { state: 'accepted', accepted, ...(resolved && { resolved }) };
}

export class RouteWatcher {
  route?: Obj;
  gateway?: Obj;
  gatewayNote?: string;
  lastProbe?: ProbeResult;

  constructor(private readonly client: Api, readonly namespace: string, readonly name: string, readonly exposure: K8sRouteExposure, readonly timeoutMs = 20_000) {}

  get ref(): NonNullable<K8sRouteExposure['gateway']> {
    return this.exposure.gateway!;
  }

  async refresh(): Promise<void> {
    this.route = await this.client.request<Obj>(`${ROUTES_PATH(this.namespace)}/${encodeURIComponent(this.name)}`);
    try {
      this.gateway = await this.client.request<Obj>(GATEWAY_PATH(this.ref.namespace, this.ref.name));
      this.gatewayNote = undefined;
    } catch (e) {
      this.gateway = undefined;
      if (isNotFound(e)) this.gatewayNote = `Gateway ${this.ref.namespace}/${this.ref.name} does not exist`;
      else if (e instanceof KubeApiError && e.code === 403) this.gatewayNote = `this user may not read Gateway ${this.ref.namespace}/${this.ref.name} (its address is unknown)`;
      else throw e;
    }
  }

  get state(): RouteState {
    return routeState(this.route, this.ref, this.namespace);
  }

  /** The Gateway's addresses, on the port of the listener the route uses. */
  addresses(): Address[] {
    const https = this.exposure.https === true;
    const listeners = (this.gateway?.spec?.listeners ?? []) as { name: string; port: number; protocol: string }[];
    const l = listeners.find((x) => (this.ref.sectionName ? x.name === this.ref.sectionName : x.protocol === (https ? 'HTTPS' : 'HTTP')));
    const port = l?.port ?? (https ? 443 : 80);
    const scheme = l ? (l.protocol === 'HTTPS' ? 'https' : 'http') : https ? 'https' : 'http';
    return ((this.gateway?.status?.addresses ?? []) as { value?: string }[])
      .filter((a) => a.value)
      .map((a) => ({ scope: 'ingress' as const, address: a.value!, port, url: `${scheme}://${a.value}:${port}${this.exposure.path} (Host: ${this.exposure.host})` }));
  }

  /** Why the route does not carry traffic yet, as a status condition; undefined when it does. */
  problem(): { reason: ReasonCode; message: string } | undefined {
    const s = this.state;
    const gw = `Gateway ${this.ref.namespace}/${this.ref.name}${this.ref.sectionName ? ` (listener ${this.ref.sectionName})` : ''}`;
    if (s.state === 'no-parent') return { reason: 'RouteNoParent', message: `no controller has taken up the HTTPRoute for ${gw}${this.gatewayNote ? `: ${this.gatewayNote}` : ' — is the Gateway served by a running controller?'} (envserve check names why)` };
    if (s.state === 'not-accepted') return { reason: 'RouteNotAccepted', message: `${gw} does not accept the HTTPRoute: ${s.accepted?.reason ?? 'Pending'}${s.accepted?.message ? ` (${s.accepted.message})` : ''} (envserve check names why)` };
    if (s.state === 'unresolved') return { reason: 'RouteRefsUnresolved', message: `${gw} accepted the HTTPRoute, its backend does not resolve: ${s.resolved?.reason}${s.resolved?.message ? ` (${s.resolved.message})` : ''}` };
    return undefined;
  }

  /** The Gateway said no (Accepted=False), or is not there: waiting longer will not change it. */
  refused(): boolean {
    const s = this.state;
    return (s.state === 'not-accepted' && s.accepted?.status === 'False') || (s.state === 'no-parent' && this.gateway === undefined && this.gatewayNote?.endsWith('does not exist') === true);
  }

  /** "Accepted=True, ResolvedRefs=True", for status. */
  conditions(): string {
    const s = this.state;
    if (s.state === 'no-parent') return 'no parent status';
    return [s.accepted && `Accepted=${s.accepted.status}${s.accepted.status !== 'True' ? ` (${s.accepted.reason})` : ''}`, s.resolved && `ResolvedRefs=${s.resolved.status}${s.resolved.status !== 'True' ? ` (${s.resolved.reason})` : ''}`].filter(Boolean).join(', ');
  }

  async probe(): Promise<ProbeResult> {
    const p = this.problem();
    if (p) return (this.lastProbe = { ok: false, reason: p.reason, detail: p.message });
    return (this.lastProbe = summarize(await probeAll(targetsFor(this.exposure, { addresses: this.addresses().map((a) => ({ scope: 'ingress' as const, address: a.address, port: a.port })) }))));
  }

  /** Waits (up to timeoutMs) for the route to be accepted and answer; never throws for a slow controller. */
  async settle(signal?: AbortSignal): Promise<void> {
    const deadline = Date.now() + this.timeoutMs;
    let delay = 50;
    for (;;) {
      await this.refresh().catch(() => undefined);
      const r = await this.probe();
      if (r.ok || this.refused() || Date.now() > deadline || signal?.aborted) return;
      await sleep(delay);
      delay = Math.min(500, delay * 2);
    }
  }
}

export function routeHandle(ctx: HandleContext, e: K8sRouteExposure, name: string, w: RouteWatcher): K8sExposureHandle {
  const watcher = { refresh: () => w.refresh(), pending: () => true };
  ctx.watchers.add(watcher);
  const backend = serviceName(ctx.plan, ctx.plan.exposures.find((x) => x.id === e.serviceId) as K8sServiceExposure);
  const gw = `${w.ref.namespace}/${w.ref.name}${w.ref.sectionName ? `/${w.ref.sectionName}` : ''}`;
  return {
    spec: e,
    get listen() {
      const a = w.addresses()[0];
      return a ? { address: a.address, port: a.port } : { address: e.host, port: e.https ? 443 : 80 };
    },
    get target() {
      const addr = w.addresses()[0];
      return `service ${backend} port ${e.servicePort} via Gateway ${gw} (${w.conditions()}${addr ? `; address ${addr.address}:${addr.port}` : w.gatewayNote ? `; ${w.gatewayNote}` : ''})`;
    },
    object: describeObject({ kind: 'HTTPRoute', metadata: { name, namespace: ctx.namespace } }),
    watched: false,
    observed: () => ({ object: { namespace: ctx.namespace, name }, addresses: w.addresses().map((a) => ({ scope: 'ingress' as const, address: a.address, port: a.port })) }),
    condition() {
      const p = w.problem();
      return p ? { ...p, blocking: true } : undefined;
    },
    urls: () => [routeUrl(e), ...w.addresses().map((a) => a.url)],
    addresses: () => w.addresses(),
    stop: async () => {
      ctx.watchers.delete(watcher);
    },
  };
}
