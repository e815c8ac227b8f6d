// One list + watch of a kind of object, by label (and field) selector, kept as a local cache: every
// Service (or EndpointSlice, Ingress, or a workload's pods) of an environment costs one watch
// together, not one request per object per probe. When the watch ends (timeout, API server
// restart, 410 Gone) it resumes or lists again after a capped backoff; a re-list reports what
// changed meanwhile, so a missed event never leaves the cache wrong for long. The CLI's runtime
// and the operator's controller both use it (client-go's reflector + store, in one class).
import { EventEmitter } from 'node:events';
import { Backoff, sleep } from '../backoff.js';
import type { KubeClient, WatchEvent } from './client.js';

export type InformerApi = Pick<KubeClient, 'request' | 'watch'>;

export interface Named {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string> };
}

/**
 * Emits 'change' (key, object | undefined, previous | undefined) for every added, modified or
 * deleted object (added: no previous; deleted: no object), 'listed' after every successful list,
 * and 'watchError' (message) when the watch broke and is being retried (`lastError` says why).
 * The key is the name for a collection in one namespace, and "namespace/name" for a collection
 * across namespaces (cluster-scoped objects: the name).
 */
export class Informer<T extends Named> extends EventEmitter {
  private readonly items = new Map<string, T>();
  private readonly abort = new AbortController();
  /** Capped at 5 s (not 15): an API server back from a restart is seen within seconds, while a list every 5 s costs nothing. */
  private readonly backoff = new Backoff({ maxMs: 5000 });
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
    this.acrossNamespaces = !/\/namespaces\/[^/]+\//.test(path);
  }

  private readonly acrossNamespaces: boolean;

  private keyOf(o: T): string {
    const m = o.metadata!;
    return this.acrossNamespaces && m.namespace ? `${m.namespace}/${m.name}` : m.name!;
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

  /** By key: the name, or "namespace/name" across namespaces. */
  get(key: string): T | undefined {
    return this.items.get(key);
  }

  all(): T[] {
    return [...this.items.values()];
  }

  private async list(): Promise<string> {
    const res = await this.api.request<{ items: T[]; metadata: { resourceVersion: string } }>(this.path, { query: this.query });
    const before = new Map(this.items);
    this.items.clear();
    for (const o of res.items ?? []) this.items.set(this.keyOf(o), o);
    this.listed = true;
    this.lastError = undefined;
    // After a re-list, report what changed while the watch was down.
    for (const [key, o] of this.items) if (before.get(key)?.metadata?.resourceVersion !== o.metadata?.resourceVersion) this.emit('change', key, o, before.get(key));
    for (const [key, old] of before) if (!this.items.has(key)) this.emit('change', key, undefined, old);
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
    if (ev.type === 'BOOKMARK' || !ev.object?.metadata?.name) return rv;
    const key = this.keyOf(ev.object);
    const old = this.items.get(key);
    if (ev.type === 'DELETED') this.items.delete(key);
    else this.items.set(key, ev.object);
    this.lastError = undefined;
    // A DELETED event carries the object as it was last: the listener gets it as the previous one.
    this.emit('change', key, ev.type === 'DELETED' ? undefined : ev.object, ev.type === 'DELETED' ? (old ?? ev.object) : old);
    return rv;
  }
}
