// `envserve check` with its inside-the-cluster vantage point on the real node: the debug pod runs
// envserve's own image (envserve.test/envserve:1, built by scripts/testenv/k8s/images.sh) with
// `envserve probe --json --spec ...`; check reads its one result line through pods/log (never
// exec) and deletes it. Covered: the pod IP, the ClusterIP, the Service's DNS name (CoreDNS) and
// the Ingress probed from inside; the seed cloud example passing every check (from here, through
// the API server, and with the debug pod);
// an app bound to 127.0.0.1 in a real pod diagnosed AppBoundToLoopback; no debug pod left behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCheck, type CheckOptions } from '../../src/check/run.js';
import type { CheckReport } from '../../src/check/types.js';
import { curlInNetns, httpRequest, kubectl } from './cluster.js';
import {
  env, rand, serve, writeEnvFile, SEED_CLOUD, createNamespace, deleteNamespace, kubectlJson, mustKubectl, backedDeployment, waitReadyPod, waitReadyEndpoint, eventually, ingressRouted,
} from './expose-lib.js';

const DEBUG_IMAGE = 'envserve.test/envserve:1';

let ns: string;
before(async () => {
  // The cluster runs CoreDNS: the DNS probe from inside is part of what is tested here.
  assert.equal(kubectl(env.kubeconfig, ['-n', 'kube-system', 'get', 'service', 'kube-dns']).code, 0, 'the test cluster must run CoreDNS (kube-dns)');
  ns = createNamespace('es-check-node');
  backedDeployment(ns, 'web', { app: 'web' });
  apply(service('web', { app: 'web' }, [{ name: 'http', port: 80, targetPort: 'http' }]));
  await waitReadyPod(ns, 'app=web', undefined, 60_000);
  // The EndpointSlice marks the pod ready a moment after the pod is: until then check rightly says EndpointsNotReady.
  await waitReadyEndpoint(ns, 'web');
});
after(() => deleteNamespace(ns));

function apply(obj: object): void {
  mustKubectl(['apply', '-f', '-'], JSON.stringify(obj));
}
function service(name: string, selector: Record<string, string>, ports: object[]): object {
  return { apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: ns }, spec: { selector, ports } };
}

const check = (o: CheckOptions) => runCheck({ kubeconfig: env.kubeconfig, namespace: ns, debugImage: DEBUG_IMAGE, ...o });
const find = (r: CheckReport, id: string, exposure?: string) => r.checks.find((c) => c.id === id && (!exposure || c.exposure === exposure));
const show = (r: CheckReport) => JSON.stringify(r.checks.filter((c) => c.status !== 'pass').map((c) => `${c.exposure} ${c.id} ${c.status} ${c.reason}: ${c.message}`), null, 1);

/** The debug pods still in the namespace (not already being deleted). */
function debugPodsLeft(): string[] {
  return kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'pods', '-l', 'envserve.dev/role=check-debug']).items
    .filter((p) => !p.metadata.deletionTimestamp).map((p) => p.metadata.name);
}

test('the debug pod probes the pod IP, the ClusterIP and the Service DNS name from inside, and is gone afterwards', async () => {
  const r = await check({ target: `k8s:${ns}/service/web` });
  assert.equal(r.ok, true, show(r));
  for (const id of ['probe.cluster.pod', 'probe.cluster.clusterIP', 'probe.cluster.dns']) {
    const c = find(r, id);
    assert.equal(c?.status, 'pass', `${id}: ${show(r)}`);
    assert.equal(c?.vantage, 'cluster');
  }
  assert.match(find(r, 'probe.cluster.dns')!.message, new RegExp(`web\\.${ns}\\.svc\\.cluster\\.local:80`));
  assert.deepEqual(debugPodsLeft(), [], 'the debug pod was deleted');
  console.log(`# check of a Service with the debug pod: ${r.durationMs} ms`);
});

test('the debug pod reaches the Ingress from inside (Host header included)', async () => {
  const host = `in-${rand()}.example.com`;
  apply({
    apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', metadata: { name: 'lab', namespace: ns },
    spec: { ingressClassName: 'traefik', rules: [{ host, http: { paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 'web', port: { number: 80 } } } }] } }] },
  });
  // Traefik admits the Ingress (status address) and picks up the route: then every vantage passes.
  await ingressRouted(ns, 'lab', host);
  const r = await check({ target: `k8s:${ns}/ingress/lab` });
  assert.equal(r.ok, true, show(r));
  assert.equal(find(r, 'probe.cluster.ingress')?.status, 'pass', show(r));
  assert.match(find(r, 'probe.cluster.ingress')!.message, new RegExp(`Host: ${host.replace(/\./g, '\\.')}`));
  assert.deepEqual(debugPodsLeft(), []);
});

// (Also check.test.ts's case without the debug pod: the checks from here and through the API server.)
test("the proposal's cloud example, served: every check passes, from here, through the API server and from inside with the debug pod, and the debug pod is gone", async () => {
  const envName = `seed-${rand()}`;
  const file = writeEnvFile('seed-node', SEED_CLOUD.replace('host_port=1234', 'host_port=0'));
  const s = await serve(file, { envName, namespace: ns, image: 'envserve.test/jupyter:1' });
  try {
    const [pf] = s.byKind('k8s-port-forward');
    const [svc] = s.byKind('k8s-service');
    const listen = pf!.listen!;
    // The settle point, read independently of check: the forward answers, and the ClusterIP
    // answers from the node's network (kube-proxy has programmed it). Then one check must pass.
    const clusterIP = svc!.addresses().find((a) => a.scope === 'cluster')!;
    await eventually(() => httpRequest('127.0.0.1', listen.port), 30_000, 200);
    await eventually(async () => curlInNetns(env.netns, `http://${clusterIP.address}:${clusterIP.port}/`), 30_000, 200);
    const r = await check({ file, name: envName, localListeners: new Map([[pf!.spec.id, listen]]) });
    assert.equal(r.ok, true, show(r));
    assert.deepEqual(r.exposures.map((e) => e.verdict), ['answers', 'answers'], show(r));
    assert.equal(r.checks.filter((c) => c.status !== 'pass').length, 0, `every check passes, none skipped: ${show(r)}`);
    for (const id of ['workload.exists', 'workload.pods', 'probe.local.forward', 'probe.local.forward.websocket', 'probe.apiserver.pod']) assert.equal(find(r, id, pf!.spec.id)?.status, 'pass', id);
    for (const id of ['service.exists', 'service.selector', 'service.targetPort', 'service.endpoints', 'network.policy', 'probe.apiserver.service']) assert.equal(find(r, id, 'service-jupyter')?.status ?? find(r, id)?.status, 'pass', `${id}: ${show(r)}`);
    const inside = r.checks.filter((c) => c.vantage === 'cluster').map((c) => c.id).sort();
    for (const id of ['probe.cluster.pod', 'probe.cluster.clusterIP', 'probe.cluster.dns']) assert.ok(inside.includes(id), `${id} ran from inside: ${inside}`);
    assert.equal(find(r, 'cluster.dns')?.reason, 'Ok');
    assert.deepEqual(debugPodsLeft(), [], 'no debug pod is left');
    console.log(`# check of the seed cloud example with the debug pod: ${r.durationMs} ms, ${r.checks.length} checks`);
  } finally {
    await s.stop();
  }
});

test('an app bound to 127.0.0.1 in a real pod: the port-forward answers, the pod IP refuses → AppBoundToLoopback', async () => {
  const name = 'loop';
  apply({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: ns, labels: { app: name } },
    spec: {
      terminationGracePeriodSeconds: 0,
      containers: [{
        name: 'app', image: 'envserve.test/busybox:1', imagePullPolicy: 'Never',
        command: ['sh', '-c', 'mkdir -p /tmp/www && echo ok > /tmp/www/index.html && exec httpd -f -p 127.0.0.1:8080 -h /tmp/www'],
        ports: [{ name: 'http', containerPort: 8080 }],
      }],
    },
  });
  await waitReadyPod(ns, `app=${name}`, undefined, 60_000);
  const r = await check({ target: `k8s:${ns}/pod/${name}`, port: 8080 });
  assert.equal(r.ok, false, show(r));
  assert.equal(find(r, 'probe.apiserver.forward')?.status, 'pass', `a port-forward connects to localhost in the pod, so it answers: ${show(r)}`);
  const inside = find(r, 'probe.cluster.pod')!;
  assert.equal(inside.reason, 'AppBoundToLoopback', show(r));
  assert.match(inside.message, /the app listens on 127\.0\.0\.1:8080 inside the pod/);
  assert.match(inside.fix!, /--ip=0\.0\.0\.0 \(Jupyter\) or --bind_all \(TensorBoard\)/);
  assert.equal(find(r, 'probe.apiserver.pod')?.reason, 'AppBoundToLoopback', 'the pod proxy (to the pod IP) says the same');
  assert.equal(r.exposures[0]!.cause?.reason, 'AppBoundToLoopback', show(r));
  assert.deepEqual(debugPodsLeft(), []);
});

test('a debug image the node cannot get: the cluster vantage warns DebugPodFailed (with --debug-image in the fix), the verdict stands, no pod is left', async () => {
  const r = await check({ target: `k8s:${ns}/service/web`, debugImage: 'envserve.test/no-such-image:1', debugTimeoutMs: 20_000 });
  const c = find(r, 'probe.cluster')!;
  assert.equal(c.status, 'warn', show(r));
  assert.equal(c.reason, 'DebugPodFailed');
  assert.match(c.message, /the debug pod's image envserve\.test\/no-such-image:1 cannot start \((ErrImagePull|ImagePullBackOff|ErrImageNeverPull)/);
  assert.match(c.fix!, /--debug-image/);
  assert.equal(r.ok, true, `a debug pod that could not report is not a problem of the exposure: ${show(r)}`);
  assert.deepEqual(debugPodsLeft(), []);
});
