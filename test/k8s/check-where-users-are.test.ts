// `envserve check` where users are (issue 24), on the real node: `check -f` while `serve --target
// k8s:NS/deployment/fweb` runs finds that Deployment (from the state record: target, namespace,
// kubeconfig — no flags), judges the TCP port-forward to a pod port where nothing listens by a
// round trip to the pod (ConnectionRefused with the pod's words, not "accepts connections"), and
// says nothing of WebSocketRejected for a plain page (busybox httpd). And the debug pod's fallback: an image the
// node cannot pull → the minimal busybox probe runs from inside and the report says so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { runCheck } from '../../src/check/run.js';
import type { Check, CheckReport } from '../../src/check/types.js';
import { runCli, startCli, stateDirEnv, type CliRun } from '../local/cli-helpers.js';
import { env, writeEnvFile, createNamespace, deleteNamespace, kubectlJson, mustKubectl, waitReadyPod } from './expose-lib.js';

const FALLBACK_IMAGE = 'envserve.test/busybox:1'; // busybox (wget, nc) that the test node has
const stateEnv = stateDirEnv();
let ns: string;
let file: string;
let serve: CliRun | undefined;

before(async () => {
  ns = createNamespace('es-check-users');
  const labels = { app: 'fweb' };
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'fweb' },
    spec: {
      replicas: 1, selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          terminationGracePeriodSeconds: 0,
          // busybox httpd, as in the report: a plain page, and an upgrade request gets a page too (no 101).
          containers: [{
            name: 'app', image: 'envserve.test/busybox:1', imagePullPolicy: 'Never',
            command: ['sh', '-c', 'mkdir -p /tmp/www && echo plain page > /tmp/www/index.html && exec httpd -f -p 8080 -h /tmp/www'],
            ports: [{ name: 'http', containerPort: 8080 }],
            readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
          }],
        },
      },
    },
  }));
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'fweb' }, spec: { selector: labels, ports: [{ name: 'http', port: 80, targetPort: 'http' }] },
  }));
  await waitReadyPod(ns, 'app=fweb', undefined, 60_000);
});

after(async () => {
  serve?.proc.kill('SIGTERM');
  await serve?.exited;
  if (ns) deleteNamespace(ns);
});

const show = (r: CheckReport) => JSON.stringify(r.checks.filter((c) => c.status !== 'pass').map((c) => `${c.exposure} ${c.id} ${c.status} ${c.reason}: ${c.message}`), null, 1);

test('check -f beside serve --target: the right workload, ConnectionRefused from the pod for the refused port, no WebSocketRejected for a plain page', async () => {
  // An environment named "fm" whose serve() exposes a plain page and a port nothing listens on.
  file = writeEnvFile('fm', `
def build():
    base(image="x")
def serve():
    cloud.k8s.bind(env_port=8080, host_port=0, protocol="http", name="page")
    cloud.k8s.bind(env_port=9999, host_port=0, name="nothing")
`);
  serve = startCli(['serve', '--runtime', 'k8s', '-f', file, '--kubeconfig', env.kubeconfig, '-n', ns, '--target', `k8s:${ns}/deployment/fweb`], stateEnv);
  await serve.waitFor(/Press Ctrl-C/, 60_000);
  const t0 = Date.now();
  // No --target, -n or --kubeconfig: check reads them from serve's state record.
  const run = await runCli(['check', '-f', file, '--no-debug-pod', '-o', 'json'], { ...stateEnv, KUBECONFIG: '/nonexistent' });
  console.log(`# check -f beside serve --target: ${Date.now() - t0} ms`);
  const r = JSON.parse(run.stdout) as CheckReport;
  assert.equal(run.code, 1, `the refused port is a problem: ${show(r)}`);
  assert.equal(r.namespace, ns);
  const find = (exposure: string, id: string): Check | undefined => r.checks.find((c) => c.id === id && r.exposures.some((v) => v.exposure === c.exposure && v.exposure.includes(exposure)));
  assert.ok(!r.checks.some((c) => c.reason === 'WorkloadNotFound'), show(r));
  for (const x of r.exposures) {
    const w = r.checks.find((c) => c.exposure === x.exposure && c.id === 'workload.exists');
    assert.equal(w?.status, 'pass', show(r));
    assert.match(w!.message, new RegExp(`deployment ${ns}/fweb exists`));
  }
  const page = r.exposures.find((v) => v.exposure.includes('page'))!;
  assert.equal(page.verdict, 'answers', show(r));
  assert.ok(!r.checks.some((c) => c.reason === 'WebSocketRejected'), `no WebSocketRejected for an app that does not need WebSockets: ${show(r)}`);
  // The upgrade was tried (httpd answers it with a page): an informational line, not a warning.
  const upgrade = find('page', 'probe.local.forward.websocket')!;
  assert.deepEqual([upgrade.status, upgrade.reason], ['info', 'NotApplicable'], JSON.stringify(upgrade));
  assert.match(upgrade.message, /instead of 101: fine for an app that does not use WebSockets/);
  const refused = find('nothing', 'probe.local.forward')!;
  console.log(`# the refused forward: ${refused.reason}: ${refused.message}; the page's upgrade: ${upgrade?.status} ${upgrade?.message}`);
  assert.deepEqual([refused.status, refused.reason], ['fail', 'ConnectionRefused'], show(r));
  assert.match(refused.message, /nothing listens on port 9999 in pod fweb-[a-z0-9-]+ \(connection refused inside the pod\)/, refused.message);
  assert.doesNotMatch(refused.message, /accepts connections/);
  assert.match(refused.fix ?? '', /nothing listens on that port inside the pod/);
  assert.equal(r.exposures.find((v) => v.exposure.includes('nothing'))?.cause?.reason, 'ConnectionRefused');
});

test('an envserve image the node cannot pull: the minimal busybox probe runs from inside and says what it could not check', async () => {
  const t0 = Date.now();
  const r = await runCheck({
    target: `k8s:${ns}/deployment/fweb`, port: 8080, kubeconfig: env.kubeconfig, namespace: ns,
    debugImage: 'registry.invalid/none:1', fallbackImage: FALLBACK_IMAGE, debugTimeoutMs: 20_000,
  });
  console.log(`# check with the fallback probe: ${Date.now() - t0} ms`);
  const notes = r.checks.filter((c) => c.id === 'probe.cluster.fallback');
  assert.ok(notes.length > 0, show(r));
  console.log(`# ${notes[0]!.message}`);
  for (const n of notes) {
    assert.deepEqual([n.status, n.reason, n.vantage], ['info', 'DebugPodFailed', 'cluster']);
    assert.match(n.message, /the debug image registry\.invalid\/none:1 cannot be pulled \((ErrImagePull|ImagePullBackOff)/);
    assert.match(n.message, /the minimal probe ran instead \(envserve\.test\/busybox:1: busybox wget and nc\); not checked from inside: WebSocket upgrades, TLS certificates/);
  }
  const inside = r.checks.filter((c) => c.vantage === 'cluster' && c.id !== 'probe.cluster.fallback');
  assert.ok(inside.some((c) => c.id === 'probe.cluster.pod') && inside.some((c) => c.id === 'probe.cluster.clusterIP'), show(r));
  for (const c of inside) assert.equal(c.status, 'pass', `${c.id} from the busybox probe: ${show(r)}`);
  assert.match(inside.find((c) => c.id === 'probe.cluster.pod')!.message, /answers HTTP 200/);
  assert.equal(r.ok, true, show(r));
  const left = kubectlJson<{ items: any[] }>(['-n', ns, 'get', 'pods', '-l', 'envserve.dev/role=check-debug']).items.filter((p) => !p.metadata.deletionTimestamp);
  assert.deepEqual(left.map((p) => p.metadata.name), [], 'both probe pods are deleted');
});
