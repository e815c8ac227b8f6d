// The TCP proxy on N forwarding threads (threads > 1): each a worker thread with its own
// listening socket on the same address and port (SO_REUSEPORT: the kernel spreads new
// connections over them), forwarding on its own (proxy-worker.ts). The main thread only starts
// them, replaces one that dies (the others keep accepting meanwhile), hands them the target,
// sums their counters and keeps the port ours (proxy-guard.ts). Why threads: with one thread,
// every connection waits whenever that thread waits for a core (README, "Local TCP proxy").
import { Worker } from 'node:worker_threads';
import type { Endpoint } from '../../status/types.js';
import { Backoff } from '../backoff.js';
import { exclusiveProbe, foreignListeners, sharedPortError } from './proxy-guard.js';
import { SLOT, type FromThread, type ThreadInit, type ToThread } from './proxy-protocol.js';

// dist/: the compiled proxy-worker.js next to this file. Under tsx (the tests) the thread
// inherits the --import of tsx from process.execArgv, which maps this .js name to the .ts file.
const WORKER_URL = new URL('./proxy-worker.js', import.meta.url);
/** How often the main thread looks for another program listening on the port too. */
const GUARD_INTERVAL_MS = 2000;

export interface ThreadPoolOptions {
  listen: Endpoint;
  /** A function is resolved on this thread: once at start, and again after each failed upstream connection. */
  target: Endpoint | (() => Endpoint);
  onUpstreamError?: (err: NodeJS.ErrnoException) => void;
  threads: number;
}

export interface ProxyStats {
  /** Forwarding threads listening now (1 for the single-thread proxy). */
  threads: number;
  /** Threads that died and were replaced. */
  threadRestarts: number;
  connections: number;
  openSockets: number;
  bytesIn: number;
  bytesOut: number;
  bufferedBytes: number;
}

interface Thread {
  worker: Worker;
  inode?: number;
  listening: boolean;
}

export class ThreadPool {
  listen: Endpoint;
  private readonly counters: Float64Array;
  private readonly threads: (Thread | undefined)[];
  private readonly retired = { connections: 0, bytesIn: 0, bytesOut: 0 };
  private readonly backoff = new Backoff({ initialMs: 20, maxMs: 5000 });
  private restarts = 0;
  private spawning = 0;
  private closing = false;
  private target: Endpoint | undefined;
  private problem: string | undefined;
  private guard: NodeJS.Timeout | undefined;

  private constructor(private readonly opts: ThreadPoolOptions) {
    this.listen = opts.listen;
    this.counters = new Float64Array(new SharedArrayBuffer(opts.threads * SLOT * 8));
    this.threads = new Array<Thread | undefined>(opts.threads).fill(undefined);
    if (typeof opts.target !== 'function') this.target = opts.target;
  }

  /** Resolves once every thread listens; rejects with the listen error (EADDRINUSE, ...). */
  static async start(opts: ThreadPoolOptions): Promise<ThreadPool> {
    const pool = new ThreadPool(opts);
    try {
      await pool.open();
    } catch (e) {
      await pool.close();
      throw e;
    }
    return pool;
  }

  private async open(): Promise<void> {
    const { address, port } = this.opts.listen;
    if (port !== 0) await exclusiveProbe(address, port);
    this.listen = await this.spawn(0, this.opts.listen);
    await Promise.all(this.threads.slice(1).map((_, i) => this.spawn(i + 1, this.listen)));
    const foreign = foreignListeners(this.listen.address, this.listen.port, this.inodes());
    if (foreign.length) throw sharedPortError(this.listen.address, this.listen.port, foreign);
    // A function target is resolved after start() returned: the caller's callback may refer to
    // the proxy it is creating (LocalRuntime's does). Connections wait in the threads till then.
    if (!this.target) setImmediate(() => this.refreshTarget());
    this.guard = setInterval(() => this.checkShared(), GUARD_INTERVAL_MS).unref();
  }

  /** Starts the thread of `slot`, listening on `listen`; resolves with the address it listens on. */
  private spawn(slot: number, listen: Endpoint): Promise<Endpoint> {
    const init: ThreadInit = { listen, shared: this.counters.buffer as SharedArrayBuffer, slot, ...(this.target && { target: this.target }) };
    const worker = new Worker(WORKER_URL, { workerData: init });
    const thread: Thread = { worker, listening: false };
    this.threads[slot] = thread;
    this.spawning++;
    return new Promise<Endpoint>((resolve, reject) => {
      let settled = false;
      const fail = (err: Error) => {
        if (settled) return;
        settled = true;
        this.spawning--;
        reject(err);
      };
      worker.on('message', (m: FromThread) => {
        if (m.type === 'listening') {
          settled = thread.listening = true;
          thread.inode = m.inode;
          this.spawning--;
          if (this.target) this.send(thread, { type: 'target', target: this.target });
          resolve({ address: m.address, port: m.port });
        } else if (m.type === 'listenError') fail(Object.assign(new Error(m.message), { code: m.code }));
        else this.upstreamError(Object.assign(new Error(m.message), { code: m.code }));
      });
      worker.on('error', fail);
      worker.on('exit', (code) => {
        fail(new Error(`the proxy thread exited (code ${code}) before it listened`));
        this.lost(slot, worker);
      });
    });
  }

  /** A thread ended: its counters are kept, and a new one takes its place (unless closing). */
  private lost(slot: number, worker: Worker): void {
    if (this.threads[slot]?.worker !== worker) return;
    this.threads[slot] = undefined;
    const c = this.counters;
    const at = slot * SLOT;
    this.retired.connections += c[at]!;
    this.retired.bytesIn += c[at + 1]!;
    this.retired.bytesOut += c[at + 2]!;
    c.fill(0, at, at + SLOT);
    if (this.closing) return;
    this.restarts++;
    setTimeout(() => void this.replace(slot), this.backoff.next());
  }

  private async replace(slot: number): Promise<void> {
    if (this.closing || this.threads[slot]) return;
    try {
      await this.spawn(slot, this.listen);
      this.backoff.healthy();
      this.checkShared();
    } catch (e) {
      // Every thread was gone and another program took the port meanwhile: said in condition().
      if (!this.alive()) this.problem = `host port ${this.listen.port} was taken by another program while the proxy's threads restarted: ${(e as Error).message}`;
      // (the exit handler of the failed thread schedules the next try)
    }
  }

  private upstreamError(err: NodeJS.ErrnoException): void {
    this.opts.onUpstreamError?.(err);
    this.refreshTarget();
  }

  /** Resolves a function target and hands a changed one to every thread. */
  private refreshTarget(): void {
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
    for (const th of this.threads) if (th?.listening) this.send(th, { type: 'target', target: t });
  }

  private send(thread: Thread, m: ToThread): void {
    thread.worker.postMessage(m);
  }

  private inodes(): Set<number> {
    return new Set(this.threads.flatMap((t) => (t?.inode !== undefined ? [t.inode] : [])));
  }

  private alive(): number {
    return this.threads.filter((t) => t?.listening).length;
  }

  /** Another program listening on the port too (SO_REUSEPORT, same user) is reported, not shared silently. */
  private checkShared(): void {
    if (this.closing || this.spawning > 0) return; // a new thread's socket is not known as ours yet
    const foreign = foreignListeners(this.listen.address, this.listen.port, this.inodes());
    if (foreign.length) this.problem = sharedPortError(this.listen.address, this.listen.port, foreign).message;
    else if (this.alive()) this.problem = undefined;
  }

  /** Why the proxy cannot serve its port as its own, if it cannot. */
  condition(): string | undefined {
    return this.problem;
  }

  stats(): ProxyStats {
    const s: ProxyStats = { threads: this.alive(), threadRestarts: this.restarts, ...this.retired, openSockets: 0, bufferedBytes: 0 };
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

  /** Ends one thread as a crash would (tests: the others keep serving, and it is replaced). */
  killThread(slot: number): Promise<number> {
    return this.threads[slot]?.worker.terminate() ?? Promise.resolve(0);
  }

  /** Stops every thread (their sockets close with them); resolves when the port is free. */
  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.guard);
    await Promise.all(this.threads.map((t) => t?.worker.terminate()));
  }
}
