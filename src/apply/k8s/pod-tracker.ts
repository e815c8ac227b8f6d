// Keeps the current Ready pod of a workload, on an Informer of its pods (list, then watch; when the
// watch ends — API server restart, timeout, 410 Gone — list again after a capped backoff). The
// port-forward asks it for a pod per new connection, so a replaced pod is used as soon as the
// watch reports it Ready — no restart of envserve.
import { EventEmitter } from 'node:events';
import type { KubeClient } from './client.js';
import type { KubernetesReason } from '../../reasons.js';
import { Informer } from './informer.js';

/** What the tracker needs from the client (a fake in unit tests). */
export type PodApi = Pick<KubeClient, 'request' | 'watch'>;

export interface PodLike {
  metadata?: { name?: string; namespace?: string; uid?: string; deletionTimestamp?: string | Date; resourceVersion?: string; creationTimestamp?: string | Date };
  spec?: { containers?: { ports?: { containerPort: number; name?: string }[] }[] };
  status?: {
    phase?: string;
    podIP?: string;
    reason?: KubernetesReason;
    conditions?: { type: string; status: string; lastTransitionTime?: string | Date }[];
    containerStatuses?: { state?: { waiting?: { reason?: KubernetesReason }; terminated?: { reason?: KubernetesReason } } }[];
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
  private readonly pods: Informer<PodLike>;
  private stopped = false;
  private currentName?: string;
  private waiters = new Set<() => void>();

  constructor(
    api: PodApi,
    readonly selector: PodSelector,
  ) {
    super();
    this.setMaxListeners(0); // every open port-forward connection listens for pod changes
    const path = `/api/v1/namespaces/${encodeURIComponent(selector.namespace)}/pods`;
    this.pods = new Informer<PodLike>(api, path, selector.labelSelector ?? '', selector.podName ? `metadata.name=${selector.podName}` : undefined);
    this.pods.on('change', () => this.recompute());
    this.pods.on('listed', () => this.recompute()); // also clears a watch error in the status
    this.pods.on('watchError', () => this.emit('change'));
  }

  /** Lists once (errors propagate: a bad selector fails `up`), then keeps watching in the background. */
  start(): Promise<void> {
    return this.pods.start();
  }

  stop(): void {
    this.stopped = true;
    this.pods.stop();
    this.wake();
  }

  private get lastError(): string | undefined {
    return this.pods.lastError && `watching pods failed: ${this.pods.lastError}`;
  }

  private recompute(): void {
    const cur = this.currentName ? this.pods.get(this.currentName) : undefined;
    let next: string | undefined;
    if (cur && isPodReady(cur)) next = this.currentName;
    else {
      // The newest Ready pod: after a rollout that is the new ReplicaSet's pod.
      const ready = this.pods.all().filter(isPodReady).sort((a, b) => readySince(b) - readySince(a));
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

  /** Whether the named pod is deleted for good: listed, and no longer in the watch (not merely terminating). */
  isGone(name: string): boolean {
    return this.pods.listed && this.pods.get(name) === undefined;
  }

  /** The pod new connections go to, if one is Ready. */
  current(): PodLike | undefined {
    return this.currentName ? this.pods.get(this.currentName) : undefined;
  }

  /** Why no pod is Ready (or the last watch error), for status and for timed-out connections. */
  reason(): string {
    if (this.current()) return this.lastError ?? '';
    if (!this.pods.listed) return this.lastError ?? `looking for ${this.selector.description}`;
    const pods = this.pods.all();
    let r = pods.length === 0 ? `no pod of ${this.selector.description} exists` : pods.map(podNotReadyReason).join('; ');
    if (this.lastError) r += ` (${this.lastError})`;
    return r;
  }

  /** Why no pod is Ready, as a code: nothing matches, or what matches is not Ready. */
  reasonCode(): 'NoPods' | 'PodNotReady' {
    return this.pods.listed && this.pods.all().length === 0 ? 'NoPods' : 'PodNotReady';
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
        } else if (this.stopped) {
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
