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
  // Each direction reads into one buffer per connection and writes from it (relay): no
  // allocation per read, so the garbage collector, whose pauses every connection waits out, runs
  // rarely. Upstream → client through net.connect's onread; client → upstream the same way where
  // the accepted socket can be switched to it (userBuffer), else through data events.
  let upstreamToClient: Relay | undefined;
  const upstream: net.Socket = net.connect({
    host: target.address,
    port: target.port,
    allowHalfOpen: true,
    noDelay: true,
    onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: (n: number, buf: Uint8Array) => upstreamToClient!(n, buf) },
  });
  upstreamToClient = relay(upstream, client, (n) => (counters.bytesOut += n));
  track(ctx.sockets, client);
  track(ctx.sockets, upstream);
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    const toUpstream = relay(client, upstream, (n) => (counters.bytesIn += n));
    if (!useOwnBuffer(client, Buffer.allocUnsafe(READ_BUFFER), toUpstream)) {
      // Client → upstream: plain data events, paused while upstream's buffer is full.
      client.on('data', (d: Buffer) => {
        counters.bytesIn += d.length;
        if (!upstream.write(d)) client.pause();
      });
      upstream.on('drain', () => client.resume());
    }
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

/** An onread callback: what `from` read into its buffer goes to `to`; false stops reading. */
type Relay = (n: number, buf: Uint8Array) => boolean;

function relay(from: net.Socket, to: net.Socket, count: (n: number) => void): Relay {
  let paused = false;
  const resume = () => {
    if (paused && to.writableLength === 0) {
      paused = false;
      from.resume();
    }
  };
  return (n, buf) => {
    count(n);
    to.write(buf.subarray(0, n), resume);
    // Written to the kernel at once: the buffer is free again. Otherwise the write still
    // points into it: stop reading until it is done (this is also the backpressure).
    if (to.writableLength === 0) return true;
    paused = true;
    return false;
  };
}

/**
 * net.connect's onread for an accepted socket, which Node.js offers only to the sockets it
 * connects: the same three fields its constructor sets, then the handle's user buffer. Only
 * where the socket has those fields (null: no onread) and has read nothing yet (paused since
 * accept); otherwise false, and the caller uses data events.
 */
function useOwnBuffer(s: net.Socket, buffer: Buffer, callback: Relay): boolean {
  const fields = ownBufferFields(s);
  const handle = (s as unknown as { _handle?: { useUserBuffer?: (b: Uint8Array) => void; reading?: boolean } })._handle;
  if (!fields || typeof handle?.useUserBuffer !== 'function' || handle.reading || s.readableLength > 0) return false;
  const o = s as unknown as Record<symbol, unknown>;
  if (o[fields.buffer] !== null || o[fields.callback] !== null || o[fields.gen] !== null) return false;
  o[fields.buffer] = buffer;
  o[fields.callback] = callback;
  handle.useUserBuffer(buffer);
  return true;
}

let fieldsCache: { buffer: symbol; callback: symbol; gen: symbol } | null | undefined;
function ownBufferFields(s: net.Socket): typeof fieldsCache {
  if (fieldsCache !== undefined) return fieldsCache;
  const syms = Object.getOwnPropertySymbols(s);
  const by = (d: string) => syms.find((x) => x.description === d);
  const [buffer, callback, gen] = [by('kBuffer'), by('kBufferCb'), by('kBufferGen')];
  fieldsCache = buffer && callback && gen ? { buffer, callback, gen } : null;
  return fieldsCache;
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
