// The port-forward on the real test cluster: it follows the workload across 20 pod deletions
// under steady traffic, survives an API server restart, carries many concurrent byte-exact
// streams, keeps idle connections, says why while no pod is Ready, and takes resets on every side.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { podAnswer, httpRequest, tcpEcho } from './cluster.js';
import {
  env, serve, writeEnvFile, createNamespace, deleteNamespace, backedDeployment, mustKubectl, sleep, eventually, restartApiServer, type Served,
} from './expose-lib.js';
import { loadKubeClient, type KubeClient } from '../../src/apply/k8s/client.js';
import { PortForwarder } from '../../src/apply/k8s/pf/forwarder.js';

let ns: string;
let client: KubeClient;
let s: Served;
let port: number;
let echoPort: number;

const FILE = `
def build():
    base(image="envserve.test/backed:1")
def serve():
    cloud.k8s.bind(env_port=8080, host_port=0, name="http")
    cloud.k8s.bind(env_port=9000, host_port=0, name="echo", protocol="tcp")
`;

before(async () => {
  ns = createNamespace('es-pf');
  client = loadKubeClient({ kubeconfig: env.kubeconfig, namespace: ns });
  backedDeployment(ns, 'churn', { app: 'churn' });
  s = await serve(writeEnvFile('churn', FILE), { envName: 'churn', namespace: ns, mode: 'serve', target: { kind: 'deployment', name: 'churn' }, podWaitTimeoutMs: 20_000 });
  port = s.handles.find((h) => h.spec.name === 'http')!.listen.port;
  echoPort = s.handles.find((h) => h.spec.name === 'echo')!.listen.port;
});
after(async () => {
  await s?.stop();
  client?.close();
  deleteNamespace(ns);
});

async function readyPod(not?: string): Promise<{ name: string }> {
  const list = await client.request<{ items: any[] }>(`/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: 'app=churn' } });
  const p = list.items.find((x) => x.metadata.name !== not && !x.metadata.deletionTimestamp && x.status?.podIP && x.status.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
  if (!p) throw new Error('no Ready pod');
  return { name: p.metadata.name };
}

interface Req { start: number; end: number; ok: boolean; pod?: string; err?: string }

/** One request on a new connection through the forward. */
function oneRequest(): Promise<Req> {
  const start = Date.now();
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve({ start, end: Date.now(), ok: res.statusCode === 200, pod: JSON.parse(Buffer.concat(chunks).toString()).pod });
        } catch (e) {
          resolve({ start, end: Date.now(), ok: false, err: (e as Error).message });
        }
      });
      res.on('error', (e) => resolve({ start, end: Date.now(), ok: false, err: e.message }));
    });
    req.setTimeout(25_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ start, end: Date.now(), ok: false, err: e.message }));
  });
}

test('the pod deleted 20 times under steady traffic: every connection opened after the new pod is Ready succeeds', async () => {
  const results: Req[] = [];
  let stop = false;
  const traffic = (async () => {
    const inflight = new Set<Promise<void>>();
    while (!stop) {
      if (inflight.size < 16) {
        const p = oneRequest().then((r) => { results.push(r); inflight.delete(p); });
        inflight.add(p);
      }
      await sleep(15);
    }
    await Promise.all(inflight);
  })();
  const rounds: { deletedAt: number; readyAt: number; pod: string; firstOk: number }[] = [];
  try {
    for (let i = 0; i < 20; i++) {
      const old = await eventually(() => readyPod(), 20_000, 20);
      const deletedAt = Date.now();
      await client.request(`/api/v1/namespaces/${ns}/pods/${old.name}`, { method: 'DELETE', body: { gracePeriodSeconds: 0 } });
      const next = await eventually(() => readyPod(old.name), 30_000, 10);
      const readyAt = Date.now(); // when this test saw it Ready: no earlier than it was
      const firstOk = await eventually(async () => {
        const r = results.find((x) => x.ok && x.pod === next.name && x.start >= readyAt);
        if (!r) throw new Error(`no request reached ${next.name} yet`);
        return r.end;
      }, 10_000, 10);
      rounds.push({ deletedAt, readyAt, pod: next.name, firstOk });
      await sleep(150);
    }
  } finally {
    stop = true;
    await traffic;
  }
  // Every connection opened after a replacement was Ready (and before the next deletion) succeeded.
  const failures: string[] = [];
  for (let i = 0; i < rounds.length; i++) {
    const r = rounds[i]!;
    const until = rounds[i + 1]?.deletedAt ?? Infinity;
    for (const q of results.filter((x) => x.start >= r.readyAt && x.start < until)) {
      if (!q.ok) failures.push(`round ${i}: request at +${q.start - r.readyAt} ms failed: ${q.err}`);
    }
  }
  const total = results.length;
  const failed = results.filter((r) => !r.ok).length;
  const reconnect = rounds.map((r) => r.firstOk - r.readyAt).sort((a, b) => a - b);
  // How soon after Ready is printed, not asserted (a loaded machine is slower): bench:k8s measures it.
  console.log(`# churn: ${total} requests, ${failed} failed overall; reconnect after Ready p50 ${reconnect[10]} ms, max ${reconnect.at(-1)} ms`);
  assert.deepEqual(failures, []);
  assert.ok(total > 100, `steady traffic (${total} requests)`);
});

test('many concurrent connections, byte-exact both ways, and idle connections are kept', async () => {
  const payloads = Array.from({ length: 100 }, (_, i) => randomBytes(1000 + i * 997));
  const echoed = await Promise.all(payloads.map((p) => tcpEcho('127.0.0.1', echoPort, p, 20_000)));
  for (let i = 0; i < payloads.length; i++) assert.ok(echoed[i]!.equals(payloads[i]!), `stream ${i} byte-exact`);
  const big = randomBytes(8 << 20);
  assert.ok((await tcpEcho('127.0.0.1', echoPort, big, 30_000)).equals(big), '8 MiB byte-exact');

  // An idle connection stays usable.
  const sock = net.connect({ host: '127.0.0.1', port: echoPort });
  await new Promise((r) => sock.once('connect', r));
  const roundTrip = (b: Buffer) => new Promise<Buffer>((resolve) => { sock.once('data', resolve); sock.write(b); });
  assert.equal((await roundTrip(Buffer.from('one'))).toString(), 'one');
  await sleep(5000);
  assert.equal((await roundTrip(Buffer.from('two'))).toString(), 'two');
  sock.destroy();
});

test('while no pod is Ready, connections wait and status says why; they go through once one is', async () => {
  mustKubectl(['-n', ns, 'scale', 'deployment/churn', '--replicas=0']);
  const h = s.handles.find((x) => x.spec.name === 'http')!;
  await eventually(async () => {
    const c = h.condition?.();
    if (c?.reason !== 'NoPods' || !c.blocking) throw new Error(`condition ${JSON.stringify(c)}`);
    assert.match(c.message!, /waiting for a Ready pod: no pod of deployment\/churn exists/);
  }, 20_000, 50);
  const pending = oneRequest();
  await sleep(1000);
  mustKubectl(['-n', ns, 'scale', 'deployment/churn', '--replicas=1']);
  const r = await pending;
  assert.equal(r.ok, true, `the waiting connection went through: ${r.err}`);
  assert.ok(r.end - r.start >= 1000);
  assert.equal(h.condition?.(), undefined);
});

test('a connection gives up with the reason after the wait timeout', async () => {
  const pf = (s.handles.find((x) => x.spec.name === 'http') as unknown as { forwarder: PortForwarder }).forwarder;
  const saved = pf.o.waitTimeoutMs;
  pf.o.waitTimeoutMs = 800;
  mustKubectl(['-n', ns, 'scale', 'deployment/churn', '--replicas=0']);
  try {
    // (a real kubelet keeps the old pod Terminating for a moment: wait until it is gone)
    await eventually(async () => {
      const c = s.handles.find((x) => x.spec.name === 'http')!.condition?.();
      assert.equal(c?.blocking, true);
      assert.match(c?.message ?? '', /no pod of deployment\/churn exists/);
    }, 20_000, 50);
    const r = await oneRequest();
    assert.equal(r.ok, false);
    assert.match(pf.stats.lastError!, /no Ready pod after 1 s: no pod of deployment\/churn exists/);
  } finally {
    pf.o.waitTimeoutMs = saved;
    mustKubectl(['-n', ns, 'scale', 'deployment/churn', '--replicas=1']);
  }
  await eventually(() => readyPod(), 20_000, 50);
});

test('the API server restarted: forwards recover, and the pod watch follows a replacement made afterwards', async () => {
  await eventually(() => readyPod(), 20_000, 50);
  assert.equal(podAnswer(await httpRequest('127.0.0.1', port)).port, 8080);
  const downMs = await restartApiServer();
  const t0 = Date.now();
  await eventually(async () => assert.equal(podAnswer(await httpRequest('127.0.0.1', port)).port, 8080), 20_000, 100);
  const recoverMs = Date.now() - t0;
  console.log(`# API server restart: down/up ${downMs} ms; forward answered ${recoverMs} ms after /readyz`);
  // The watch came back too: a pod replaced after the restart is followed.
  const old = await readyPod();
  await client.request(`/api/v1/namespaces/${ns}/pods/${old.name}`, { method: 'DELETE', body: { gracePeriodSeconds: 0 } });
  const next = await eventually(() => readyPod(old.name), 30_000, 20);
  await eventually(async () => assert.equal(podAnswer(await httpRequest('127.0.0.1', port)).pod, next.name), 20_000, 50);
});

// Resets on every side of the forward, on purpose rather than by luck: local clients reset or
// drop their connections mid-transfer (both directions flowing), the connections to the API
// server are reset under the forward (through a loopback proxy in front of it: the multiplexed
// session, or each v4 WebSocket, and handshakes in flight), and the pod's side is cut (the pod
// is deleted: the kubelet kills its container, and the connections to it end). Each reset must end its own
// connections only, be recorded, never throw out of the event loop, and new connections must be
// served (a new session after a session-level failure).
test('resets on every side (clients, API server connections, pod) end only their connections: nothing throws, all recorded, new connections served', async () => {
  const uncaught: string[] = [];
  const onUncaught = (e: unknown) => uncaught.push(`uncaught: ${(e as Error)?.stack ?? e}`);
  const onRejection = (e: unknown) => uncaught.push(`unhandled rejection: ${(e as Error)?.stack ?? e}`);
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onRejection);

  // A loopback TCP proxy in front of the API server, whose connections the test resets.
  const api = new URL(client.server);
  const upstream = new Set<net.Socket>();
  const proxy = net.createServer((c) => {
    const u = net.connect({ host: api.hostname, port: Number(api.port) });
    upstream.add(c);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
    c.on('close', () => { upstream.delete(c); u.destroy(); });
    u.on('close', () => c.destroy());
    c.pipe(u);
    u.pipe(c);
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const kc = join(mkdtempSync(join(tmpdir(), 'envserve-pf-')), 'kubeconfig');
  // The API server's certificate names 127.0.0.1.
  writeFileSync(kc, readFileSync(env.kubeconfig, 'utf8').replace(/server: .*/, `server: https://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`));
  const proxied = loadKubeClient({ kubeconfig: kc, namespace: ns });
  const base = (s.handles.find((x) => x.spec.name === 'echo') as unknown as { forwarder: PortForwarder }).forwarder;
  const pf = new PortForwarder({ ...base.o, client: proxied, listenAddress: '127.0.0.1', localPort: 0, waitTimeoutMs: 30_000 });
  const { port: fwd } = await pf.start();

  const chunk = randomBytes(64 * 1024);
  /** How each test connection ended, by its local port (the forward's side sees it as remotePort). */
  const endedBy = new Map<number, string>();
  /**
   * A connection that sends and reads at full speed: `stop(got)` is asked after each read
   * whether (and how) to end it; otherwise it runs until the forward ends it. Resolves with how
   * it ended, or "hung" when neither happened within 30 s.
   */
  const flow = (stop: (got: number) => 'reset' | 'destroy' | undefined, onData?: (got: number) => void) => new Promise<string>((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port: fwd });
    let got = 0;
    const timer = setTimeout(() => { sock.destroy(); resolve(`hung after ${got} bytes`); }, 30_000);
    const done = (how: string) => {
      clearTimeout(timer);
      if (sock.localPort && !endedBy.has(sock.localPort)) endedBy.set(sock.localPort, how);
      resolve(how);
    };
    const pump = () => { while (!sock.destroyed && sock.writable) if (!sock.write(chunk)) return void sock.once('drain', pump); };
    sock.on('connect', pump);
    sock.on('data', (d: Buffer) => {
      got += d.length;
      onData?.(got);
      const how = stop(got);
      if (how === 'reset') { sock.resetAndDestroy(); done('client reset'); }
      else if (how === 'destroy') { sock.destroy(); done('client destroyed'); }
    });
    sock.on('error', () => undefined); // our own writes after the forward's reset: EPIPE/ECONNRESET
    sock.on('close', () => done('ended by the forward'));
  });
  /**
   * The settle point after each disruption: a Ready pod (not `not`, not being deleted) that the
   * forward's own pod tracker also has as its Ready pod. After it, the first new connection must
   * be served: no retries.
   */
  const settle = (not?: string) => eventually(async () => {
    const p = await readyPod(not);
    const { tracker } = base.o;
    if (!tracker.isReady(p.name) || tracker.current()?.metadata?.name !== p.name) throw new Error(`the forward does not have ${p.name} as its Ready pod yet`);
  }, 60_000, 100);
  /** A new connection, after the settle point, echoes 1 MiB byte for byte (and is then dropped, not half-closed). */
  const served = async (what: string, not?: string) => {
    await settle(not);
    const payload = randomBytes(1 << 20);
    await new Promise<void>((resolve, reject) => {
      const sock = net.connect({ host: '127.0.0.1', port: fwd });
      const parts: Buffer[] = [];
      let got = 0;
      const timer = setTimeout(() => { sock.destroy(); reject(new Error(`${what}: echoed ${got} of ${payload.length} bytes`)); }, 10_000);
      sock.on('connect', () => sock.write(payload));
      sock.on('data', (d: Buffer) => {
        parts.push(d);
        got += d.length;
        if (got < payload.length) return;
        clearTimeout(timer);
        endedBy.set(sock.localPort!, 'client destroyed');
        sock.destroy();
        if (Buffer.concat(parts).equals(payload)) resolve();
        else reject(new Error(`${what}: echo not byte-exact`));
      });
      sock.on('error', (e) => { clearTimeout(timer); reject(e); });
      sock.on('close', () => { clearTimeout(timer); reject(new Error(`${what}: closed after ${got} bytes`)); });
    });
  };
  /** 24 connections in flight; `act` runs once each has had `min` bytes back. */
  const midTransfer = async (act: () => void, min = 256 << 10) => {
    let waiting = 24;
    const counted = new Set<number>();
    const ends = Array.from({ length: 24 }, (_, i) => flow((got) => (got > 32 << 20 ? 'destroy' : undefined), (got) => {
      if (got >= min && !counted.has(i)) {
        counted.add(i);
        if (--waiting === 0) act();
      }
    }));
    return Promise.all(ends);
  };

  try {
    await served('before');

    // 1. Clients reset (RST) or drop their connections: at once, during set-up, or mid-transfer.
    const ends1: string[] = [];
    let n = 0;
    await Promise.all(Array.from({ length: 30 }, async () => {
      while (n < 240) {
        const i = n++;
        const at = i % 8 === 0 ? 0 : Math.floor(Math.random() * (1 << 20));
        ends1.push(await flow((got) => (got >= at ? (i % 2 ? 'reset' : 'destroy') : undefined)));
        if (i % 8 === 0) {
          // also one that is reset before a byte came back (its stream may still be opening)
          const sock = net.connect({ host: '127.0.0.1', port: fwd });
          sock.on('error', () => undefined);
          sock.on('connect', () => { endedBy.set(sock.localPort!, 'client reset at once'); sock.write(chunk); sock.resetAndDestroy(); });
        }
      }
    }));
    assert.deepEqual(ends1.filter((x) => x.startsWith('hung')), [], 'no connection hung');
    await served('after client resets');
    assert.ok(pf.stats.clientErrors > 0, `client resets are recorded: ${JSON.stringify(pf.stats)}`);

    // 2. The connections to the API server are reset under 24 busy connections, three times.
    for (let round = 0; round < 3; round++) {
      const failedBefore = pf.stats.failed;
      const ends2 = await midTransfer(() => { for (const c of upstream) c.resetAndDestroy(); });
      assert.deepEqual(ends2.filter((x) => x.startsWith('hung')), [], `round ${round}: no connection hung`);
      assert.ok(pf.stats.failed > failedBefore, `round ${round}: the API server connection's reset is recorded: ${JSON.stringify(pf.stats)}`);
      await served(`after API server connection reset ${round}`);
    }
    // ... and while WebSocket handshakes are in flight.
    const flood = Array.from({ length: 40 }, () => flow((got) => (got >= 64 << 10 ? 'destroy' : undefined)));
    for (let i = 0; i < 10; i++) {
      await sleep(15);
      for (const c of upstream) c.resetAndDestroy();
    }
    assert.deepEqual((await Promise.all(flood)).filter((x) => x.startsWith('hung')), [], 'no connection hung across handshake resets');
    await served('after handshake resets');

    // 3. The pod's side: the pod is deleted mid-transfer; the kubelet kills its container.
    const pod = (await readyPod()).name;
    const failedBefore = pf.stats.failed;
    const ends3 = await midTransfer(() => { void client.request(`/api/v1/namespaces/${ns}/pods/${pod}`, { method: 'DELETE', body: { gracePeriodSeconds: 0 } }).catch(() => undefined); });
    assert.deepEqual(ends3.filter((x) => x.startsWith('hung')), [], 'no connection hung');
    assert.ok(ends3.filter((x) => x === 'ended by the forward').length > 0, `the pod's resets end connections: ${ends3}`);
    // Recorded from the kubelet's error, or (a killed container's socket may close with a FIN, and
    // the kubelet then says nothing) because the stream ended from a pod that is going away.
    assert.ok(pf.stats.failed > failedBefore, `the pod side's ends are recorded: ${JSON.stringify(pf.stats)}`);
    await served('after the pod side was reset', pod); // on the replacement pod

    // Every connection is let go, but one its client half-closed (FIN) may linger for the pod's
    // answer (HALF_CLOSE_LINGER_MS: v4.channel.k8s.io cannot carry a half-close).
    const held = (pf as unknown as { sockets: Set<net.Socket> }).sockets;
    await eventually(async () => {
      const kept = [...held].map((x) => `${x.remotePort}: ${endedBy.get(x.remotePort!) ?? 'not a test connection'}`).filter((x) => !x.endsWith(': client destroyed'));
      assert.deepEqual(kept, [], 'connections still held by the forward');
    }, 10_000, 100);
    console.log(`# resets: ${JSON.stringify(pf.stats)}`);
    assert.deepEqual(uncaught, []);
  } finally {
    await pf.stop();
    proxied.close();
    proxy.close();
    for (const c of upstream) c.destroy();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onRejection);
  }
});
