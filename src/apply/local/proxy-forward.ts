// Forwarding one accepted connection, byte for byte, to a target: the part of the TCP proxy that
// runs for every connection, the same code on the main thread (threads=1) and in each forwarding
// thread (proxy-worker.ts). Half-close is passed on (allowHalfOpen), and WebSocket upgrades or
// any other protocol pass through because nothing is parsed. Backpressure: a reader is paused
// while the other side's write buffer is full, so nothing is buffered without bound.
import { readlinkSync } from 'node:fs';
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

/** What one forwarding loop (a thread, or the main thread) counts; plain numbers, one writer. */
export interface ForwardCounters {
  /** Connections accepted. */
  connections: number;
  /** Bytes from clients to the target. */
  bytesIn: number;
  /** Bytes from the target to clients. */
  bytesOut: number;
}

export interface ForwardContext {
  /** Where this proxy listens (a target equal to it would loop). */
  listen: Endpoint;
  counters: ForwardCounters;
  /** Open sockets (client and upstream sides both count); each removes itself on close. */
  sockets: Set<net.Socket>;
  onUpstreamError?: (err: NodeJS.ErrnoException) => void;
}

export function createListener(): net.Server {
  return net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true });
}

export function forward(client: net.Socket, target: Endpoint, ctx: ForwardContext): void {
  const { listen, counters } = ctx;
  counters.connections++;
  if (target.port === listen.port && (target.address === listen.address || listen.address === '0.0.0.0')) {
    // Forwarding to ourselves would loop until file descriptors run out.
    ctx.onUpstreamError?.(Object.assign(new Error('the target is the proxy itself'), { code: 'ELOOP' }));
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
        counters.bytesOut += n;
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
  track(ctx.sockets, client);
  track(ctx.sockets, upstream);
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    // Client → upstream: plain data events, paused while upstream's buffer is full.
    client.on('data', (d: Buffer) => {
      counters.bytesIn += d.length;
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
    if (!connected) ctx.onUpstreamError?.(err);
    if (!client.destroyed) client.resetAndDestroy();
  });
}

function track(sockets: Set<net.Socket>, s: net.Socket): void {
  sockets.add(s);
  s.once('close', () => sockets.delete(s));
}

/** Bytes queued in write buffers: stays bounded by backpressure. */
export function bufferedBytes(sockets: Set<net.Socket>): number {
  let n = 0;
  for (const s of sockets) n += s.writableLength;
  return n;
}

/** A listening socket's inode (/proc/self/fd), so the proxy can tell its listeners from others'. */
export function socketInode(s: net.Server): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return undefined;
  try {
    return Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1]) || undefined;
  } catch {
    return undefined;
  }
}
