// The proxy as users run it: `envserve serve` (the real CLI process) in front of real servers.
// 100 MB each way verified by SHA-256, 200 concurrent connections, a WebSocket echo; each through
// two envserves: one forwarding on its main thread (ENVSERVE_PROXY_THREADS=1) and one on worker
// threads (each with its own listening socket). And a second envserve (or any program) on a port
// envserve holds gets PortInUse / EADDRINUSE. (The proxy's own unit tests — half-close,
// backpressure, refusal, close — are in proxy.test.ts; these heavy cases run here, through the
// whole real path.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { availableParallelism } from 'node:os';
import { WebSocketServer, WebSocket } from 'ws';
import { listTcpListeners, processOfInode } from '../../src/apply/local/proc-net.js';
import { envDir, freePort, runCli, startCli, stateDirEnv, type CliRun } from './cli-helpers.js';

/** As in proxy.test.ts: the threaded path, one thread per core (at most 4), at least 2 (the default is one thread on two cores). */
const THREADED = Math.max(2, Math.min(4, availableParallelism()));
const MODES = [1, THREADED];
let sinkPort = 0, echoPort = 0, wsPort = 0;
/** Host ports of each envserve (by thread count). */
const ports = new Map<number, { sink: number; echo: number; ws: number }>();
const servers: { close(cb?: () => void): unknown }[] = [];
const serves = new Map<number, CliRun>();
const SIZE = 100 * 1024 * 1024;
/** What the sink got and sent on the next connection that uploads, as SHA-256 hex. */
let sinkDone: (h: { got: string; sent: string }) => void = () => {};
const nextSink = () => new Promise<{ got: string; sent: string }>((r) => (sinkDone = r));
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
  for (const threads of MODES) {
    const p = { sink: await freePort(), echo: await freePort(), ws: await freePort() };
    ports.set(threads, p);
    const serve = startCli(['serve', '-f', envFile(p)], { ...stateDirEnv(), ENVSERVE_PROXY_THREADS: String(threads) });
    serves.set(threads, serve);
    await serve.waitFor(/Press Ctrl-C/);
  }
});

function envFile(p: { sink: number; echo: number; ws: number }): string {
  return envDir(`
def serve():
    host.bind(env_port=${sinkPort}, host_port=${p.sink}, name="sink")
    host.bind(env_port=${echoPort}, host_port=${p.echo}, name="echo")
    host.bind(env_port=${wsPort}, host_port=${p.ws}, protocol="http", name="ws")
`);
}

after(async () => {
  for (const serve of serves.values()) {
    serve.proc.kill('SIGTERM');
    assert.equal(await serve.exited, 0);
  }
  for (const s of servers) s.close();
});

test('each envserve forwards on the threads it was told: one listening socket per thread, all its own', () => {
  for (const threads of MODES) {
    const mine = listTcpListeners().filter((l) => l.port === ports.get(threads)!.echo);
    assert.equal(mine.length, threads);
    assert.ok(mine.every((l) => processOfInode(l.inode)?.pid === serves.get(threads)!.proc.pid));
  }
});

for (const threads of MODES) {
const mode = `[threads=${threads}]`;
const p = () => ports.get(threads)!;

test(`${mode} 100 MB each way through envserve, verified by SHA-256`, async () => {
  const sinkFinished = nextSink();
  const c = net.connect({ port: p().sink, host: '127.0.0.1', allowHalfOpen: true });
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

test(`${mode} 200 concurrent connections through envserve, each echoed its own bytes`, async () => {
  const N = 200;
  const socks = await Promise.all(Array.from({ length: N }, async () => {
    const c = net.connect(p().echo, '127.0.0.1');
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

test(`${mode} WebSocket: upgrade and echo through envserve`, async () => {
  const ws = new WebSocket(`ws://127.0.0.1:${p().ws}/ws`);
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
}

test(`a second envserve on a host port a threaded envserve holds: PortInUse (exit 2), and a plain listener gets EADDRINUSE`, async () => {
  const held = ports.get(THREADED)!;
  const holder = serves.get(THREADED)!.proc.pid;
  const r = await runCli(['serve', '-f', envFile({ sink: held.sink, echo: await freePort(), ws: await freePort() })], stateDirEnv());
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`host port ${held.sink} is already in use by pid ${holder} `));
  // Any other program: Node's plain listen, in another process, on that address and on all.
  for (const host of ['127.0.0.1', '0.0.0.0']) {
    const code = `require('node:net').createServer().on('error', (e) => console.log(e.code)).listen(${held.sink}, '${host}', () => { console.log('listening'); process.exit(0); })`;
    assert.equal(spawnSync(process.execPath, ['-e', code], { encoding: 'utf8' }).stdout.trim(), 'EADDRINUSE', host);
  }
  // and the first envserve serves on
  const c = net.connect(held.echo, '127.0.0.1');
  c.end('still here');
  let got = '';
  c.on('data', (d) => (got += d));
  await once(c, 'end');
  assert.equal(got, 'still here');
});
