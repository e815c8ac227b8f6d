// The TCP proxy with real sockets on loopback: exact bytes, half-close, WebSocket, concurrency,
// backpressure, clean close.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { WebSocketServer, WebSocket } from 'ws';
import { TcpProxy } from '../../src/apply/local/proxy.js';

async function listen(handler: (s: net.Socket) => void, opts: net.ServerOpts = {}): Promise<net.Server> {
  const srv = net.createServer(opts, handler);
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  return srv;
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;
const proxyTo = (port: number) => TcpProxy.start({ listen: { address: '127.0.0.1', port: 0 }, target: { address: '127.0.0.1', port } });

test('100 MB each way through the proxy, verified by SHA-256', async () => {
  const SIZE = 100 * 1024 * 1024;
  // The server hashes what it receives and sends back its own pseudo-random stream.
  const serverGot = createHash('sha256');
  const serverSent = createHash('sha256');
  let serverDone!: () => void;
  const serverFinished = new Promise<void>((r) => (serverDone = r));
  const srv = await listen((s) => {
    s.on('data', (d) => serverGot.update(d));
    s.on('end', () => serverDone());
    const chunk = randomBytes(1024 * 1024);
    let sent = 0;
    const pump = () => {
      while (sent < SIZE) {
        const c = Buffer.from(chunk);
        c.writeUInt32LE(sent, 0); // make chunks differ so reordering would show
        serverSent.update(c);
        sent += c.length;
        if (!s.write(c)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  }, { allowHalfOpen: true });
  const proxy = await proxyTo(portOf(srv));
  // half-open: the server may finish sending (FIN) while the client is still uploading
  const c = net.connect({ port: proxy.listen.port, host: '127.0.0.1', allowHalfOpen: true });
  const clientGot = createHash('sha256');
  const clientSent = createHash('sha256');
  let received = 0;
  c.on('data', (d) => { clientGot.update(d); received += d.length; });
  const ended = once(c, 'end');
  await once(c, 'connect');
  const chunk = randomBytes(1024 * 1024);
  for (let sent = 0; sent < SIZE; sent += chunk.length) {
    const b = Buffer.from(chunk);
    b.writeUInt32LE(sent, 0);
    clientSent.update(b);
    if (!c.write(b)) await once(c, 'drain');
  }
  c.end();
  await Promise.all([ended, serverFinished]);
  assert.equal(received, SIZE);
  assert.equal(clientGot.digest('hex'), serverSent.digest('hex'));
  assert.equal(serverGot.digest('hex'), clientSent.digest('hex'));
  await proxy.close();
  srv.close();
});

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

test('WebSocket upgrade and echo pass through', async () => {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await once(wss, 'listening');
  wss.on('connection', (ws) => ws.on('message', (m, binary) => ws.send(m, { binary })));
  const proxy = await proxyTo((wss.address() as net.AddressInfo).port);
  const ws = new WebSocket(`ws://127.0.0.1:${proxy.listen.port}/socket`);
  await once(ws, 'open');
  const payload = randomBytes(256 * 1024);
  const replies: Buffer[] = [];
  ws.on('message', (m) => replies.push(m as Buffer));
  ws.send('hello');
  ws.send(payload);
  while (replies.length < 2) await once(ws, 'message');
  assert.equal(replies[0]!.toString(), 'hello');
  assert.ok(replies[1]!.equals(payload));
  ws.close();
  await once(ws, 'close');
  await proxy.close();
  await new Promise((r) => wss.close(r));
});

test('200 concurrent connections each get their own bytes back', async () => {
  const srv = await listen((s) => s.pipe(s));
  const proxy = await proxyTo(portOf(srv));
  const N = 200;
  const socks = await Promise.all(
    Array.from({ length: N }, async () => {
      const c = net.connect(proxy.listen.port, '127.0.0.1');
      await once(c, 'connect');
      return c;
    }),
  );
  // all 200 are open at the same time (the proxy's upstream sides connect a moment later)
  for (let i = 0; i < 100 && proxy.openSockets < 2 * N; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(proxy.openSockets, 2 * N);
  const results = await Promise.all(
    socks.map(async (c, i) => {
      const msg = Buffer.from(`connection ${i} `.repeat(1000));
      const got: Buffer[] = [];
      let n = 0;
      c.on('data', (d) => { got.push(d); n += d.length; });
      c.end(msg);
      while (n < msg.length) await once(c, 'data');
      return Buffer.concat(got).equals(msg);
    }),
  );
  assert.ok(results.every(Boolean));
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
