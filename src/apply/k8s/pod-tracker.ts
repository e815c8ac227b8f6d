// Keeps the current Ready pod of a workload: list, then watch from that resourceVersion; when the
// watch ends (API server restart, timeout, 410 Gone) list again after a capped backoff. The
// port-forward asks it for a pod per new connection, so a replaced pod is used as soon as the
// watch reports it Ready — no restart of envserve.
import { EventEmitter } from 'node:events';
import { Backoff, sleep } from './backoff.js';
import type { KubeClient, WatchEvent } from './client.js';

/** What the tracker needs from the client (a fake in unit tests). */
export type PodApi = Pick<KubeClient, 'request' | 'watch'>;

export interface PodLike {
  metadata?: { name?: string; namespace?: string; uid?: string; deletionTimestamp?: string | Date; resourceVersion?: string; creationTimestamp?: string | Date };
  spec?: { containers?: { ports?: { containerPort: number; name?: string }[] }[] };
  status?: {
    phase?: string;
    podIP?: string;
    reason?: string;
    conditions?: { type: string; status: string; lastTransitionTime?: string | Date }[];
    containerStatuses?: { state?: { waiting?: { reason?: string }; terminated?: { reason?: string } } }[];
  };
}

/** Which pods: a label selector, or one pod by name. */
export interface PodSelector {
  namespace: string;
  labelSelector?: string;
  podName?: string;
  /** For messages: "deployment/web", "pods with app=web". */
  description: string;
}

export function isPodReady(p: PodLike): boolean {
  if (p.metadata?.deletionTimestamp) return false;
  if (!p.status?.podIP) return false;
  return (p.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

function readySince(p: PodLike): number {
  const c = (p.status?.conditions ?? []).find((x) => x.type === 'Ready');
  const t = c?.lastTransitionTime ?? p.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

/** Why a pod is not Ready, in a few words. */
export function podNotReadyReason(p: PodLike): string {
  const name = p.metadata?.name ?? '?';
  if (p.metadata?.deletionTimestamp) return `pod ${name} is terminating`;
  const waiting = p.status?.containerStatuses?.map((c) => c.state?.waiting?.reason ?? c.state?.terminated?.reason).find(Boolean);
  const phase = p.status?.phase ?? 'Pending';
  return `pod ${name} is ${phase}${waiting ? ` (${waiting})` : p.status?.podIP ? ', not Ready' : ''}`;
}

export class PodTracker extends EventEmitter {
  private readonly pods = new Map<string, PodLike>();
  private readonly abort = new AbortController();
  private currentName?: string;
  private lastError?: string;
  private listed = false;
  private readonly backoff = new Backoff();
  private waiters = new Set<() => void>();

  constructor(
    private readonly api: PodApi,
    readonly selector: PodSelector,
  ) {
    super();
    this.setMaxListeners(0); // every open port-forward connection listens for pod changes
  }

  private get path(): string {
    return `/api/v1/namespaces/${encodeURIComponent(this.selector.namespace)}/pods`;
  }

  private get query(): Record<string, string | undefined> {
    return {
      labelSelector: this.selector.labelSelector,
      fieldSelector: this.selector.podName ? `metadata.name=${this.selector.podName}` : undefined,
    };
  }

  /** Lists once (errors propagate: a bad selector fails `up`), then keeps watching in the background. */
  async start(): Promise<void> {
    const rv = await this.list();
    void this.loop(rv);
  }

  stop(): void {
    this.abort.abort();
    this.wake();
  }

  private async list(): Promise<string> {
    const res = await this.api.request<{ items: PodLike[]; metadata: { resourceVersion: string } }>(this.path, { query: this.query });
    this.pods.clear();
    for (const p of res.items) this.pods.set(p.metadata!.name!, p);
    this.listed = true;
    this.lastError = undefined;
    this.recompute();
    return res.metadata.resourceVersion;
  }

  private async loop(rv: string | undefined): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (rv === undefined) rv = await this.list();
        this.backoff.healthy();
        await this.api.watch(this.path, { ...this.query, resourceVersion: rv, timeoutSeconds: 290 }, (ev) => {
          rv = this.onEvent(ev) ?? rv;
        }, signal);
        // The server closed the watch normally: resume from the last resourceVersion at once.
        continue;
      } catch (e) {
        if (signal.aborted) return;
        const err = e as { code?: number; message?: string };
        if (err.code === 410) {
          rv = undefined; // too old: list again
          continue;
        }
        rv = undefined;
        this.lastError = `watching pods failed: ${err.message ?? String(e)}`;
        this.emit('change');
        if (!(await sleep(this.backoff.next(), signal))) return;
      }
    }
  }

  private onEvent(ev: WatchEvent<PodLike>): string | undefined {
    const rv = ev.object?.metadata?.resourceVersion;
    if (ev.type === 'BOOKMARK') return rv;
    const name = ev.object?.metadata?.name;
    if (!name) return rv;
    if (ev.type === 'DELETED') this.pods.delete(name);
    else this.pods.set(name, ev.object);
    this.lastError = undefined;
    this.recompute();
    return rv;
  }

  private recompute(): void {
    const cur = this.currentName ? this.pods.get(this.currentName) : undefined;
    let next: string | undefined;
    if (cur && isPodReady(cur)) next = this.currentName;
    else {
      // The newest Ready pod: after a rollout that is the new ReplicaSet's pod.
      const ready = [...this.pods.values()].filter(isPodReady).sort((a, b) => readySince(b) - readySince(a));
      next = ready[0]?.metadata?.name;
    }
    const changed = next !== this.currentName;
    this.currentName = next;
    if (changed) this.emit('pod', this.current());
    this.emit('change');
    if (next) this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = new Set();
    for (const f of w) f();
  }

  /** Whether the named pod is (still) Ready, as far as the watch knows. */
  isReady(name: string): boolean {
    const p = this.pods.get(name);
    return p !== undefined && isPodReady(p);
  }

  /** The pod new connections go to, if one is Ready. */
  current(): PodLike | undefined {
    return this.currentName ? this.pods.get(this.currentName) : undefined;
  }

  /** Why no pod is Ready (or the last watch error), for status and for timed-out connections. */
  reason(): string {
    if (this.current()) return this.lastError ?? '';
    if (!this.listed) return this.lastError ?? `looking for ${this.selector.description}`;
    const pods = [...this.pods.values()];
    let r = pods.length === 0 ? `no pod of ${this.selector.description} exists` : pods.map(podNotReadyReason).join('; ');
    if (this.lastError) r += ` (${this.lastError})`;
    return r;
  }

  /** Why no pod is Ready, as a code: nothing matches, or what matches is not Ready. */
  reasonCode(): 'NoPods' | 'PodNotReady' {
    return this.listed && this.pods.size === 0 ? 'NoPods' : 'PodNotReady';
  }

  /** Resolves with a Ready pod, waiting for one; rejects after timeoutMs with the reason. */
  waitReady(timeoutMs: number, signal?: AbortSignal): Promise<PodLike> {
    const now = this.current();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.waiters.delete(check);
      };
      const check = () => {
        const p = this.current();
        if (p) {
          done();
          resolve(p);
        } else if (this.abort.signal.aborted) {
          done();
          reject(new Error('the port-forward stopped'));
        } else this.waiters.add(check);
      };
      const onAbort = () => {
        done();
        reject(new Error('aborted'));
      };
      timer = setTimeout(() => {
        done();
        reject(new Error(`no Ready pod after ${Math.round(timeoutMs / 1000)} s: ${this.reason()}`));
      }, timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(check);
    });
  }
}
