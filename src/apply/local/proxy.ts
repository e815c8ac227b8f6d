// envserve's TCP proxy: listens on one address and forwards every connection, byte for byte,
// to a target. Half-close is passed on (allowHalfOpen), backpressure comes from pipe() (a
// paused reader when the writer's buffer is full: nothing is buffered without bound), and
// WebSocket upgrades or any other protocol pass through because nothing is parsed.
import net from 'node:net';
import type { Endpoint } from '../../status/types.js';

export interface TcpProxyOptions {
  listen: Endpoint;
  /** Where connections go; a function so a runtime can re-resolve (e.g. after a refusal). */
  target: Endpoint | (() => Endpoint);
  /** Told about each failed upstream connection (the client is closed with a reset). */
  onUpstreamError?: (err: NodeJS.ErrnoException) => void;
}

export class TcpProxy {
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    private readonly server: net.Server,
    readonly listen: Endpoint,
  ) {}

  /** Resolves once listening; rejects with the listen error (EADDRINUSE, EADDRNOTAVAIL, ...). */
  static start(opts: TcpProxyOptions): Promise<TcpProxy> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: opts.listen.address, port: opts.listen.port, exclusive: true }, () => {
        server.off('error', reject);
        const addr = server.address() as net.AddressInfo;
        const proxy = new TcpProxy(server, { address: addr.address, port: addr.port });
        server.on('connection', (client) => proxy.forward(client, opts));
        // A listener error after start (rare: e.g. EMFILE on accept) must not crash the process.
        server.on('error', () => {});
        resolve(proxy);
      });
    });
  }

  /** Open sockets (client and upstream sides both count). */
  get openSockets(): number {
    return this.sockets.size;
  }

  /** Bytes queued in the proxy's write buffers: stays bounded by backpressure. */
  get bufferedBytes(): number {
    let n = 0;
    for (const s of this.sockets) n += s.writableLength;
    return n;
  }

  private forward(client: net.Socket, opts: TcpProxyOptions): void {
    const target = typeof opts.target === 'function' ? opts.target() : opts.target;
    if (target.port === this.listen.port && (target.address === this.listen.address || this.listen.address === '0.0.0.0')) {
      // Forwarding to ourselves would loop until file descriptors run out.
      opts.onUpstreamError?.(Object.assign(new Error('the target is the proxy itself'), { code: 'ELOOP' }));
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: target.address, port: target.port, allowHalfOpen: true, noDelay: true });
    this.track(client);
    this.track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    // An error on one side ends the other with a reset, as a direct connection would see it.
    client.on('error', () => upstream.destroyed || upstream.resetAndDestroy());
    upstream.on('error', (err: NodeJS.ErrnoException) => {
      if (!connected) opts.onUpstreamError?.(err);
      if (!client.destroyed) client.resetAndDestroy();
    });
  }

  private track(s: net.Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  /** Stops listening and closes every open connection; resolves when the port is free. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }
}
