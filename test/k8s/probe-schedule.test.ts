// Status follows the cluster without polling it: the controller (what `serve` runs) with a port-forward
// and a ClusterIP Service on the real test cluster. Watch events show a pod that goes away sooner
// than any probe could; an app that stops answering behind a Ready pod (nothing in the cluster
// changes) shows through the slow probe schedule within its 30 s ceiling plus one probe.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8sRuntime } from '../../src/apply/k8s/runtime.js';
import { loadKubeClient, type KubeClient } from '../../src/apply/k8s/client.js';
import { EnvController } from '../../src/engine/controller.js';
import { FilePlanSource } from '../../src/engine/plan-source.js';
import { BackoffScheduler } from '../../src/engine/scheduler.js';
import { StateStore } from '../../src/engine/state.js';
import type { EnvStatus, ExposureStatus } from '../../src/status/types.js';
import { createNamespace, deleteNamespace, env, mustKubectl, waitReadyPod, writeEnvFile, sleep } from './expose-lib.js';
import { kwokPod } from './cluster.js';

let ns: string;
let client: KubeClient;
let controller: EnvController;
let running: Promise<void>;
const stop = new AbortController();
const scheduler = new BackoffScheduler(2000);
// The bounds below are the design's, not speed: no slower than the probe schedule allows.
/** The slowest schedule: probes never more than 30 s apart, and one probe takes at most 3 s (the API-server probe's timeout). */
const CEILING_MS = 30_000 + 3_000;
/** Shown by a watch event, not a probe: sooner than the schedule's floor (probes 2 s apart after a change). */
const BY_WATCH_MS = 2_000;
let store: StateStore;
const writes: { at: number; status: EnvStatus }[] = [];

const fwd = (s: EnvStatus) => s.exposures.find((e) => e.kind === 'k8s-port-forward')!;
const svc = (s: EnvStatus) => s.exposures.find((e) => e.kind === 'k8s-service')!;

/** Resolves with the time of the first status written after `since` for which `pred` holds. */
async function firstWrite(since: number, pred: (s: EnvStatus) => boolean, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const w = writes.find((x) => x.at >= since && pred(x.status));
    if (w) return w.at;
    if (Date.now() > deadline) throw new Error(`no such status within ${timeoutMs} ms; last: ${JSON.stringify(writes.at(-1)?.status.exposures.map(brief))}`);
    await sleep(20);
  }
}
const brief = (e: ExposureStatus) => ({ id: e.id, state: e.state, answering: e.answering, message: e.message, target: e.target });

before(async () => {
  ns = createNamespace('es-sched');
  client = loadKubeClient({ kubeconfig: env.kubeconfig, namespace: ns });
  // On the KWOK node: its pod backer can stop answering for a pod that stays Ready (the
  // envserve-testenv/serve annotation), which a real container with a readiness probe cannot.
  const pod = kwokPod('x', { app: 'web' });
  mustKubectl(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'web', namespace: ns },
    spec: { replicas: 1, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: pod.spec } },
  }));
  await waitReadyPod(ns, 'app=web');
  await sleep(300); // the pod backer opens the pod's listeners
  const file = writeEnvFile('sched', `
def build():
    base(image="x")
def serve():
    cloud.k8s.bind(env_port=8080, host_port=0, name="web")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=9000, name="websvc")
`);
  const runtime = new K8sRuntime({ kubeconfig: env.kubeconfig, namespace: ns, target: { kind: 'deployment', name: 'web' }, podWaitTimeoutMs: 2000 });
  store = new StateStore(file, mkdtempSync(join(tmpdir(), 'envserve-sched-state-')));
  controller = new EnvController({ source: new FilePlanSource(file, { envName: 'sched' }), runtime, mode: 'serve', store, scheduler, settleMs: 20_000 });
  controller.on('status', (status) => writes.push({ at: Date.now(), status }));
  const started = new Promise<EnvStatus>((resolve) => controller.on('started', resolve));
  running = controller.run(stop.signal);
  const s = await Promise.race([started, running.then(() => { throw new Error('the controller stopped during start-up'); })]);
  assert.ok(s.exposures.every((e) => e.answering), JSON.stringify(s.exposures.map(brief)));
});

after(async () => {
  stop.abort();
  await running?.catch(() => undefined);
  client?.close();
  if (ns) deleteNamespace(ns);
});

test('a Ready pod whose app stops answering shows in status within 30 s, with the probes backed off to their slowest', async () => {
  // Idle long enough for the schedule to reach its 30 s ceiling: nothing changes meanwhile.
  await sleep(35_000);
  assert.equal(scheduler.intervalOf(fwd(controller.status()).id), 30_000);
  assert.equal(scheduler.intervalOf(svc(controller.status()).id), 30_000);
  const pod = await waitReadyPod(ns, 'app=web');
  const t0 = Date.now();
  // The pod stays Ready (no watch event that matters), its app stops answering.
  await client.request(`/api/v1/namespaces/${ns}/pods/${pod}`, {
    method: 'PATCH',
    contentType: 'application/merge-patch+json',
    body: { metadata: { annotations: { 'envserve-testenv/serve': 'false' } } },
  });
  const tFwd = await firstWrite(t0, (s) => fwd(s).answering === false, 40_000);
  const tSvc = await firstWrite(t0, (s) => svc(s).answering === false, 40_000);
  assert.equal(fwd(store.read()!.status!).answering, false, 'the state record says so too');
  console.log(`# app stopped answering behind a Ready pod: port-forward shown after ${tFwd - t0} ms, Service after ${tSvc - t0} ms`);
  assert.ok(tFwd - t0 <= CEILING_MS, `port-forward: shown after ${tFwd - t0} ms`);
  assert.ok(tSvc - t0 <= CEILING_MS, `Service: shown after ${tSvc - t0} ms`);
  // And back: the app answers again (the next probes are 2 s apart after a change).
  const t1 = Date.now();
  await client.request(`/api/v1/namespaces/${ns}/pods/${pod}`, {
    method: 'PATCH',
    contentType: 'application/merge-patch+json',
    body: { metadata: { annotations: { 'envserve-testenv/serve': 'true' } } },
  });
  await firstWrite(t1, (s) => fwd(s).answering === true && svc(s).answering === true, 10_000);
});

test('a pod deleted shows by the watch, before any probe: replaced, the forward names the new pod; with none left, both exposures say why', async () => {
  const old = await waitReadyPod(ns, 'app=web');
  let t0 = Date.now();
  await client.request(`/api/v1/namespaces/${ns}/pods/${old}`, { method: 'DELETE', body: { gracePeriodSeconds: 0 } });
  const tMoved = await firstWrite(t0, (s) => !fwd(s).target?.includes(old), 5000);
  console.log(`# pod deleted: the forward left it after ${tMoved - t0} ms`);
  assert.ok(tMoved - t0 < BY_WATCH_MS, `the forward left the deleted pod after ${tMoved - t0} ms`);
  await waitReadyPod(ns, 'app=web', old);

  // No pod at all: scale to 0. The clock starts when the cluster has made the change (the
  // ReplicaSet controller deleting the pod, the EndpointSlice controller emptying the slice), as
  // this test's own watches see it: what is measured is envserve, not the controllers.
  const abort = new AbortController();
  let podGone = 0;
  let sliceEmpty = 0;
  const watching = [
    client.watch(`/api/v1/namespaces/${ns}/pods`, { labelSelector: 'app=web' }, (ev) => {
      if (!podGone && (ev.type === 'DELETED' || ev.object?.metadata?.deletionTimestamp)) podGone = Date.now();
    }, abort.signal).catch(() => undefined),
    client.watch(`/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, {}, (ev) => {
      const ready = (ev.object?.endpoints ?? []).filter((e: any) => e.conditions?.ready !== false).length;
      if (!sliceEmpty && ev.type !== 'ADDED' && ev.type !== 'BOOKMARK' && ready === 0) sliceEmpty = Date.now();
    }, abort.signal).catch(() => undefined),
  ];
  await sleep(200); // the watches are open
  t0 = Date.now();
  await client.request(`/apis/apps/v1/namespaces/${ns}/deployments/web/scale`, {
    method: 'PATCH',
    contentType: 'application/merge-patch+json',
    body: { spec: { replicas: 0 } },
  });
  try {
    const tF = await firstWrite(t0, (s) => fwd(s).state === 'waiting' && /Ready pod/.test(fwd(s).message ?? ''), 10_000);
    const tS = await firstWrite(t0, (s) => svc(s).answering === false && /no ready endpoints/.test(svc(s).message ?? ''), 10_000);
    assert.ok(podGone && sliceEmpty, 'the test saw the pod go and the slice empty');
    console.log(`# scaled to 0: port-forward shown ${tF - podGone} ms after the pod went, Service ${tS - sliceEmpty} ms after its endpoints went`);
    assert.ok(tF - podGone < BY_WATCH_MS, `port-forward: shown ${tF - podGone} ms after the pod went`);
    assert.ok(tS - sliceEmpty < BY_WATCH_MS, `Service: shown ${tS - sliceEmpty} ms after its endpoints went`);
  } finally {
    abort.abort();
    await Promise.all(watching);
  }
});
