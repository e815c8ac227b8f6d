// The TCP proxy with real sockets on loopback: half-close, backpressure, refusal, clean close.
// The heavy cases (100 MB each way, 200 concurrent connections, WebSocket) run once, through the
// real CLI: cli-proxy.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { TcpProxy } from '../../src/apply/local/proxy.js';

async function listen(handler: (s: net.Socket) => void, opts: net.ServerOpts = {}): Promise<net.Server> {
  const srv = net.createServer(opts, handler);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return srv;
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;
const proxyTo = (port: number) => TcpProxy.start({ listen: { address: '127.0.0.1', port: 0 }, target: { address: '127.0.0.1', port } });

test('half-close: the client ends its side and still receives the reply', async () => {
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

test('backpressure: a client that does not read keeps the proxy buffer bounded', async () => {
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
  assert.ok(proxy.bufferedBytes < 8 * 1024 * 1024, `proxy buffers ${proxy.bufferedBytes} bytes`);
  assert.ok(serverWrote < 100 * big.length, `server could write ${serverWrote} bytes: no backpressure`);
  stop = true;
  c.destroy();
  await proxy.close();
  srv.close();
});

test('upstream refusing: the client is reset and the error reported', async () => {
  const errors: string[] = [];
  let deadPort = 0;
  // The proxy listens first, so the dead port found below cannot be its own.
  const proxy = await TcpProxy.start({
    listen: { address: '127.0.0.1', port: 0 },
    target: () => ({ address: '127.0.0.1', port: deadPort }),
    onUpstreamError: (e) => errors.push(e.code ?? ''),
  });
  const srv = await listen(() => {});
  deadPort = portOf(srv);
  await new Promise((r) => srv.close(r)); // now nothing listens there
  const c = net.connect(proxy.listen.port, '127.0.0.1');
  let clientError = '';
  c.on('error', (e: NodeJS.ErrnoException) => (clientError = e.code ?? ''));
  await new Promise((r) => c.once('close', r));
  assert.deepEqual(errors, ['ECONNREFUSED']);
  assert.equal(clientError, 'ECONNRESET');
  await proxy.close();
});

test('close() frees the port and ends open connections', async () => {
  const srv = await listen((s) => s.pipe(s));
  const proxy = await proxyTo(portOf(srv));
  const c = net.connect(proxy.listen.port, '127.0.0.1');
  await once(c, 'connect');
  const closed = once(c, 'close');
  await proxy.close();
  await closed;
  // the port can be bound again at once
  const again = await TcpProxy.start({ listen: proxy.listen, target: { address: '127.0.0.1', port: portOf(srv) } });
  await again.close();
  srv.close();
});
