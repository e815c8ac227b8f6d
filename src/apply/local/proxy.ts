// envserve's TCP proxy: listens on one address and forwards every connection, byte for byte,
// to a target. Half-close is passed on (allowHalfOpen), and
// WebSocket upgrades or any other protocol pass through because nothing is parsed.
// Backpressure: a reader is paused while the other side's write buffer is full, so nothing
// is buffered without bound.
import net from 'node:net';
import type { Endpoint } from '../../status/types.js';

/**
 * Per-connection read buffer of the upstream side: four times Node's own 64 KiB read size, fewer
 * reads (and event-loop turns) per byte in bulk transfers. Measured on loopback (2 cores, 1 GiB
 * downloads, proxy CPU per GiB): 64 KiB ~55 ticks, 128 KiB ~55, 256 KiB ~39, 512 KiB ~33, and
 * throughput 0.5x direct at 128 KiB, ~0.6x at 256 KiB and above. Small messages are unaffected
 * (a read returns what is there), and only the pages a read fills become resident, so idle or
 * chatty connections cost no more memory; 256 KiB bounds a bulk connection at 256 KiB.
 */
const READ_BUFFER = 256 * 1024;

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
    // Upstream → client (downloads, the bulk direction) reads into one buffer per connection
    // (onread) instead of a fresh allocation per read: less garbage, flat memory.
    const buffer = Buffer.allocUnsafe(READ_BUFFER);
    let upstreamPaused = false;
    const upstream: net.Socket = net.connect({
      host: target.address,
      port: target.port,
      allowHalfOpen: true,
      noDelay: true,
      onread: {
        buffer,
        callback: (n: number, buf: Uint8Array): boolean => {
          client.write(buf.subarray(0, n), resumeUpstream);
          // Written to the kernel at once: the buffer is free again. Otherwise the write still
          // points into it: stop reading until it is done (this is also the backpressure).
          if (client.writableLength === 0) return true;
          upstreamPaused = true;
          return false;
        },
      },
    });
    function resumeUpstream(): void {
      if (upstreamPaused && client.writableLength === 0) {
        upstreamPaused = false;
        upstream.resume();
      }
    }
    this.track(client);
    this.track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      // Client → upstream: plain data events, paused while upstream's buffer is full.
      client.on('data', (d: Buffer) => {
        if (!upstream.write(d)) client.pause();
      });
      upstream.on('drain', () => client.resume());
      client.resume();
    });
    // FIN is passed on in each direction separately (half-close).
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
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
