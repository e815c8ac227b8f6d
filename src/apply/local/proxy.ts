// envserve's TCP proxy: listens on one address and forwards every connection, byte for byte,
// to a target (proxy-forward.ts: half-close, backpressure, any protocol). With threads=1 it
// forwards on the calling thread; with N, on that thread and N-1 worker threads, each with its
// own listening socket on the same port (proxy-threads.ts), so that no connection waits while
// one thread waits for a core. A runtime hands all its proxies one set of threads (`pool`). The
// default is one thread per core but one, at most two, where listening sockets can share a port
// (Linux, Node.js >= 22.12): 1 on two cores; ENVSERVE_PROXY_THREADS overrides it.
import net from 'node:net';
import { availableParallelism } from 'node:os';
import type { Endpoint } from '../../status/types.js';
import type { HandleCondition } from '../types.js';
import { bufferedBytes, createListener, forward, type ForwardContext } from './proxy-forward.js';
import { ProxyThreads, type ProxyProblem, type ProxyStats, type ThreadedProxy } from './proxy-threads.js';

export { ProxyThreads, RESPAWN_LIMIT, type ProxyProblem, type ProxyStats } from './proxy-threads.js';

/**
 * Each worker is a V8 isolate: +15 MB idle, up to ~18 MB under load, and the proxy's budget is
 * 100 MB for the whole process (one thread: ~85 MB on Node.js 26). One core is left to the
 * programs at both ends of the connections: on two cores a second thread only competes with them
 * for the cores (docs/performance.md, "Local TCP proxy").
 */
const MAX_DEFAULT_THREADS = 2;

export interface TcpProxyOptions {
  listen: Endpoint;
  /**
   * Where connections go; a function so a runtime can re-resolve (e.g. after a refusal). With
   * threads > 1 it is called on this thread at start and again after each failed upstream
   * connection (the threads cannot call it), not for every connection.
   */
  target: Endpoint | (() => Endpoint);
  /**
   * Told about each failed upstream connection (the client is closed with a reset); with
   * threads, a function target is resolved again when the promise it returns settles.
   */
  onUpstreamError?: (err: NodeJS.ErrnoException) => void | Promise<void>;
  /** Forwarding threads, the calling one included; 1: no workers. Default: defaultProxyThreads(). */
  threads?: number;
  /** Threads shared with other proxies (their size wins over `threads`); default: the proxy's own. */
  pool?: ProxyThreads;
}

/** Listening sockets that share a port (SO_REUSEPORT in Node.js: 22.12 and 23.1 on): Linux here. */
export function threadsSupported(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
  return process.platform === 'linux' && (major >= 24 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12));
}

export function defaultProxyThreads(): number {
  if (!threadsSupported()) return 1;
  const asked = Number(process.env.ENVSERVE_PROXY_THREADS);
  if (Number.isInteger(asked) && asked >= 1) return asked;
  return Math.max(1, Math.min(MAX_DEFAULT_THREADS, availableParallelism() - 1));
}

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private readonly counters = { connections: 0, bytesIn: 0, bytesOut: 0 };
  private constructor(
    readonly listen: Endpoint,
    private readonly server?: net.Server,
    private readonly pool?: ThreadedProxy,
  ) {}

  /** Resolves once listening; rejects with the listen error (EADDRINUSE, EADDRNOTAVAIL, ...). */
  static async start(opts: TcpProxyOptions): Promise<TcpProxy> {
    const threads = !threadsSupported() ? 1 : opts.pool ? opts.pool.size : opts.threads ?? defaultProxyThreads();
    if (threads > 1) {
      const p = await (opts.pool ?? new ProxyThreads(threads)).open(opts);
      return new TcpProxy(p.listen, undefined, p);
    }
    const server = createListener();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.listen.address, port: opts.listen.port, exclusive: true }, () => {
        server.off('error', reject);
        const addr = server.address() as net.AddressInfo;
        const proxy = new TcpProxy({ address: addr.address, port: addr.port }, server);
        const ctx: ForwardContext = { listen: proxy.listen, counters: proxy.counters, sockets: proxy.sockets, ...(opts.onUpstreamError && { onUpstreamError: opts.onUpstreamError }) };
        server.on('connection', (client) => forward(client, typeof opts.target === 'function' ? opts.target() : opts.target, ctx));
        // A listener error after start (rare: e.g. EMFILE on accept) must not crash the process.
        server.on('error', () => {});
        resolve(proxy);
      });
    });
  }

  /** Connections, bytes each way, threads; with threads, the figures are at most 0.1 s old. */
  stats(): ProxyStats {
    if (this.pool) return this.pool.stats();
    return { threads: 1, threadRestarts: 0, ...this.counters, openSockets: this.sockets.size, bufferedBytes: bufferedBytes(this.sockets) };
  }

  /** Open sockets (client and upstream sides both count). */
  get openSockets(): number {
    return this.stats().openSockets;
  }

  /** Bytes queued in the proxy's write buffers: stays bounded by backpressure. */
  get bufferedBytes(): number {
    return this.stats().bufferedBytes;
  }

  /** Why the proxy cannot serve as asked: its port shared with another program, or a thread that cannot run. */
  condition(): ProxyProblem | undefined {
    return this.pool?.condition();
  }

  /** A function target changed: the threads forward new connections to its new value (one thread calls it per connection). */
  retarget(): void {
    this.pool?.refreshTarget();
  }

  /** @internal Ends one forwarding thread as a crash would (tests); no-op with one thread. */
  killThread(slot: number): Promise<number> {
    return this.pool?.kill(slot) ?? Promise.resolve(0);
  }

  /** Stops listening and closes every open connection; resolves when the port is free. */
  close(): Promise<void> {
    if (this.pool) return this.pool.close();
    return new Promise((resolve) => {
      this.server!.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}

/** A proxy whose port another program listens on too (SO_REUSEPORT: PortInUse), or whose thread cannot run (ProxyThreadFailed): blocking. */
export function proxyCondition(proxy: TcpProxy): HandleCondition | undefined {
  const problem = proxy.condition();
  return problem ? { ...problem, blocking: true } : undefined;
}
