// The port-forward on the real test cluster: it follows the workload across 20 pod deletions
// under steady traffic, survives an API server restart, carries many concurrent byte-exact
// streams, keeps idle connections, and says why while no pod is Ready.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { podAnswer, httpRequest, tcpEcho } from './cluster.js';
import {
  env, serve, writeEnvFile, createNamespace, deleteNamespace, backedDeployment, mustKubectl, sleep, eventually, restartApiServer, type Served,
} from './expose-lib.js';
import { loadKubeClient, type KubeClient } from '../../src/apply/k8s/client.js';
import type { PortForwarder } from '../../src/apply/k8s/port-forward.js';

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

test('the pod deleted 20 times under steady traffic: every connection opened after the new pod is Ready succeeds, within 1 s', async () => {
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
  console.log(`# churn: ${total} requests, ${failed} failed overall; reconnect after Ready p50 ${reconnect[10]} ms, max ${reconnect.at(-1)} ms`);
  assert.deepEqual(failures, []);
  assert.ok(total > 100, `steady traffic (${total} requests)`);
  assert.ok(reconnect.at(-1)! <= 1000, `new connections reach the new pod within 1 s of its readiness: ${reconnect}`);
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
    if (c?.state !== 'waiting') throw new Error(`condition ${JSON.stringify(c)}`);
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
    await eventually(async () => assert.equal(s.handles.find((x) => x.spec.name === 'http')!.condition?.()?.state, 'waiting'), 20_000, 50);
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
