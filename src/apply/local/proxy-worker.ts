// One forwarding thread of the TCP proxy (proxy-threads.ts starts N-1 of them, shared by every
// proxy of their owner; the main thread is the Nth): for each proxy, its own listening socket on the proxy's address with
// SO_REUSEPORT, so the kernel spreads new connections over the threads, and every connection it
// accepts is forwarded here (proxy-forward.ts), never touching the main thread. It loads only
// node:net and the forwarding code: each thread is a V8 isolate of its own (~10 MB), and what it
// imports is memory it holds.
import net from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { Endpoint } from '../../status/types.js';
import { bufferedBytes, createListener, forward, socketInode, type ForwardContext } from './proxy-forward.js';
import { SLOT, type FromThread, type ThreadInit, type ToThread } from './proxy-protocol.js';

const { slot } = workerData as ThreadInit;
const port = parentPort!;
const post = (m: FromThread) => port.postMessage(m);

interface Listener {
  server: net.Server;
  ctx: ForwardContext;
  target?: Endpoint;
  /** Connections accepted before the main thread said where they go (a function target). */
  waiting: net.Socket[];
  shared: Float64Array;
  /** Still binding; a close asked meanwhile is done once the bind settled (answers stay in order). */
  opening: boolean;
  closeAsked: boolean;
}
const listeners = new Map<number, Listener>();

// Counters for the main thread: this thread is the one writer of its slot, the main thread reads.
function publish(): void {
  for (const l of listeners.values()) {
    const { counters, sockets } = l.ctx;
    l.shared[0] = counters.connections;
    l.shared[1] = counters.bytesIn;
    l.shared[2] = counters.bytesOut;
    l.shared[3] = sockets.size;
    l.shared[4] = bufferedBytes(sockets);
  }
}
setInterval(publish, 100).unref();

port.on('message', (m: ToThread) => {
  if (m.type === 'open') open(m.id, m.listen, m.target, m.shared);
  else if (m.type === 'target') {
    const l = listeners.get(m.id);
    if (!l) return;
    l.target = m.target;
    for (const c of l.waiting.splice(0)) if (!c.destroyed) forward(c, m.target, l.ctx);
  } else close(m.id);
});

function open(id: number, listen: Endpoint, target: Endpoint | undefined, shared: SharedArrayBuffer): void {
  const server = createListener();
  const l: Listener = {
    server,
    target,
    waiting: [],
    opening: true,
    closeAsked: false,
    shared: new Float64Array(shared, slot * SLOT * 8, SLOT),
    ctx: {
      listen,
      counters: { connections: 0, bytesIn: 0, bytesOut: 0 },
      sockets: new Set(),
      onUpstreamError: (err) => post({ type: 'upstreamError', id, code: err.code ?? '', message: err.message }),
    },
  };
  listeners.set(id, l);
  server.once('error', (err: NodeJS.ErrnoException) => {
    listeners.delete(id);
    post({ type: 'listenError', id, code: err.code ?? '', message: err.message });
    if (l.closeAsked) post({ type: 'closed', id });
  });
  server.listen({ host: listen.address, port: listen.port, reusePort: true } as net.ListenOptions, () => {
    // A listener error after start (rare: e.g. EMFILE on accept) must not end the thread.
    server.on('error', () => {});
    server.on('connection', (client) => {
      if (l.target) forward(client, l.target, l.ctx);
      else l.waiting.push(client);
    });
    const addr = server.address() as net.AddressInfo;
    l.ctx.listen = { address: addr.address, port: addr.port };
    l.opening = false;
    post({ type: 'listening', id, address: addr.address, port: addr.port, inode: socketInode(server) });
    if (l.closeAsked) close(id);
  });
}

function close(id: number): void {
  const l = listeners.get(id);
  if (!l) return post({ type: 'closed', id });
  if (l.opening) return void (l.closeAsked = true);
  listeners.delete(id);
  l.server.close(() => post({ type: 'closed', id }));
  for (const s of [...l.ctx.sockets, ...l.waiting]) s.destroy();
}
