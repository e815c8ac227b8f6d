// The TCP proxy on N forwarding threads: the main thread and N-1 worker threads shared by every
// proxy of their owner (a runtime's exposures), each thread with its own listening socket per
// proxy on the proxy's address and port (SO_REUSEPORT: the kernel spreads new connections over
// them), forwarding on its own (proxy-worker.ts; proxy-forward.ts on every thread). Shared, and
// the main thread one of them, because each worker is a V8 isolate (~10 MB, more under load):
// N-1 in all, not N per exposure. The main thread also starts the workers, replaces one that
// dies (the other threads keep accepting meanwhile), hands them targets, sums their counters and
// keeps each port ours (proxy-guard.ts). The workers end when the last proxy closes. Why threads:
// with one, every connection waits whenever that thread waits for a core (README, "Local TCP proxy").
import type net from 'node:net';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { ReasonCode } from '../../reasons.js';
import type { Endpoint } from '../../status/types.js';
import { Backoff } from '../backoff.js';
import { ListenerTable, listTcpListeners, type TcpListener } from './proc-net.js';
import { exclusiveProbe, foreignListeners, sharedPortError } from './proxy-guard.js';
import { createListener, forward, socketInode, type ForwardContext, bufferedBytes } from './proxy-forward.js';
import { SLOT, type FromThread, type ThreadInit, type ToThread } from './proxy-protocol.js';

// dist/: the compiled proxy-worker.js next to this file. From the sources under tsx (the tests),
// the thread registers tsx itself and imports proxy-worker.ts: the --import of tsx a worker
// inherits does not hook the worker's own imports on every supported Node (22.12 does not).
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_URL = new URL(FROM_SOURCE ? './proxy-worker.ts' : './proxy-worker.js', import.meta.url);

/** Starts one forwarding thread (proxy-worker). */
export function startForwardingThread(options: WorkerOptions): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_URL, options);
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(WORKER_URL.href)}); })`;
  return new Worker(boot, { ...options, eval: true, execArgv: [] });
}
/**
 * A worker's young generation, capped: forwarding allocates little that lives, and V8's default
 * lets it grow to tens of MB under load (measured in `envserve serve` after 16 GiB and 60,000
 * round trips: RSS 110 MB with the default, 101 MB at 4 MB).
 */
const YOUNG_GENERATION_MB = 4;
/** How often the main thread looks for another program listening on a proxy's port too. */
const GUARD_INTERVAL_MS = 2000;
/**
 * A thread that ends this often within the window is not started again (a broken install, no
 * threads left to the user, a bug that kills it on every connection): its proxies report
 * ProxyThreadFailed instead of looping forever. Opening a proxy (an exposure's restart) tries again.
 */
export const RESPAWN_LIMIT = { failures: 5, windowMs: 60_000 };

/** Why a proxy cannot serve as asked: another program on its port, or a thread that cannot run. */
export interface ProxyProblem {
  reason: Extract<ReasonCode, 'PortInUse' | 'ProxyThreadFailed'>;
  message: string;
}

export interface ThreadedOptions {
  listen: Endpoint;
  /** A function is resolved on this thread: once at start, and again after each failed upstream connection. */
  target: Endpoint | (() => Endpoint);
  onUpstreamError?: (err: NodeJS.ErrnoException) => void | Promise<void>;
}

export interface ProxyStats {
  /** Forwarding threads listening now (1 for the single-thread proxy). */
  threads: number;
  /** Times a thread died and was replaced. */
  threadRestarts: number;
  connections: number;
  openSockets: number;
  bytesIn: number;
  bytesOut: number;
  bufferedBytes: number;
}

type Reply = Extract<FromThread, { type: 'listening' | 'listenError' | 'closed' }>;

/** N forwarding threads (this one and N-1 workers); created idle, the workers start with the first proxy and end with the last. */
export class ProxyThreads {
  private readonly workers: (Worker | undefined)[];
  private readonly respawns: (NodeJS.Timeout | undefined)[];
  private readonly proxies = new Map<number, ThreadedProxy>();
  /** Answers awaited from a thread, by `${slot}:${id}`, in the order asked (a thread answers in that order). */
  private readonly pending = new Map<string, ((r: Reply | undefined) => void)[]>();
  private readonly backoff = new Backoff({ initialMs: 20, maxMs: 5000 });
  private nextId = 1;
  private guard: NodeJS.Timeout | undefined;
  private stopping: Promise<void> = Promise.resolve();
  /** Per slot: when its threads ended (within RESPAWN_LIMIT.windowMs), and the last error one threw. */
  private readonly endings: number[][];
  private readonly lastError: (Error | undefined)[];
  /** Set when a thread was given up on (RESPAWN_LIMIT). */
  failed: string | undefined;

  /** `spawn` (tests): how a thread is started; default: the forwarding thread. */
  constructor(
    readonly size: number,
    private readonly spawn: (options: WorkerOptions) => Worker = startForwardingThread,
  ) {
    this.workers = new Array<Worker | undefined>(size - 1).fill(undefined);
    this.respawns = new Array<NodeJS.Timeout | undefined>(size - 1).fill(undefined);
    this.endings = Array.from({ length: size - 1 }, () => []);
    this.lastError = new Array<Error | undefined>(size - 1).fill(undefined);
  }

  /** Resolves once every thread listens for it; rejects with the listen error (EADDRINUSE, ...). */
  async open(opts: ThreadedOptions): Promise<ThreadedProxy> {
    const { address, port } = opts.listen;
    if (port !== 0) await exclusiveProbe(address, port);
    await this.stopping;
    const p = new ThreadedProxy(this, this.nextId++, opts);
    this.proxies.set(p.id, p);
    if (this.failed) this.retry();
    try {
      this.workers.forEach((w, slot) => w || this.revive(slot));
      p.listen = await p.openMain(opts.listen); // first: a port 0 is resolved here
      await Promise.all(this.workers.map((_, slot) => this.listenOn(slot, p, p.listen)));
      const foreign = foreignListeners(listTcpListeners(), p.listen.address, p.listen.port, p.inodes());
      if (foreign.length) throw sharedPortError(p.listen.address, p.listen.port, foreign);
    } catch (e) {
      await this.close(p);
      throw e;
    }
    p.opened = true;
    // A function target is resolved after start returned: the caller's callback may refer to
    // the proxy it is creating (LocalRuntime's does). Connections wait in the threads till then.
    if (!p.target) setImmediate(() => p.refreshTarget());
    this.guard ??= setInterval(() => void this.checkShared([...this.proxies.values()]), GUARD_INTERVAL_MS).unref();
    return p;
  }

  /** Asks thread `slot` to listen for `p`; resolves with the address it listens on. */
  private async listenOn(slot: number, p: ThreadedProxy, listen: Endpoint): Promise<Endpoint> {
    p.spawning++;
    try {
      const r = await this.ask(slot, p.id, { type: 'open', id: p.id, listen, shared: p.shared, ...(p.target && { target: p.target }) });
      if (!r) throw this.endedError(slot);
      if (r.type === 'listenError') throw Object.assign(new Error(r.message), { code: r.code });
      if (r.type !== 'listening') throw new Error(`unexpected answer ${r.type}`);
      p.inodeOf[slot] = r.inode;
      p.listening[slot] = true;
      const t = p.target;
      if (t) this.send(slot, { type: 'target', id: p.id, target: t }); // it may have changed meanwhile
      return { address: r.address, port: r.port };
    } finally {
      p.spawning--;
    }
  }

  private ask(slot: number, id: number, m: ToThread): Promise<Reply | undefined> {
    const w = this.workers[slot];
    if (!w) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const key = `${slot}:${id}`;
      this.pending.set(key, [...(this.pending.get(key) ?? []), resolve]);
      w.postMessage(m);
    });
  }

  /** A thread ended before it listened: reason ProxyThreadFailed, with what it threw. */
  private endedError(slot: number): Error {
    const why = this.lastError[slot]?.message;
    const err = new Error(`a forwarding thread of the proxy ended before it listened${why ? `: ${why}` : ''} (ENVSERVE_PROXY_THREADS=1 forwards on the main thread alone)`);
    return Object.assign(err, { reason: 'ProxyThreadFailed' as const });
  }

  send(slot: number, m: ToThread): void {
    this.workers[slot]?.postMessage(m);
  }

  /** Starts thread `slot`, and has it listen for every proxy already open (after a thread died). */
  private revive(slot: number): void {
    clearTimeout(this.respawns[slot]);
    this.respawns[slot] = undefined;
    const init: ThreadInit = { slot };
    const worker = this.spawn({ workerData: init, resourceLimits: { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB } });
    this.workers[slot] = worker;
    worker.on('message', (m: FromThread) => {
      if (m.type === 'upstreamError') return this.proxies.get(m.id)?.upstreamError(Object.assign(new Error(m.message), { code: m.code }));
      const key = `${slot}:${m.id}`;
      const waiting = this.pending.get(key);
      const done = waiting?.shift();
      if (!waiting?.length) this.pending.delete(key);
      done?.(m);
    });
    // An uncaught exception there (or a module that does not load): 'exit' follows, and a new thread.
    worker.on('error', (err: Error) => (this.lastError[slot] = err));
    worker.on('exit', () => this.lost(slot, worker));
    for (const p of this.proxies.values()) if (p.opened && !p.closing) void this.restore(slot, p);
  }

  private async restore(slot: number, p: ThreadedProxy): Promise<void> {
    try {
      await this.listenOn(slot, p, p.listen);
      this.backoff.healthy();
      void this.checkShared([p]);
    } catch (e) {
      if (p.closing || !this.workers[slot]) return;
      // Every thread of this proxy was gone and another program took its port meanwhile.
      if (!p.alive()) p.problem = `host port ${p.listen.port} was taken by another program while the proxy's threads restarted: ${(e as Error).message}`;
      setTimeout(() => this.workers[slot] && !p.listening[slot] && void this.restore(slot, p), 1000).unref();
    }
  }

  /** A thread ended: each proxy keeps its counts, and a new thread takes its place. */
  private lost(slot: number, worker: Worker): void {
    if (this.workers[slot] !== worker) return; // stopped on purpose
    this.workers[slot] = undefined;
    for (const [key, waiting] of this.pending) {
      if (!key.startsWith(`${slot}:`)) continue;
      this.pending.delete(key);
      for (const done of waiting) done(undefined);
    }
    for (const p of this.proxies.values()) p.threadLost(slot);
    const now = Date.now();
    const ended = (this.endings[slot] = [...this.endings[slot]!.filter((t) => now - t < RESPAWN_LIMIT.windowMs), now]);
    if (ended.length >= RESPAWN_LIMIT.failures) {
      const why = this.lastError[slot]?.message;
      this.failed = `a forwarding thread of the proxy ended ${ended.length} times within ${RESPAWN_LIMIT.windowMs / 1000} s${why ? ` (last: ${why})` : ''} and is not started again; the proxy's other threads keep forwarding (ENVSERVE_PROXY_THREADS=1 forwards on the main thread alone)`;
      return;
    }
    this.respawns[slot] = setTimeout(() => this.revive(slot), this.backoff.next());
  }

  /** After a thread was given up on: forget its endings and start it again. */
  private retry(): void {
    this.failed = undefined;
    this.endings.forEach((e) => (e.length = 0));
    this.lastError.fill(undefined);
  }

  /** Looks for other programs on these proxies' ports: /proc read once (shared with the targets' looks), off this (forwarding) thread. */
  private async checkShared(proxies: ThreadedProxy[]): Promise<void> {
    // A thread may end or come back while /proc is read: its listener is ours before or after.
    const before = proxies.map((p) => p.inodes());
    const listeners = await ListenerTable.of().fresh();
    proxies.forEach((p, i) => p.checkShared(listeners, before[i]!));
  }

  /** Stops `p` on every thread; the last proxy ends the threads. Resolves when its port is free. */
  async close(p: ThreadedProxy): Promise<void> {
    if (p.closing) return;
    p.closing = true;
    await Promise.all([p.closeMain(), ...this.workers.map((_, slot) => this.ask(slot, p.id, { type: 'close', id: p.id }))]);
    this.proxies.delete(p.id);
    if (this.proxies.size === 0) {
      clearInterval(this.guard);
      this.guard = undefined;
      this.stopping = this.stopAll();
      await this.stopping;
    }
  }

  private async stopAll(): Promise<void> {
    const ws = this.workers.map((w, slot) => {
      clearTimeout(this.respawns[slot]);
      this.respawns[slot] = undefined;
      this.workers[slot] = undefined;
      return w;
    });
    this.retry();
    await Promise.all(ws.map((w) => w?.terminate()));
  }

  /** Ends worker `slot` as a crash would (tests: the others keep serving, and it is replaced). */
  kill(slot: number): Promise<number> {
    return this.workers[slot]?.terminate() ?? Promise.resolve(0);
  }
}

/** One proxy on the threads: its listeners, target, counters, and whether its port is its own. */
export class ThreadedProxy {
  listen: Endpoint;
  target: Endpoint | undefined;
  opened = false;
  closing = false;
  /** listenOn calls in flight: a new listener's socket is not known as ours yet. */
  spawning = 0;
  problem: string | undefined;
  readonly shared: SharedArrayBuffer;
  readonly listening: boolean[];
  readonly inodeOf: (number | undefined)[];
  private readonly counters: Float64Array;
  private readonly retired = { connections: 0, bytesIn: 0, bytesOut: 0 };
  private restarts = 0;
  /** This thread's own listener for the proxy, and the connections it accepted before the target was known. */
  private main: { server: net.Server; ctx: ForwardContext; inode: number | undefined; waiting: net.Socket[] } | undefined;

  constructor(private readonly threads: ProxyThreads, readonly id: number, private readonly opts: ThreadedOptions) {
    this.listen = opts.listen;
    if (typeof opts.target !== 'function') this.target = opts.target;
    this.shared = new SharedArrayBuffer((threads.size - 1) * SLOT * 8);
    this.counters = new Float64Array(this.shared);
    this.listening = new Array<boolean>(threads.size - 1).fill(false);
    this.inodeOf = new Array<number | undefined>(threads.size - 1).fill(undefined);
  }

  /** Listens on this thread too (SO_REUSEPORT), forwarding as the workers do. */
  openMain(listen: Endpoint): Promise<Endpoint> {
    const server = createListener();
    const ctx: ForwardContext = {
      listen,
      counters: { connections: 0, bytesIn: 0, bytesOut: 0 },
      sockets: new Set(),
      onUpstreamError: (err) => this.upstreamError(err),
    };
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listen.address, port: listen.port, reusePort: true } as net.ListenOptions, () => {
        server.off('error', reject);
        server.on('error', () => {}); // after start (e.g. EMFILE on accept): not fatal
        const addr = server.address() as net.AddressInfo;
        ctx.listen = { address: addr.address, port: addr.port };
        const main = (this.main = { server, ctx, inode: socketInode(server), waiting: [] as net.Socket[] });
        server.on('connection', (client: net.Socket) => (this.target ? forward(client, this.target, ctx) : main.waiting.push(client)));
        resolve(ctx.listen);
      });
    });
  }

  closeMain(): Promise<void> {
    const m = this.main;
    this.main = undefined;
    if (!m) return Promise.resolve();
    return new Promise((resolve) => {
      m.server.close(() => resolve());
      for (const s of [...m.ctx.sockets, ...m.waiting]) s.destroy();
    });
  }

  alive(): number {
    return this.listening.filter(Boolean).length + (this.main ? 1 : 0);
  }

  inodes(): Set<number> {
    return new Set([...this.inodeOf, this.main?.inode].filter((i): i is number => i !== undefined));
  }

  threadLost(slot: number): void {
    const c = this.counters;
    const at = slot * SLOT;
    this.retired.connections += c[at]!;
    this.retired.bytesIn += c[at + 1]!;
    this.retired.bytesOut += c[at + 2]!;
    c.fill(0, at, at + SLOT);
    this.listening[slot] = false;
    this.inodeOf[slot] = undefined;
    if (this.opened && !this.closing) this.restarts++;
  }

  upstreamError(err: NodeJS.ErrnoException): void {
    // The owner may look for the target again (asynchronously): hand the threads what it found.
    void Promise.resolve(this.opts.onUpstreamError?.(err)).then(() => this.refreshTarget());
  }

  /** Resolves a function target and hands a changed one to every thread. */
  refreshTarget(): void {
    if (typeof this.opts.target !== 'function' || this.closing) return;
    let t: Endpoint;
    try {
      t = this.opts.target();
    } catch {
      setTimeout(() => this.refreshTarget(), 20);
      return;
    }
    if (this.target && this.target.address === t.address && this.target.port === t.port) return;
    this.target = t;
    if (this.main) for (const c of this.main.waiting.splice(0)) if (!c.destroyed) forward(c, t, this.main.ctx);
    this.listening.forEach((on, slot) => on && this.threads.send(slot, { type: 'target', id: this.id, target: t }));
  }

  /** Another program listening on the port too (SO_REUSEPORT, same user) is reported, not shared silently. */
  checkShared(listeners: TcpListener[], oursBefore: ReadonlySet<number>): void {
    if (this.closing || this.spawning > 0) return;
    const foreign = foreignListeners(listeners, this.listen.address, this.listen.port, new Set([...oursBefore, ...this.inodes()]));
    if (foreign.length) this.problem = sharedPortError(this.listen.address, this.listen.port, foreign).message;
    else if (this.alive()) this.problem = undefined;
  }

  stats(): ProxyStats {
    const s: ProxyStats = { threads: this.alive(), threadRestarts: this.restarts, ...this.retired, openSockets: 0, bufferedBytes: 0 };
    if (this.main) {
      const { counters, sockets } = this.main.ctx;
      s.connections += counters.connections;
      s.bytesIn += counters.bytesIn;
      s.bytesOut += counters.bytesOut;
      s.openSockets += sockets.size;
      s.bufferedBytes += bufferedBytes(sockets);
    }
    const c = this.counters;
    for (let at = 0; at < c.length; at += SLOT) {
      s.connections += c[at]!;
      s.bytesIn += c[at + 1]!;
      s.bytesOut += c[at + 2]!;
      s.openSockets += c[at + 3]!;
      s.bufferedBytes += c[at + 4]!;
    }
    return s;
  }

  /** Why the proxy cannot serve as asked, if it cannot: its port is not its own, or a thread cannot run. */
  condition(): ProxyProblem | undefined {
    if (this.problem) return { reason: 'PortInUse', message: this.problem };
    const failed = this.threads.failed;
    return failed ? { reason: 'ProxyThreadFailed', message: failed } : undefined;
  }

  kill(slot: number): Promise<number> {
    return this.threads.kill(slot);
  }

  close(): Promise<void> {
    return this.threads.close(this);
  }
}
