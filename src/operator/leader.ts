// Leader election with a coordination.k8s.io/v1 Lease, as client-go's leaderelection does it: a
// candidate takes the Lease when its holder has not renewed it for leaseDuration *as measured by
// this process's own monotonic clock* (from when it saw the record change, never from the
// timestamps in it, so clocks need not agree); the leader renews every retryPeriod and gives up
// when it could not for renewDeadline. Every update carries the resourceVersion it read
// (optimistic concurrency: of two candidates one gets 409 Conflict). On stop the leader releases
// the Lease (empty holder) so the other replica takes over at once.
// canWrite() is what the controller checks before every write: leading, and the last successful
// renew started less than leaseDuration − margin ago. A process frozen (SIGSTOP, a stuck node)
// past that point refuses its own writes when it wakes, before it has even noticed it lost.
import { EventEmitter } from 'node:events';
import { KubeApiError, isNotFound, type KubeClient } from '../apply/k8s/client.js';
import { realClock, type Clock } from './workqueue.js';

export interface LeaderOptions {
  namespace: string;
  /** The Lease's name. */
  name: string;
  /** This candidate (pod name and a random suffix: a restarted container is a new candidate). */
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  /** canWrite() turns false this long before the Lease could expire (default 2 s). */
  marginMs?: number;
  clock?: Clock;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}
interface Lease {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; labels?: Record<string, string> };
  spec?: LeaseSpec;
}

/** A write the controller refused itself: it no longer (surely) holds the Lease. */
export class NotLeaderError extends Error {}

/** Kubernetes MicroTime: RFC 3339 with six fractional digits. */
const microTime = (d = new Date()) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

type Attempt = 'ok' | 'held' | 'error';

export class LeaderElector extends EventEmitter {
  private readonly clock: Clock;
  private readonly leaseMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryMs: number;
  private readonly marginMs: number;
  private leading = false;
  /** When the last successful acquire/renew was sent (monotonic). */
  private renewedAt = -Infinity;
  /** The record last seen and when it was first seen so (monotonic). */
  private observed?: string;
  private observedAt = -Infinity;
  /** Who holds the Lease, as last read. */
  holder?: string;

  constructor(
    private readonly client: Pick<KubeClient, 'request'>,
    readonly o: LeaderOptions,
  ) {
    super();
    this.clock = o.clock ?? realClock;
    // client-go's 15 s / 10 s / 2 s scaled by 0.8: a candidate sees a renew up to one retry
    // period late and tries one retry period after expiry, so the worst takeover is
    // retry + lease + retry = 16 s (17 s unscaled would leave too little of the 20 s promised).
    this.leaseMs = o.leaseDurationMs ?? 12_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 8_000;
    this.retryMs = o.retryPeriodMs ?? 2_000;
    this.marginMs = o.marginMs ?? 2_000;
  }

  private get path(): string {
    return `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(this.o.namespace)}/leases/${encodeURIComponent(this.o.name)}`;
  }

  private log(level: 'info' | 'warn' | 'error', m: string): void {
    this.o.log?.(level, m);
  }

  get isLeading(): boolean {
    return this.leading;
  }

  /** Whether this process may write now: it leads and its Lease cannot have expired yet. */
  canWrite(): boolean {
    return this.leading && this.clock.now() - this.renewedAt < this.leaseMs - this.marginMs;
  }

  /**
   * Campaigns until the signal aborts. While leading, `lead(signal)` runs with a signal that aborts
   * when the lead is lost or given up; then it campaigns again (the process keeps serving its HTTP API).
   */
  async run(signal: AbortSignal, lead: (leading: AbortSignal) => void): Promise<void> {
    while (!signal.aborted) {
      while (!signal.aborted && (await this.attempt()) !== 'ok') await this.sleep(this.retryMs, signal);
      if (signal.aborted) break;
      this.leading = true;
      this.log('info', `leading: Lease ${this.o.namespace}/${this.o.name} held by ${this.o.identity}`);
      const ac = new AbortController();
      this.emit('leading');
      lead(ac.signal);
      while (!signal.aborted && (await this.renew(signal))) await this.sleep(this.retryMs, signal);
      this.leading = false;
      ac.abort();
      this.emit('stopped');
      if (signal.aborted) break;
      this.log('warn', `lost the Lease ${this.o.namespace}/${this.o.name}${this.holder && this.holder !== this.o.identity ? ` to ${this.holder}` : ''}: reconciling stopped, campaigning again`);
    }
    await this.release();
  }

  /** Renews until it works, the Lease is someone else's, or renewDeadline passed since the last renew. */
  private async renew(signal: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal.aborted) return false;
      const r = await this.attempt();
      if (r === 'ok') return true;
      if (r === 'held' || this.clock.now() - this.renewedAt >= this.renewDeadlineMs) return false;
      await this.sleep(this.retryMs, signal);
    }
  }

  /** One try to acquire or renew; never throws. */
  private async attempt(): Promise<Attempt> {
    const started = this.clock.now();
    let cancel = () => {};
    try {
      // A request that hangs must not hold the renew loop past its deadline.
      const timeout = new Promise<never>((_r, reject) => { cancel = this.clock.setTimer(() => reject(new Error(`no answer in ${this.renewDeadlineMs} ms`)), this.renewDeadlineMs); });
      const r = await Promise.race([this.tryAcquireOrRenew(started), timeout]);
      if (r === 'ok') this.renewedAt = started;
      return r;
    } catch (e) {
      if (e instanceof KubeApiError && e.code === 409) return 'held'; // another candidate updated it first
      this.log('warn', `Lease ${this.o.namespace}/${this.o.name}: ${(e as Error).message}`);
      return 'error';
    } finally {
      cancel();
    }
  }

  private async tryAcquireOrRenew(started: number): Promise<Attempt> {
    let lease: Lease;
    try {
      lease = await this.client.request<Lease>(this.path);
    } catch (e) {
      if (!isNotFound(e)) throw e;
      const now = microTime();
      const created = await this.client.request<Lease>(this.path.replace(/\/[^/]+$/, ''), {
        method: 'POST',
        body: {
          apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace, labels: { 'app.kubernetes.io/part-of': 'envserve' } },
          spec: { holderIdentity: this.o.identity, leaseDurationSeconds: Math.ceil(this.leaseMs / 1000), acquireTime: now, renewTime: now, leaseTransitions: 0 },
        },
      });
      this.see(created, started);
      return 'ok';
    }
    this.see(lease);
    const spec = lease.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const durationMs = (spec.leaseDurationSeconds ?? Math.ceil(this.leaseMs / 1000)) * 1000;
    if (holder && holder !== this.o.identity && this.clock.now() < this.observedAt + durationMs) return 'held';
    if (holder !== this.o.identity && this.leading) return 'held'; // it expired under us: we were not renewing
    const mine = holder === this.o.identity;
    const now = microTime();
    const updated = await this.client.request<Lease>(this.path, {
      method: 'PUT',
      body: {
        ...lease,
        spec: {
          holderIdentity: this.o.identity,
          leaseDurationSeconds: Math.ceil(this.leaseMs / 1000),
          acquireTime: mine && spec.acquireTime ? spec.acquireTime : now,
          renewTime: now,
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      },
    });
    this.see(updated, started);
    return 'ok';
  }

  /** Notes the record; a changed record restarts the expiry count from now (or from `at`). */
  private see(lease: Lease, at?: number): void {
    const key = `${lease.spec?.holderIdentity ?? ''} ${lease.spec?.renewTime ?? ''} ${lease.metadata.resourceVersion ?? ''}`;
    this.holder = lease.spec?.holderIdentity || undefined;
    if (key !== this.observed) {
      this.observed = key;
      this.observedAt = at ?? this.clock.now();
    }
  }

  /** Gives the Lease up (empty holder, 1 s duration) if this process still holds it. */
  private async release(): Promise<void> {
    try {
      const lease = await this.client.request<Lease>(this.path);
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      const now = microTime();
      await this.client.request(this.path, { method: 'PUT', body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: now } } });
      this.log('info', `released the Lease ${this.o.namespace}/${this.o.name}`);
    } catch (e) {
      if (!isNotFound(e)) this.log('warn', `releasing the Lease ${this.o.namespace}/${this.o.name}: ${(e as Error).message}`);
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => { cancel(); signal.removeEventListener('abort', done); resolve(); };
      const cancel = this.clock.setTimer(done, ms);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}

/**
 * The client the controller writes with: reads pass, and every write first asks canWrite() and is
 * refused (NotLeaderError, never sent) when it says no. `onRefused` sees each refusal, `onSent`
 * each write that goes out (the operator's --log-writes: an audit of what this process wrote).
 */
export function guardWrites<C extends Pick<KubeClient, 'request' | 'watch'>>(
  client: C,
  canWrite: () => boolean,
  onRefused?: (method: string, path: string) => void,
  onSent?: (method: string, path: string) => void,
): Pick<KubeClient, 'request' | 'watch'> {
  return {
    watch: client.watch.bind(client),
    request: ((path: string, o: { method?: string } = {}) => {
      const method = (o.method ?? 'GET').toUpperCase();
      if (method !== 'GET') {
        if (!canWrite()) {
          onRefused?.(method, path);
          return Promise.reject(new NotLeaderError(`not leading (or the Lease may have expired): ${method} ${path} refused`));
        }
        onSent?.(method, path);
      }
      return client.request(path, o);
    }) as KubeClient['request'],
  };
}
