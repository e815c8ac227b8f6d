// One forwarding thread of the TCP proxy (proxy-threads.ts starts N of them): its own listening
// socket on the proxy's address with SO_REUSEPORT, so the kernel spreads new connections over the
// threads, and every connection it accepts is forwarded here (proxy-forward.ts), never touching
// the main thread. It loads only node:net and the forwarding code: each thread is a V8 isolate
// of its own, and what it imports is memory it holds.
import { readlinkSync } from 'node:fs';
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { Endpoint } from '../../status/types.js';
import { bufferedBytes, createListener, forward, type ForwardContext } from './proxy-forward.js';
import { SLOT, type FromThread, type ThreadInit, type ToThread } from './proxy-protocol.js';

const init = workerData as ThreadInit;
const port = parentPort!;
const post = (m: FromThread) => port.postMessage(m);
const shared = new Float64Array(init.shared, init.slot * SLOT * 8, SLOT);
let target: Endpoint | undefined = init.target;
/** Connections accepted before the main thread said where they go (a function target). */
const waiting: net.Socket[] = [];

const server = createListener();
const ctx: ForwardContext = {
  listen: init.listen,
  counters: { connections: 0, bytesIn: 0, bytesOut: 0 },
  sockets: new Set(),
  onUpstreamError: (err) => post({ type: 'upstreamError', code: err.code ?? '', message: err.message }),
};

// Counters for the main thread: this thread is their one writer, the main thread only reads.
function publish(): void {
  shared[0] = ctx.counters.connections;
  shared[1] = ctx.counters.bytesIn;
  shared[2] = ctx.counters.bytesOut;
  shared[3] = ctx.sockets.size;
  shared[4] = bufferedBytes(ctx.sockets);
}
setInterval(publish, 100).unref();

port.on('message', (m: ToThread) => {
  if (m.type === 'target') {
    target = m.target;
    for (const c of waiting.splice(0)) if (!c.destroyed) forward(c, target, ctx);
  }
});

server.once('error', (err: NodeJS.ErrnoException) => {
  post({ type: 'listenError', code: err.code ?? '', message: err.message });
  process.exit(1);
});
server.listen({ host: init.listen.address, port: init.listen.port, reusePort: true } as net.ListenOptions, () => {
  // A listener error after start (rare: e.g. EMFILE on accept) must not end the thread.
  server.on('error', () => {});
  server.on('connection', (client) => {
    if (target) forward(client, target, ctx);
    else waiting.push(client);
  });
  const addr = server.address() as net.AddressInfo;
  ctx.listen = { address: addr.address, port: addr.port };
  post({ type: 'listening', address: addr.address, port: addr.port, inode: socketInode(server) });
});

/** The listening socket's inode (/proc/self/fd), so the main thread can tell our listeners from others'. */
function socketInode(s: net.Server): number | undefined {
  const fd = (s as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) return undefined;
  try {
    return Number(/^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`))?.[1]) || undefined;
  } catch {
    return undefined;
  }
}
