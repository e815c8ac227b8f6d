// The TCP proxy with real sockets on loopback: half-close, backpressure, refusal, a target
// resolved again after a refusal, byte counters, clean close. Every case runs twice: on the
// calling thread (threads=1) and on forwarding threads (threads=N, each with its own listener).
// The heavy cases (100 MB each way, 200 concurrent connections, WebSocket) run through the real
// CLI: cli-proxy.test.ts; a thread killed under load and the port guard: proxy-threads.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { TcpProxy, type TcpProxyOptions } from '../../src/apply/local/proxy.js';

/** The threaded mode: one thread per core (at most 4), at least 2 (the default is one thread on two cores). */
const THREADED = Math.max(2, Math.min(4, availableParallelism()));

async function listen(handler: (s: net.Socket) => void, opts: net.ServerOpts = {}): Promise<net.Server> {
  const srv = net.createServer(opts, handler);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return srv;
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

for (const threads of [1, THREADED]) {
  const mode = `[threads=${threads}]`;
  /** Starts a proxy in this mode, and checks that it really runs that many threads. */
  const start = async (o: Omit<TcpProxyOptions, 'threads'>) => {
    const p = await TcpProxy.start({ ...o, threads });
    assert.equal(p.stats().threads, threads);
    return p;
  };
  const proxyTo = (port: number) => start({ listen: { address: '127.0.0.1', port: 0 }, target: { address: '127.0.0.1', port } });

  test(`${mode} half-close: the client ends its side and still receives the reply`, async () => {
    // The server answers only after the client's FIN, as `nc -q`-style protocols do.
    const srv = await listen((s) => {
      const parts: Buffer[] = [];
      s.on('data', (d) => parts.push(d));
      s.on('end', () => s.end(`got ${Buffer.concat(parts).toString()}`));
    }, { allowHalfOpen: true });
    const proxy = await proxyTo(portOf(srv));
    const c = net.connect({ port: proxy.listen.port, host: '127.0.0.1', allowHalfOpen: true });
    c.end('hello');
    const chunks: Buffer[] = [];
    c.on('data', (d) => chunks.push(d));
    await once(c, 'end');
    assert.equal(Buffer.concat(chunks).toString(), 'got hello');
    await proxy.close();
    srv.close();
  });

  test(`${mode} backpressure: a client that does not read keeps the proxy buffer bounded`, async () => {
    const big = Buffer.alloc(1024 * 1024, 7);
    let serverWrote = 0;
    let stop = false;
    const srv = await listen((s) => {
      const pump = () => {
        while (!stop && serverWrote < 200 * big.length) {
          serverWrote += big.length;
          if (!s.write(big)) return void s.once('drain', pump);
        }
      };
      pump();
      s.on('error', () => {});
    });
    const proxy = await proxyTo(portOf(srv));
    const c = net.connect(proxy.listen.port, '127.0.0.1');
    await once(c, 'connect');
    c.pause(); // never reads
    await new Promise((r) => setTimeout(r, 500));
    const stats = proxy.stats();
    assert.equal(stats.openSockets, 2, 'the client side and the upstream side'); // (threads: counters at most 0.1 s old)
    assert.ok(stats.bytesOut > 0, 'bytes did flow until the client stopped reading');
    assert.ok(proxy.bufferedBytes < 8 * 1024 * 1024, `proxy buffers ${proxy.bufferedBytes} bytes`);
    assert.ok(serverWrote < 100 * big.length, `server could write ${serverWrote} bytes: no backpressure`);
    stop = true;
    c.destroy();
    await proxy.close();
    srv.close();
  });

  test(`${mode} backpressure the other way: a target that does not read keeps the proxy buffer bounded`, async () => {
    // Uploads: the client is not read while the write to the target is pending (proxy-forward.ts),
    // so the client's own writes stall instead of filling the proxy.
    const srv = await listen((s) => {
      s.pause(); // never reads
      s.on('error', () => {});
    });
    const proxy = await proxyTo(portOf(srv));
    const c = net.connect(proxy.listen.port, '127.0.0.1');
    c.on('error', () => {});
    await once(c, 'connect');
    const big = Buffer.alloc(1024 * 1024, 9);
    let clientWrote = 0;
    let stop = false;
    const pump = () => {
      while (!stop && clientWrote < 200 * big.length) {
        clientWrote += big.length;
        if (!c.write(big)) return void c.once('drain', pump);
      }
    };
    pump();
    await new Promise((r) => setTimeout(r, 500));
    const stats = proxy.stats();
    assert.ok(stats.bytesIn > 0, 'bytes did flow until the target stopped reading');
    assert.ok(proxy.bufferedBytes < 8 * 1024 * 1024, `proxy buffers ${proxy.bufferedBytes} bytes`);
    assert.ok(c.writableLength > 0 && clientWrote < 100 * big.length, `client could write ${clientWrote} bytes: no backpressure`);
    stop = true;
    c.destroy();
    await proxy.close();
    srv.close();
  });

  test(`${mode} upstream refusing: the client is reset and the error reported`, async () => {
    const errors: string[] = [];
    // The dead port is held while the proxy starts, so it cannot be the proxy's own.
    const srv = await listen(() => {});
    const deadPort = portOf(srv);
    const proxy = await start({
      listen: { address: '127.0.0.1', port: 0 },
      target: () => ({ address: '127.0.0.1', port: deadPort }),
      onUpstreamError: (e) => void errors.push(e.code ?? ''),
    });
    await new Promise((r) => srv.close(r)); // now nothing listens there
    const c = net.connect(proxy.listen.port, '127.0.0.1');
    let clientError = '';
    c.on('error', (e: NodeJS.ErrnoException) => (clientError = e.code ?? ''));
    await new Promise((r) => c.once('close', r));
    for (let i = 0; i < 100 && errors.length === 0; i++) await new Promise((r) => setTimeout(r, 10)); // threads: a message away
    assert.deepEqual(errors, ['ECONNREFUSED']);
    assert.equal(clientError, 'ECONNRESET');
    await proxy.close();
  });

  test(`${mode} a function target is resolved again after a refusal: the next connection reaches the new target`, async () => {
    // As LocalRuntime's TargetResolver: the service moved; the refusal makes the runtime look again.
    const dead = await listen(() => {});
    const live = await listen((s) => s.end('live'));
    let current = portOf(dead);
    const proxy = await start({
      listen: { address: '127.0.0.1', port: 0 },
      target: () => ({ address: '127.0.0.1', port: current }),
      onUpstreamError: () => void (current = portOf(live)),
    });
    await new Promise((r) => dead.close(r));
    const first = net.connect(proxy.listen.port, '127.0.0.1');
    first.on('error', () => {}); // reset: the old target refused
    await new Promise((r) => first.once('close', r));
    let got = '';
    for (let i = 0; i < 50 && got !== 'live'; i++) {
      got = await new Promise<string>((resolve) => {
        const c = net.connect(proxy.listen.port, '127.0.0.1');
        let s = '';
        c.on('data', (d) => (s += d));
        c.on('error', () => {});
        c.on('close', () => resolve(s));
      });
      if (got !== 'live') await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(got, 'live');
    await proxy.close();
    live.close();
  });

  test(`${mode} byte counters: both directions, summed over every connection`, async () => {
    const srv = await listen((s) => {
      s.on('data', () => {});
      s.on('end', () => s.end(Buffer.alloc(3000, 1)));
    }, { allowHalfOpen: true });
    const proxy = await proxyTo(portOf(srv));
    for (let i = 0; i < 8; i++) {
      const c = net.connect({ port: proxy.listen.port, host: '127.0.0.1', allowHalfOpen: true });
      c.end(Buffer.alloc(1000, 2));
      c.resume();
      await once(c, 'close');
    }
    let s = proxy.stats();
    for (let i = 0; i < 50 && s.bytesOut < 24_000; i++) (await new Promise((r) => setTimeout(r, 20)), (s = proxy.stats()));
    assert.deepEqual({ connections: s.connections, bytesIn: s.bytesIn, bytesOut: s.bytesOut }, { connections: 8, bytesIn: 8000, bytesOut: 24_000 });
    await proxy.close();
    srv.close();
  });

  test(`${mode} close() frees the port and ends open connections`, async () => {
    const srv = await listen((s) => s.pipe(s));
    const proxy = await proxyTo(portOf(srv));
    const c = net.connect(proxy.listen.port, '127.0.0.1');
    await once(c, 'connect');
    const closed = once(c, 'close');
    await proxy.close();
    await closed;
    // the port can be bound again at once, by a plain listener (no SO_REUSEPORT) too
    const plain = net.createServer().listen(proxy.listen.port, '127.0.0.1');
    await once(plain, 'listening');
    await new Promise((r) => plain.close(r));
    const again = await start({ listen: proxy.listen, target: { address: '127.0.0.1', port: portOf(srv) } });
    await again.close();
    srv.close();
  });
}
