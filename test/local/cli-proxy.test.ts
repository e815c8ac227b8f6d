// The proxy as users run it: `envserve serve` (the real CLI process) in front of real servers.
// 100 MB each way verified by SHA-256, 200 concurrent connections, a WebSocket echo. (The proxy's
// own unit tests — half-close, backpressure, refusal, close — are in proxy.test.ts; these heavy
// cases run once, here, through the whole real path.)
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
const SIZE = 100 * 1024 * 1024;
/** What the sink got and sent on the connection that uploaded, as SHA-256 hex. */
let sinkDone!: (h: { got: string; sent: string }) => void;
const sinkFinished = new Promise<{ got: string; sent: string }>((r) => (sinkDone = r));
/** Connections the echo server holds open now. */
let echoOpen = 0;

before(async () => {
  // sink: hashes what it receives and sends back its own 100 MB stream at the same time
  // (half-open: it may finish sending, FIN, while the client still uploads).
  // envserve's probes connect too: the connection that uploads is the one reported.
  const sink = net.createServer({ allowHalfOpen: true }, (s) => {
    const got = createHash('sha256');
    const sent = createHash('sha256');
    let uploaded = 0;
    s.on('error', () => {});
    s.on('data', (d) => (got.update(d), (uploaded += d.length)));
    // Reported once both directions are done: the upload may end first while the download is
    // still being sent (digesting `sent` then would end the pump with an exception: a stall).
    let uploadEnded = false;
    let pumped = false;
    const report = () => {
      if (uploadEnded && pumped && uploaded > 0) sinkDone({ got: got.digest('hex'), sent: sent.digest('hex') });
    };
    s.on('end', () => {
      uploadEnded = true;
      report();
    });
    const chunk = randomBytes(1 << 20);
    let n = 0;
    const pump = () => {
      while (n < SIZE) {
        const c = Buffer.from(chunk);
        c.writeUInt32LE(n, 0); // chunks differ, so reordering would show
        sent.update(c);
        n += c.length;
        if (!s.write(c)) return void s.once('drain', pump);
      }
      s.end();
      pumped = true;
      report();
    };
    pump();
  });
  const echo = net.createServer((s) => {
    echoOpen++;
    s.on('close', () => echoOpen--);
    s.on('error', () => {});
    s.pipe(s);
  });
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

test('100 MB each way through envserve, verified by SHA-256', async () => {
  const c = net.connect({ port: ports.sink, host: '127.0.0.1', allowHalfOpen: true });
  const got = createHash('sha256');
  const sent = createHash('sha256');
  let received = 0;
  c.on('data', (d) => (got.update(d), (received += d.length)));
  const ended = once(c, 'end');
  await once(c, 'connect');
  const chunk = randomBytes(1 << 20);
  for (let n = 0; n < SIZE; n += chunk.length) {
    const b = Buffer.from(chunk);
    b.writeUInt32LE(n, 0);
    sent.update(b);
    if (!c.write(b)) await once(c, 'drain');
  }
  c.end();
  // A stall fails with where the bytes stopped (not the runner's 10-minute limit).
  let stalled!: NodeJS.Timeout;
  const stall = new Promise<never>((_, reject) => {
    let last = -1;
    const look = () => {
      if (received === last) return reject(new Error(`stalled: ${received} of ${SIZE} bytes downloaded, upload of ${SIZE} ended; nothing moved for 20 s`));
      last = received;
      stalled = setTimeout(look, 20_000);
    };
    look();
  });
  const [, sink] = await Promise.race([Promise.all([ended, sinkFinished]), stall]).finally(() => clearTimeout(stalled));
  assert.equal(received, SIZE);
  assert.equal(got.digest('hex'), sink.sent, 'download intact');
  assert.equal(sink.got, sent.digest('hex'), 'upload intact');
});

test('200 concurrent connections through envserve, each echoed its own bytes', async () => {
  const N = 200;
  const socks = await Promise.all(Array.from({ length: N }, async () => {
    const c = net.connect(ports.echo, '127.0.0.1');
    await once(c, 'connect');
    return c;
  }));
  // All 200 are open at the same time: envserve has connected each one's upstream side (a probe
  // of envserve's may be open too).
  for (let i = 0; i < 500 && echoOpen < N; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(echoOpen >= N, `every connection open upstream at once: ${echoOpen}`);
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
