// Gateway API on the real test cluster: Traefik 3.6.12's Gateway provider serving the Gateway
// envserve-gateway/envserve (scripts/testenv/k8s/gateway.sh: the v1.4.0 standard-channel CRDs, an
// HTTP and an HTTPS listener for *.gw.envserve.test, the HTTPS one with a wildcard certificate from
// the test CA). envserve's automatic HTTPRoute answers with its Host over HTTP and over HTTPS (SNI =
// the host, verified against the test CA) from a pod on the real node; `status` shows the route's
// Accepted/ResolvedRefs and the Gateway's address; `down` removes it. Routes the Gateway refuses:
// `status` says RouteNotAccepted, and `check` names why with its own reason code, while Traefik's
// own verdict (the route's parent status) agrees.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { envserve } from '../helpers/cli.js';
import { BIN } from './cli-proc.js';
import { httpRequest, podAnswer } from './cluster.js';
import { env, rand, createNamespace, deleteNamespace, mustKubectl, kubectlJson, backedDeployment, waitReadyPod, writeEnvFile, ownedObjects, eventually } from './expose-lib.js';
import { httpsGet, tlsEnv } from './tls-lib.js';

const T = tlsEnv();
const GATEWAY = process.env.ENVSERVE_TEST_GATEWAY ?? 'envserve-gateway/envserve';
const DOMAIN = process.env.ENVSERVE_TEST_GATEWAY_DOMAIN ?? 'gw.envserve.test';
const [gwIp, gwPort] = env.ingressAddress.split(':');
const trusting = { KUBECONFIG: env.kubeconfig, NODE_EXTRA_CA_CERTS: T.caCert, ENVSERVE_INGRESS_DOMAIN: '' };
let ns: string;
const t0 = Date.now();

before(async () => {
  ns = createNamespace('es-gw');
  backedDeployment(ns, 'web', { app: 'web' });
  mustKubectl(['-n', ns, 'expose', 'deployment', 'web', '--port=80', '--target-port=8080']);
  await waitReadyPod(ns, 'app=web', undefined, 60_000);
});
after(() => {
  deleteNamespace(ns);
  console.log(`gateway.test.ts: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

const routes = (envName: string) => mustKubectl(['-n', ns, 'get', 'httproutes', '-l', `app.kubernetes.io/managed-by=envserve,envserve.dev/env=${envName}`, '-o', 'name']).split('\n').filter(Boolean);

function statusRow(file: string, kind: string): any {
  const st = envserve(['status', '-f', file, '-o', 'json'], { env: trusting });
  assert.equal(st.code === 0 || st.code === 1, true, st.stderr);
  return JSON.parse(st.stdout).exposures.find((e: any) => e.kind === kind);
}

function checkJson(args: string[]): { code: number; report: any } {
  const r = envserve(['check', ...args, '--no-debug-pod', '-o', 'json'], { env: trusting });
  assert.ok(r.stdout.trim().startsWith('{'), `check printed JSON: ${r.stdout}${r.stderr}`);
  return { code: r.code, report: JSON.parse(r.stdout) };
}

test('up --gateway: the automatic HTTPRoute answers with its Host over HTTP and HTTPS (test CA, SNI) from the real node; status shows Accepted/ResolvedRefs and the address; down removes it', async () => {
  const envName = `gw-${rand()}`;
  const host = `web-${envName}-${ns}.${DOMAIN}`;
  const file = writeEnvFile(envName, `
def build():
    base(image="envserve.test/web:1")
def serve():
    cloud.k8s.bind(env_port=8080, access="public", type=cloud.k8s.clusterIP, service_port=80, name="web", protocol="http")
`);
  const child = spawn(process.execPath, [BIN, 'up', '--runtime', 'k8s', '-n', ns, '-f', file, '--gateway', GATEWAY, '--route-domain', DOMAIN], { env: { ...process.env, ...trusting }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    await eventually(async () => assert.match(out, /Press Ctrl-C/), 90_000, 100);
    assert.match(out, new RegExp(`http://${host.replace(/\./g, '\\.')}/`), `up prints the route's URL:\n${out}`);
    const route = kubectlJson(['-n', ns, 'get', 'httproute', `${envName}-web`]);
    assert.deepEqual(route.spec.hostnames, [host]);
    assert.deepEqual(route.spec.parentRefs.map((p: any) => `${p.namespace}/${p.name}`), [GATEWAY]);
    assert.deepEqual(route.spec.rules[0].backendRefs.map((b: any) => `${b.name}:${b.port}`), [`${envName}-web:80`]);

    // Plain HTTP through the Gateway's HTTP listener, with the Host header: the pod on the real node answers.
    const pod = await waitReadyPod(ns, `envserve.dev/env=${envName}`);
    const viaHttp = podAnswer(await eventually(() => httpRequest(gwIp!, Number(gwPort), { hostHeader: host, path: '/via-gateway' }), 20_000, 200));
    assert.deepEqual([viaHttp.pod, viaHttp.port, viaHttp.path, viaHttp.host], [pod, 8080, '/via-gateway', host]);
    // HTTPS through the HTTPS listener: SNI = host, the wildcard certificate from the test CA.
    const viaTls = await eventually(() => httpsGet(T.httpsAddress, T.httpsPort, host, { path: '/tls' }), 20_000, 200);
    assert.equal(viaTls.status, 200, viaTls.body.toString());
    assert.equal(viaTls.subject, `*.${DOMAIN}`);
    assert.equal(viaTls.issuer, 'envserve-test-ca');
    assert.equal(JSON.parse(viaTls.body.toString()).pod, pod);
    // Another host under the listener's wildcard is not routed: the Host decides.
    assert.equal((await httpRequest(gwIp!, Number(gwPort), { hostHeader: `nobody-${rand()}.${DOMAIN}`, path: '/' })).status, 404);

    const row = await eventually(async () => {
      const e = statusRow(file, 'k8s-route');
      assert.equal(e.reason, 'Ready', JSON.stringify(e));
      return e;
    }, 20_000, 250);
    assert.equal(row.answering, true);
    assert.equal(row.urls[0], `http://${host}/`);
    assert.match(row.target, new RegExp(`via Gateway ${GATEWAY} \\(Accepted=True, ResolvedRefs=True; address ${gwIp!.replace(/\./g, '\\.')}:80\\)`));

    // check through the route (--target): every static rule passes, the probe through the Gateway answers.
    const { code, report } = checkJson(['--target', `k8s:${ns}/httproute/${envName}-web`]);
    assert.equal(code, 0, JSON.stringify(report.checks.filter((c: any) => c.status === 'fail')));
    const ids = report.checks.filter((c: any) => c.exposure === `route-${envName}-web`).map((c: any) => `${c.id}:${c.reason}`);
    for (const want of ['route.exists:Ok', 'route.gateway:Ok', 'route.hostname:Ok', 'route.backend:Ok', 'route.accepted:Ok', 'probe.local.route:Answers']) assert.ok(ids.includes(want), `${want} in ${ids.join(', ')}`);

    // check -f: the env file names no route (up's --gateway made it); check finds it by envserve's labels and probes it.
    const byFile = checkJson(['-f', file]);
    assert.equal(byFile.code, 0, JSON.stringify(byFile.report.checks.filter((c: any) => c.status === 'fail')));
    const auto = byFile.report.exposures.filter((e: any) => e.kind === 'k8s-route');
    assert.equal(auto.length, 1, `the automatic route is checked: ${JSON.stringify(byFile.report.exposures)}`);
    const autoIds = byFile.report.checks.filter((c: any) => c.exposure === auto[0].exposure).map((c: any) => `${c.id}:${c.reason}`);
    for (const want of ['route.exists:Ok', 'route.accepted:Ok', 'probe.local.route:Answers']) assert.ok(autoIds.includes(want), `${want} in ${autoIds.join(', ')}`);
  } finally {
    const d = envserve(['down', '-f', file, '--runtime', 'k8s', '-n', ns], { env: trusting });
    assert.equal(d.code, 0, d.stderr);
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
  assert.deepEqual(routes(envName), [], 'down removed the HTTPRoute');
  assert.deepEqual(ownedObjects(ns, envName), []);
});

test('a route the Gateway refuses: status says RouteNotAccepted, check names why (host outside the listener); down removes it', async () => {
  const envName = `gwno-${rand()}`;
  const host = `web-${envName}.elsewhere.test`; // not under *.gw.envserve.test
  const file = writeEnvFile(envName, `
def serve():
    cloud.k8s.bind(env_port=8080, access="public", service_port=8081, name="web", protocol="http",
                   route=cloud.k8s.route(host="${host}", gateway="${GATEWAY}"))
`);
  const child = spawn(process.execPath, [BIN, 'serve', '--runtime', 'k8s', '-n', ns, '-f', file, '--target', `k8s:${ns}/deployment/web`], { env: { ...process.env, ...trusting }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    await eventually(async () => assert.match(out, /Press Ctrl-C/), 60_000, 100);
    const row = await eventually(async () => {
      const e = statusRow(file, 'k8s-route');
      assert.equal(e.reason, 'RouteNotAccepted', JSON.stringify(e));
      return e;
    }, 20_000, 250);
    assert.notEqual(row.state, 'ready');
    assert.match(row.message, new RegExp(`Gateway ${GATEWAY} does not accept the HTTPRoute: NoMatchingListenerHostname`));

    const { code, report } = checkJson(['-f', file]);
    assert.equal(code, 1);
    const verdict = report.exposures.find((e: any) => e.exposure === 'route-web');
    assert.equal(verdict.cause.reason, 'RouteHostnameNotAllowed', JSON.stringify(verdict));
    assert.match(verdict.cause.message, new RegExp(`host ${host.replace(/\./g, '\\.')} is not under the hostname of any listener of Gateway ${GATEWAY} \\(\\*\\.${DOMAIN.replace(/\./g, '\\.')}\\)`));
    assert.match(verdict.cause.fix, /use a host under \*\.gw\.envserve\.test/);
    const accepted = report.checks.find((c: any) => c.exposure === 'route-web' && c.id === 'route.accepted');
    assert.equal(accepted.reason, 'RouteNotAccepted', "Traefik's own verdict agrees");
    assert.match(accepted.message, /NoMatchingListenerHostname/);
  } finally {
    child.kill('SIGINT');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
  }
  assert.deepEqual(routes(envName).length, 1, 'serve leaves the route for down');
  const d = envserve(['down', '-f', file], { env: trusting });
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual(routes(envName), [], 'down removed the HTTPRoute');
  assert.deepEqual(ownedObjects(ns, envName), []);
});

test('check --target on routes ops made: wrong listener, missing Gateway, backend port mismatch — each its reason code, and Traefik\'s verdict beside it', async () => {
  const [gwNs, gwName] = GATEWAY.split('/');
  const route = (name: string, parent: Record<string, string>, port: number) => ({
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name, namespace: ns },
    spec: {
      parentRefs: [{ namespace: gwNs, name: gwName, ...parent }],
      hostnames: [`${name}.${DOMAIN}`],
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [{ name: 'web', port }] }],
    },
  });
  const cases = [
    { name: 'section', obj: route('section', { sectionName: 'nope' }, 80), reason: 'RouteSectionNotFound', verdict: 'RouteNotAccepted', fix: /use one of its listeners/ },
    { name: 'nogw', obj: route('nogw', { name: `missing-${rand()}` }, 80), reason: 'GatewayNotFound', verdict: 'RouteNoParent', fix: /name an existing Gateway/ },
    { name: 'port', obj: route('port', {}, 9999), reason: 'RouteBackendPortMismatch', verdict: 'RouteRefsUnresolved', fix: /set the backend port to 80/ },
  ];
  for (const c of cases) mustKubectl(['apply', '-f', '-'], JSON.stringify(c.obj));
  for (const c of cases) {
    // Wait until Traefik has written its verdict (the missing Gateway's route gets none: RouteNoParent at once).
    const { code, report } = await eventually(async () => {
      const r = checkJson(['--target', `k8s:${ns}/httproute/${c.name}`]);
      const acc = r.report.checks.find((x: any) => x.id === 'route.accepted');
      assert.equal(acc?.reason, c.verdict, `${c.name}: ${JSON.stringify(acc)}`);
      return r;
    }, 20_000, 300);
    assert.equal(code, 1, c.name);
    const cause = report.exposures.find((e: any) => e.exposure === `route-${c.name}`).cause;
    assert.equal(cause.reason, c.reason, `${c.name}: ${cause.message}`);
    assert.match(cause.fix, c.fix, c.name);
  }
});

test('the restricted user (no rights on httproutes) in direct mode: a permission error naming the verb before any change (exit 2)', () => {
  const rns = env.restrictedNamespace;
  const envName = `gwr-${rand()}`;
  const file = writeEnvFile(envName, `
def serve():
    cloud.k8s.bind(env_port=8080, access="public", name="web", protocol="http", route=cloud.k8s.route(host="web.${DOMAIN}", gateway="${GATEWAY}"))
`);
  const r = envserve(['serve', '--runtime', 'k8s', '-f', file, '--selector', 'app=none'], { env: { KUBECONFIG: env.kubeconfigRestricted, ENVSERVE_INGRESS_DOMAIN: '' } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`create httproutes\\.gateway\\.networking\\.k8s\\.io in namespace ${rns} \\(needed for HTTPRoutes \\(cloud\\.k8s\\.bind\\(route=\\.\\.\\.\\)\\)\\)`));
  assert.match(r.stderr, /this user may use: port-forward/);
  assert.deepEqual(mustKubectl(['-n', rns, 'get', 'httproutes', '-l', `envserve.dev/env=${envName}`, '-o', 'name']).trim(), '', 'nothing created');
});

test('render: the HTTPRoute passes the v1.4.0 CRD schema and its CEL rules on the real API server (dry run, nothing persisted)', () => {
  const envName = `gwr-${rand()}`;
  const file = writeEnvFile(envName, `
def serve():
    cloud.k8s.bind(env_port=8080, access="public", name="web", protocol="http",
                   route=cloud.k8s.route(host="web.${DOMAIN}", path="/app", gateway="${GATEWAY}/https", https=True))
`);
  const r = envserve(['render', '-f', file, '-n', ns]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /kind: HTTPRoute/);
  const out = mustKubectl(['apply', '--dry-run=server', '-f', '-'], r.stdout);
  assert.match(out, new RegExp(`httproute.gateway.networking.k8s.io/${envName}-web created \\(server dry run\\)`));
  assert.deepEqual(routes(envName), [], 'nothing persisted');
});
