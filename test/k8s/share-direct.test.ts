// Issue 22, direct mode on the real cluster: `envserve serve --runtime k8s --no-operator
// --ingress-domain ...` no longer makes an open automatic Ingress. With the default access level
// (`namespace`) it exits 2 before anything is applied, naming the two ways out, and Traefik has no
// route to the app (no request reaches the pod); with `access="public"` the same file makes the
// Ingress and the app answers through Traefik — the refusal is the access level, nothing else.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpRequest, podAnswer } from './cluster.js';
import { env, createNamespace, deleteNamespace, backedDeployment, waitReadyPod, writeEnvFile, kubectlJson, eventually, freePort } from './expose-lib.js';
import { runCli, startCli } from '../local/cli-helpers.js';

let ns: string;
const [ingIp, ingPort] = env.ingressAddress.split(':');
const FILE = (port: number, access?: string) => `def serve():
    cloud.k8s.bind(env_port=8080, host_port=${port}, protocol="http", name="pf")
    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, protocol="http", name="web"${access ? `, access="${access}"` : ''})
`;
const vars = () => ({ ENVSERVE_INGRESS_DOMAIN: '', KUBECONFIG: env.kubeconfig, ENVSERVE_STATE_DIR: mkdtempSync(join(tmpdir(), 'envserve-state-')) });

before(async () => {
  ns = createNamespace('share-direct');
  backedDeployment(ns, 'web', { app: 'web' });
  await waitReadyPod(ns, 'app=web');
});
after(() => ns && deleteNamespace(ns));

test('direct mode, default access: exit 2 before anything is applied, naming both ways out; Traefik has no route to the app', async () => {
  const port = await freePort();
  const file = writeEnvFile('share-direct-default', FILE(port));
  const r = await runCli(['serve', '--runtime', 'k8s', '--no-operator', '-f', file, '--name', 'shr', '-n', ns, '--selector', 'app=web', '--ingress-domain', 'apps.share.test'], vars(), 90_000);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /build\.envd:3:5: ingress-web: access "namespace" needs a login, and nothing checks one without the envserve operator: install the operator .*or declare access="public" on cloud\.k8s\.bind .*\[LoginUnavailable\]/);
  assert.match(r.stderr, /nothing was applied/);
  const owned = kubectlJson(['-n', ns, 'get', 'services,ingresses', '-l', 'app.kubernetes.io/managed-by=envserve']).items;
  assert.deepEqual(owned, [], 'no Service, no Ingress');
  const res = await httpRequest(ingIp!, Number(ingPort), { path: '/secret', hostHeader: `web-shr-${ns}.apps.share.test` });
  assert.equal(res.status, 404, 'Traefik has no route for the host');
  assert.throws(() => podAnswer(res), 'the answer is not the app\'s');
});

test('direct mode, access="public": the same file makes the automatic Ingress and the app answers through Traefik', async () => {
  const port = await freePort();
  const file = writeEnvFile('share-direct-public', FILE(port, 'public'));
  const run = startCli(['serve', '--runtime', 'k8s', '--no-operator', '-f', file, '--name', 'shp', '-n', ns, '--selector', 'app=web', '--ingress-domain', 'apps.share.test'], vars());
  try {
    await run.waitFor(/Press Ctrl-C to stop/, 90_000);
    const via = await eventually(async () => podAnswer(await httpRequest(ingIp!, Number(ingPort), { path: '/open', hostHeader: `web-shp-${ns}.apps.share.test` })), 30_000);
    assert.equal(via.path, '/open');
    assert.equal(via.namespace, ns);
  } finally {
    run.proc.kill('SIGINT');
    assert.equal(await run.exited, 0, run.err());
  }
});
