// The proxy as users run it: `envserve serve` (the real CLI process) in front of real servers.
// 100 MB verified by SHA-256, 200 concurrent connections, a WebSocket echo.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { WebSocketServer, WebSocket } from 'ws';
import { envDir, freePort, startCli, stateDirEnv, type CliRun } from './cli-helpers.js';

let sinkPort = 0, echoPort = 0, wsPort = 0;
const ports = { sink: 0, echo: 0, ws: 0 };
const servers: { close(cb?: () => void): unknown }[] = [];
let serve: CliRun;

before(async () => {
  // sink: hashes what it receives, then answers with the hash and closes (after the client's FIN)
  const sink = net.createServer({ allowHalfOpen: true }, (s) => {
    const h = createHash('sha256');
    let n = 0;
    s.on('data', (d) => (h.update(d), (n += d.length)));
    s.on('end', () => s.end(`${n} ${h.digest('hex')}`));
  });
  const echo = net.createServer((s) => (s.on('error', () => {}), s.pipe(s)));
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  wss.on('connection', (ws) => ws.on('message', (m, binary) => ws.send(m, { binary })));
  for (const s of [sink, echo]) s.listen(0, '127.0.0.1');
  await Promise.all([once(sink, 'listening'), once(echo, 'listening'), once(wss, 'listening')]);
  servers.push(sink, echo, wss);
  [sinkPort, echoPort, wsPort] = [sink, echo, wss].map((s) => (s.address() as net.AddressInfo).port) as [number, number, number];
  [ports.sink, ports.echo, ports.ws] = [await freePort(), await freePort(), await freePort()];
  const file = envDir(`
def serve():
    host.bind(env_port=${sinkPort}, host_port=${ports.sink}, name="sink")
    host.bind(env_port=${echoPort}, host_port=${ports.echo}, name="echo")
    host.bind(env_port=${wsPort}, host_port=${ports.ws}, protocol="http", name="ws")
`);
  serve = startCli(['serve', '-f', file], stateDirEnv());
  await serve.waitFor(/Press Ctrl-C/);
});

after(async () => {
  serve.proc.kill('SIGTERM');
  assert.equal(await serve.exited, 0);
  for (const s of servers) s.close();
});

test('100 MB upload through envserve arrives intact (SHA-256 checked by the server)', async () => {
  const SIZE = 100 * 1024 * 1024;
  const c = net.connect({ port: ports.sink, host: '127.0.0.1', allowHalfOpen: true });
  await once(c, 'connect');
  const sent = createHash('sha256');
  let reply = '';
  c.on('data', (d) => (reply += d));
  const ended = once(c, 'end');
  for (let i = 0; i < SIZE / (1 << 20); i++) {
    const b = randomBytes(1 << 20);
    sent.update(b);
    if (!c.write(b)) await once(c, 'drain');
  }
  c.end();
  await ended;
  assert.equal(reply, `${SIZE} ${sent.digest('hex')}`);
});

test('200 concurrent connections through envserve, each echoed its own bytes', async () => {
  const N = 200;
  const socks = await Promise.all(Array.from({ length: N }, async () => {
    const c = net.connect(ports.echo, '127.0.0.1');
    await once(c, 'connect');
    return c;
  }));
  const ok = await Promise.all(socks.map(async (c, i) => {
    const msg = Buffer.from(`#${i}:`.repeat(2000));
    let got = Buffer.alloc(0);
    c.on('data', (d) => (got = Buffer.concat([got, d])));
    c.write(msg);
    while (got.length < msg.length) await once(c, 'data');
    c.destroy();
    return got.equals(msg);
  }));
  assert.equal(ok.filter(Boolean).length, N);
});

test('WebSocket: upgrade and echo through envserve', async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${ports.ws}/ws`);
  await once(ws, 'open');
  const big = randomBytes(1 << 20);
  const got: Buffer[] = [];
  ws.on('message', (m) => got.push(m as Buffer));
  ws.send('ping');
  ws.send(big);
  while (got.length < 2) await once(ws, 'message');
  assert.equal(got[0]!.toString(), 'ping');
  assert.ok(got[1]!.equals(big));
  ws.close();
  await once(ws, 'close');
});
