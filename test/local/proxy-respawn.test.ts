// A forwarding thread that cannot run is not restarted forever: at start the proxy fails with
// ProxyThreadFailed and what the thread threw; a thread that keeps ending after start is given up
// on after RESPAWN_LIMIT.failures endings (the proxy reports ProxyThreadFailed, blocking, and its
// other threads keep forwarding); opening a proxy again (an exposure's restart) tries again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import { ProxyThreads, proxyCondition, RESPAWN_LIMIT, TcpProxy } from '../../src/apply/local/proxy.js';
import { startForwardingThread } from '../../src/apply/local/proxy-threads.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let echo: net.Server;
let echoPort = 0;

before(async () => {
  echo = net.createServer((s) => (s.on('error', () => {}), s.pipe(s)));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  echoPort = (echo.address() as net.AddressInfo).port;
});

after(() => echo.close());

/** A thread as a broken install would start it: it throws before it listens. */
const broken = (o: WorkerOptions) => new Worker('throw new Error("cannot start here")', { ...o, eval: true });

async function echoes(port: number): Promise<boolean> {
  const c = net.connect(port, '127.0.0.1');
  c.on('error', () => {});
  let got = '';
  c.on('data', (d) => (got += d));
  c.end('ping');
  await Promise.race([once(c, 'close'), sleep(2000)]);
  c.destroy();
  return got === 'ping';
}

test('a thread that cannot start: the proxy does not start, reason ProxyThreadFailed with what the thread threw', async () => {
  let spawned = 0;
  const pool = new ProxyThreads(2, (o) => (spawned++, broken(o)));
  await assert.rejects(TcpProxy.start({ listen: { address: '127.0.0.1', port: 0 }, target: { address: '127.0.0.1', port: echoPort }, pool }), (e: Error & { reason?: string }) => {
    assert.equal(e.reason, 'ProxyThreadFailed');
    assert.match(e.message, /ended before it listened: cannot start here/);
    return true;
  });
  await sleep(300);
  assert.equal(spawned, 1, 'not started again once the proxy failed');
});

test(`a thread that keeps ending after start: given up after ${RESPAWN_LIMIT.failures} endings, ProxyThreadFailed; the main thread keeps forwarding; a new proxy tries again`, async () => {
  let spawned = 0;
  let failing = false;
  const pool = new ProxyThreads(2, (o) => (spawned++, failing ? broken(o) : startForwardingThread(o)));
  const a = await TcpProxy.start({ listen: { address: '127.0.0.1', port: 0 }, target: { address: '127.0.0.1', port: echoPort }, pool });
  try {
    assert.equal(a.stats().threads, 2);
    failing = true;
    await a.killThread(0);
    // 1 kill + failures-1 threads that die at once, with backoff 20, 40, 80, ... ms between them.
    for (let i = 0; i < 300 && !a.condition(); i++) await sleep(10);
    const cond = proxyCondition(a);
    assert.equal(cond?.reason, 'ProxyThreadFailed');
    assert.equal(cond?.blocking, true);
    assert.match(cond!.message, new RegExp(`ended ${RESPAWN_LIMIT.failures} times within .*cannot start here.* other threads keep forwarding`));
    assert.equal(spawned, RESPAWN_LIMIT.failures, 'the first thread, then one per ending but the last');
    await sleep(1500); // the next backoff step would have been ~0.3 s
    assert.equal(spawned, RESPAWN_LIMIT.failures, 'no thread started after giving up');
    assert.equal(a.stats().threads, 1);
    assert.ok(await echoes(a.listen.port), 'the main thread still forwards');
    // An exposure's restart opens a proxy again: that tries the thread again.
    failing = false;
    const b = await TcpProxy.start({ listen: { address: '127.0.0.1', port: 0 }, target: { address: '127.0.0.1', port: echoPort }, pool });
    for (let i = 0; i < 200 && a.stats().threads < 2; i++) await sleep(10);
    assert.deepEqual([a.stats().threads, b.stats().threads], [2, 2]);
    assert.equal(a.condition(), undefined);
    assert.ok(await echoes(b.listen.port));
    await b.close();
  } finally {
    await a.close();
  }
});
