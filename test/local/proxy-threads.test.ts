// The proxy on forwarding threads, as `serve` runs it (the real EnvController, LocalRuntime and
// prober): a thread killed under load is replaced while the other threads keep accepting, and the
// exposure's status stays ready throughout; the engine's stop/start/restart actions; and the port
// stays ours although the threads listen with SO_REUSEPORT (a plain listener and a second
// proxy in another process get EADDRINUSE, a program that joins with SO_REUSEPORT is reported;
// one thread listens without it, and such a program gets EADDRINUSE).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRuntime } from '../../src/apply/local/runtime.js';
import { ProxyThreads, TcpProxy } from '../../src/apply/local/proxy.js';
import { listTcpListeners } from '../../src/apply/local/proc-net.js';
import { EnvController } from '../../src/engine/controller.js';
import { FilePlanSource } from '../../src/engine/plan-source.js';
import type { EnvStatus } from '../../src/status/types.js';
import { envDir, freePort } from './cli-helpers.js';

/** As in proxy.test.ts: the threaded path, one thread per core (at most 4), at least 2 (the default is one thread on two cores). */
const THREADED = Math.max(2, Math.min(4, availableParallelism()));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let echo: net.Server;
let runtime: LocalRuntime;
let controller: EnvController;
let running: Promise<void>;
let hostPort = 0;
const stop = new AbortController();
const statuses: { at: number; status: EnvStatus }[] = [];
const ID = 'echo';

before(async () => {
  echo = net.createServer((s) => (s.on('error', () => {}), s.pipe(s)));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  hostPort = await freePort();
  const file = envDir(`def serve():\n    host.bind(env_port=${(echo.address() as net.AddressInfo).port}, host_port=${hostPort}, name="${ID}")\n`);
  runtime = new LocalRuntime({ logDir: mkdtempSync(join(tmpdir(), 'envserve-threads-')), proxyThreads: THREADED });
  controller = new EnvController({ source: new FilePlanSource(file), runtime, mode: 'serve', probeIntervalMs: 100, settleMs: 5000 });
  controller.on('status', (status: EnvStatus) => statuses.push({ at: Date.now(), status }));
  const started = new Promise<EnvStatus>((resolve) => controller.on('started', resolve));
  running = controller.run(stop.signal);
  const s = await Promise.race([started, running.then(() => { throw new Error('the controller stopped during start-up'); })]);
  assert.equal(s.exposures[0]?.state, 'ready', JSON.stringify(s.exposures));
});

after(async () => {
  stop.abort();
  await running;
  echo.close();
});

const exposureId = () => controller.status().exposures[0]!.id;
const listenersOnPort = () => listTcpListeners().filter((l) => l.port === hostPort).length;

/** One round trip of 64 bytes on a connection; rejects when the connection breaks. */
function roundTrip(c: net.Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (d: Buffer) => {
      got += d.length;
      if (got >= 64) (cleanup(), resolve());
    };
    const onEnd = () => (cleanup(), reject(new Error('closed')));
    const cleanup = () => (c.off('data', onData), c.off('close', onEnd), c.off('error', onEnd));
    c.on('data', onData).on('close', onEnd).on('error', onEnd);
    c.write(Buffer.alloc(64, 1));
  });
}

/** A new connection that echoes: true, or false when it was refused/reset/closed. */
async function freshEcho(): Promise<boolean> {
  const c = net.connect(hostPort, '127.0.0.1');
  c.on('error', () => {});
  try {
    await new Promise<void>((resolve, reject) => (c.once('connect', resolve), c.once('error', reject)));
    await roundTrip(c);
    return true;
  } catch {
    return false;
  } finally {
    c.destroy();
  }
}

test(`a forwarding thread killed under load: replaced, new connections keep being answered, status stays ready (threads=${THREADED})`, async () => {
  const proxy = runtime.proxyOf(exposureId())!;
  assert.equal(proxy.stats().threads, THREADED);
  assert.equal(listenersOnPort(), THREADED, 'one listening socket per thread');
  // Load: 20 connections in ping-pong loops, and a new connection every 10 ms.
  const conns = await Promise.all(Array.from({ length: 20 }, async () => {
    const c = net.connect(hostPort, '127.0.0.1');
    c.on('error', () => {});
    await once(c, 'connect');
    return c;
  }));
  let done = false;
  let killedAt = Infinity;
  const trips = conns.map(() => ({ before: 0, after: 0, broken: false }));
  const loops = conns.map(async (c, i) => {
    while (!done) {
      try {
        await roundTrip(c);
      } catch {
        trips[i]!.broken = true;
        return;
      }
      if (Date.now() > killedAt) trips[i]!.after++;
      else trips[i]!.before++;
    }
  });
  // The exposure's state as a front end reads it, every 20 ms (status events come only on changes).
  const polled: string[] = [];
  const poller = setInterval(() => polled.push(controller.status().exposures[0]!.state), 20);
  const fresh: { startedAt: number; ok: boolean }[] = [];
  const opener = (async () => {
    while (!done) {
      const startedAt = Date.now();
      fresh.push({ startedAt, ok: await freshEcho() });
      await sleep(10);
    }
  })();
  await sleep(700);
  const since = Date.now();
  const before0 = proxy.stats();
  await proxy.killThread(0);
  killedAt = Date.now();
  // Replaced: THREADED threads listen again, every listener on the port is ours.
  for (let i = 0; i < 200 && proxy.stats().threads < THREADED; i++) await sleep(10);
  await sleep(1000);
  done = true;
  clearInterval(poller);
  await Promise.all([...loops, opener]);
  const after0 = proxy.stats();
  for (const c of conns) c.destroy();

  assert.equal(after0.threads, THREADED, 'the killed thread was replaced');
  assert.equal(after0.threadRestarts, 1);
  assert.equal(listenersOnPort(), THREADED);
  assert.equal(proxy.condition(), undefined);
  assert.ok(after0.connections >= before0.connections, 'the dead thread\'s counts are kept');
  // New connections opened after the kill all got through (the other threads were accepting,
  // then the new one too); those opened while it was being killed may have been reset.
  const afterKill = fresh.filter((f) => f.startedAt > killedAt);
  assert.ok(afterKill.length >= 20, `${afterKill.length} connections opened after the kill`);
  assert.deepEqual(afterKill.filter((f) => !f.ok), [], 'every connection opened after the kill was answered');
  // The connections of the other threads went on; only the killed thread's ones broke.
  const survived = trips.filter((t) => !t.broken);
  console.log(`connections that survived the kill: ${survived.length} of ${conns.length}; opened after it: ${afterKill.length}, while it: ${fresh.filter((f) => f.startedAt <= killedAt && f.startedAt >= since).length}`);
  assert.ok(survived.length > 0 && survived.length < conns.length || THREADED > 2, `survived: ${survived.length} of ${conns.length}`);
  assert.ok(survived.every((t) => t.after > 10), `connections of the other threads kept echoing: ${JSON.stringify(trips)}`);
  // Status: ready before, during and after (probes every 100 ms): no status change was published.
  assert.ok(polled.length > 50);
  assert.deepEqual([...new Set(polled)], ['ready'], `states while a thread was killed: ${polled.join(' ')}`);
  assert.deepEqual(statuses.filter((s) => s.at >= since).map((s) => s.status.exposures[0]!.state).filter((x) => x !== 'ready'), []);
  assert.equal(controller.status().exposures[0]!.state, 'ready');
});

test('the engine\'s restart, stop and start actions on a threaded exposure', async () => {
  const id = exposureId();
  let s = await controller.restartExposure(id);
  assert.equal(s.exposures[0]!.state, 'ready');
  assert.equal(runtime.proxyOf(id)!.stats().threads, THREADED);
  assert.ok(await freshEcho());
  s = await controller.stopExposure(id);
  assert.equal(s.exposures[0]!.state, 'stopped');
  assert.equal(listenersOnPort(), 0, 'every thread stopped listening');
  assert.equal(await freshEcho(), false);
  s = await controller.startExposure(id);
  assert.equal(s.exposures[0]!.state, 'ready');
  assert.equal(listenersOnPort(), THREADED);
  assert.ok(await freshEcho());
});

/** A listener in another process: resolves with its result ('listening' or the error code) and a stop. */
async function otherProcessListens(port: number, reusePort: boolean): Promise<{ result: string; stop: () => void }> {
  const code = `const s = require('node:net').createServer().on('error', (e) => { console.log(e.code); process.exit(0); });
    s.listen({ host: '127.0.0.1', port: ${port}, reusePort: ${reusePort} }, () => console.log('listening'));
    process.stdin.on('end', () => process.exit(0)).resume();`;
  const p = spawn(process.execPath, ['-e', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [line] = (await once(p.stdout!, 'data')) as [Buffer];
  return { result: line.toString().trim(), stop: () => p.stdin!.end() };
}

test('the port stays ours: a plain listener elsewhere gets EADDRINUSE, one that joins with SO_REUSEPORT is reported as PortInUse', async () => {
  const plain = await otherProcessListens(hostPort, false);
  plain.stop();
  assert.equal(plain.result, 'EADDRINUSE');
  // The kernel lets a same-user SO_REUSEPORT socket join (and would hand it a share of the
  // connections): the proxy notices within its guard interval and the status says so.
  const joiner = await otherProcessListens(hostPort, true);
  try {
    assert.equal(joiner.result, 'listening');
    let s = controller.status();
    for (let i = 0; i < 100 && s.exposures[0]!.reason !== 'PortInUse'; i++) (await sleep(100), (s = controller.status()));
    assert.equal(s.exposures[0]!.reason, 'PortInUse');
    assert.equal(s.exposures[0]!.state, 'failed');
    assert.match(s.exposures[0]!.message ?? '', /also listened on by pid \d+ [\s\S]*SO_REUSEPORT/);
  } finally {
    joiner.stop();
  }
  let s = controller.status();
  for (let i = 0; i < 100 && s.exposures[0]!.state !== 'ready'; i++) (await sleep(100), (s = controller.status()));
  assert.equal(s.exposures[0]!.state, 'ready', 'ready again once the other program left');
});

test('a threaded proxy does not start on a port another program holds with SO_REUSEPORT: EADDRINUSE', async () => {
  const port = await freePort();
  const other = await otherProcessListens(port, true);
  try {
    assert.equal(other.result, 'listening');
    await assert.rejects(TcpProxy.start({ listen: { address: '127.0.0.1', port }, target: { address: '127.0.0.1', port: 1 }, threads: THREADED }), { code: 'EADDRINUSE' });
  } finally {
    other.stop();
  }
});

test('one forwarding thread listens without SO_REUSEPORT: a program that sets it cannot join (EADDRINUSE)', async () => {
  const echoPort = (echo.address() as net.AddressInfo).port;
  const p = await TcpProxy.start({ listen: { address: '127.0.0.1', port: 0 }, target: { address: '127.0.0.1', port: echoPort }, threads: 1 });
  try {
    for (const reusePort of [true, false]) {
      const other = await otherProcessListens(p.listen.port, reusePort);
      other.stop();
      assert.equal(other.result, 'EADDRINUSE', `reusePort: ${reusePort}`);
    }
    assert.equal(listTcpListeners().filter((l) => l.port === p.listen.port).length, 1);
  } finally {
    await p.close();
  }
});

test('proxies of one owner share its threads: a thread that dies takes a listener of each, and comes back with both', async () => {
  const pool = new ProxyThreads(THREADED);
  const echoPort = (echo.address() as net.AddressInfo).port;
  const [a, b] = await Promise.all([0, 1].map(() => TcpProxy.start({ listen: { address: '127.0.0.1', port: 0 }, target: { address: '127.0.0.1', port: echoPort }, pool })));
  assert.deepEqual([a!.stats().threads, b!.stats().threads], [THREADED, THREADED]);
  const down = a!.killThread(0);
  await down;
  for (let i = 0; i < 200 && (a!.stats().threads < THREADED || b!.stats().threads < THREADED); i++) await sleep(10);
  assert.deepEqual([a!.stats().threadRestarts, b!.stats().threadRestarts], [1, 1], 'the one thread served both');
  assert.deepEqual([a!.stats().threads, b!.stats().threads], [THREADED, THREADED]);
  for (const p of [a!, b!]) assert.equal(listTcpListeners().filter((l) => l.port === p.listen.port).length, THREADED);
  await a!.close();
  // b keeps the threads; closing it too ends them (nothing keeps this process alive then)
  const c = net.connect(b!.listen.port, '127.0.0.1');
  c.end('b');
  let got = '';
  c.on('data', (d) => (got += d));
  await once(c, 'end');
  assert.equal(got, 'b');
  await b!.close();
});
