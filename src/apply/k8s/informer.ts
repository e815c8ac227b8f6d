// One list + watch of a kind of object in a namespace, by label (and field) selector, kept as a
// local cache: every Service (or EndpointSlice, Ingress, or a workload's pods) of an environment
// costs one watch together, not one request per object per probe. When the watch ends (timeout,
// API server restart, 410 Gone) it resumes or lists again after a capped backoff.
import { EventEmitter } from 'node:events';
import { Backoff, sleep } from '../backoff.js';
import type { KubeClient, WatchEvent } from './client.js';

export type InformerApi = Pick<KubeClient, 'request' | 'watch'>;

export interface Named {
  metadata?: { name?: string; resourceVersion?: string; labels?: Record<string, string> };
}

/**
 * Emits 'change' (name, object | undefined) for every added, modified or deleted object, 'listed'
 * after every successful list, and 'watchError' (message) when the watch broke and is being
 * retried (`lastError` says why).
 */
export class Informer<T extends Named> extends EventEmitter {
  private readonly items = new Map<string, T>();
  private readonly abort = new AbortController();
  private readonly backoff = new Backoff();
  private synced?: Promise<void>;
  /** Set once the first list succeeded. */
  listed = false;
  lastError?: string;

  constructor(
    private readonly api: InformerApi,
    /** The collection, e.g. /api/v1/namespaces/ns/services. */
    readonly path: string,
    readonly labelSelector: string,
    readonly fieldSelector?: string,
  ) {
    super();
    this.setMaxListeners(0); // one listener per exposure
  }

  private get query(): Record<string, string> {
    return { ...(this.labelSelector && { labelSelector: this.labelSelector }), ...(this.fieldSelector && { fieldSelector: this.fieldSelector }) };
  }

  /** Lists once (errors propagate), then watches in the background. Idempotent. */
  start(): Promise<void> {
    this.synced ??= this.list().then((rv) => {
      void this.loop(rv);
    });
    return this.synced;
  }

  /** Lists and watches in the background from the start: a failed first list is retried like a broken watch. */
  startInBackground(): void {
    if (this.synced) return;
    this.synced = Promise.resolve();
    void this.loop(undefined);
  }

  stop(): void {
    this.abort.abort();
  }

  get(name: string): T | undefined {
    return this.items.get(name);
  }

  all(): T[] {
    return [...this.items.values()];
  }

  private async list(): Promise<string> {
    const res = await this.api.request<{ items: T[]; metadata: { resourceVersion: string } }>(this.path, { query: this.query });
    const before = new Map(this.items);
    this.items.clear();
    for (const o of res.items) this.items.set(o.metadata!.name!, o);
    this.listed = true;
    this.lastError = undefined;
    // After a re-list, report what changed while the watch was down.
    for (const [name, o] of this.items) if (before.get(name)?.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.emit('change', name, o);
    for (const name of before.keys()) if (!this.items.has(name)) this.emit('change', name, undefined);
    this.emit('listed');
    return res.metadata.resourceVersion;
  }

  private async loop(rv: string | undefined): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (rv === undefined) rv = await this.list();
        this.backoff.healthy();
        await this.api.watch(this.path, { ...this.query, resourceVersion: rv, timeoutSeconds: 290 }, (ev: WatchEvent<T>) => {
          rv = this.onEvent(ev) ?? rv;
        }, signal);
      } catch (e) {
        if (signal.aborted) return;
        rv = undefined; // 410 Gone or a broken watch: list again
        if ((e as { code?: number }).code === 410) continue;
        this.lastError = (e as Error).message;
        this.emit('watchError', this.lastError);
        if (!(await sleep(this.backoff.next(), signal))) return;
      }
    }
  }

  private onEvent(ev: WatchEvent<T>): string | undefined {
    const rv = ev.object?.metadata?.resourceVersion;
    const name = ev.object?.metadata?.name;
    if (ev.type === 'BOOKMARK' || !name) return rv;
    if (ev.type === 'DELETED') this.items.delete(name);
    else this.items.set(name, ev.object);
    this.lastError = undefined;
    this.emit('change', name, ev.type === 'DELETED' ? undefined : ev.object);
    return rv;
  }
}
