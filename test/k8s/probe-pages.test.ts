// Probes judge reachability, not content (issue 25, bug 2), on the real node: ClusterIP Services
// in front of ordinary apps — a plain-text page, an HTML page, a JSON page, a 302 to a login page,
// the app's own 503 — each show `ready` in `envserve serve`'s status with the app's HTTP status,
// though only one of them answers JSON; a Service port where nothing listens shows
// ConnectionRefused, an app that accepts and never answers Timeout, one that resets or closes
// without an answer ConnectionReset, one that speaks first and not HTTP (sshd) NotHttp, and a
// Service with no ready endpoint NoEndpoints. `envserve check` reports
// the app's status and an excerpt of its page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startCli, runCli, stateDirEnv, type CliRun } from '../local/cli-helpers.js';
import { curlInNetns, startApp, testsrvContainer, type AppMode } from './cluster.js';
import { probe } from '../../src/probe/index.js';
import { env, writeEnvFile, createNamespace, deleteNamespace, mustKubectl, waitReadyPod, eventually } from './expose-lib.js';

/** One pod, one container per app mode, each on its own port. */
const PAGES: { mode: AppMode; port: number; status: number }[] = [
  { mode: 'json', port: 8080, status: 200 },
  { mode: 'text', port: 8081, status: 200 },
  { mode: 'html', port: 8082, status: 200 },
  { mode: 'login', port: 8083, status: 302 },
  { mode: '5xx', port: 8084, status: 503 },
  { mode: 'sse', port: 8091, status: 200 }, // an event stream that never ends: its status line is the answer
];
const REFUSED_PORT = 8099; // no container listens there
/** An API with no page at / (404 JSON, as FastAPI), behind an Ingress: its 404 through Traefik is an answer. */
const API_PORT = 8089;
/** Apps that do not answer, and the reason each row must show. */
const SILENT: { mode: AppMode; port: number; reason: string; message: RegExp }[] = [
  { mode: 'hang', port: 8085, reason: 'Timeout', message: /the API server answers, the app does not/ },
  { mode: 'reset', port: 8086, reason: 'ConnectionReset', message: /connection reset by peer/ },
  // Something listens: it closes without an answer (an HTTPS-only app), or speaks first and not HTTP (sshd).
  { mode: 'close', port: 8087, reason: 'ConnectionReset', message: /closed the connection without an answer/ },
  { mode: 'banner', port: 8088, reason: 'NotHttp', message: /malformed HTTP response "SSH-2\.0-testsrv"/ },
  // HTTPS only (Go's server: a 400 naming HTTPS to plain HTTP): the API server's proxy reaches it over TLS.
  { mode: 'tls', port: 8090, reason: 'NotHttp', message: /speaks TLS, not plain HTTP/ },
];

const stateEnv = stateDirEnv();
let ns: string;
let file: string;
let serve: CliRun;

async function statusJson(): Promise<{ exposures: any[] }> {
  const r = await runCli(['status', '-f', file, '-o', 'json'], stateEnv);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}
const apiHost = () => `api-${ns}.envserve.test`;
const brief = (e: any) => `${e.name} ${e.state} ${e.reason} ${e.httpStatus ?? ''} ${e.message ?? ''}`;

/** The status once every row has been probed for real: none starting, none before its endpoints were seen. */
async function settled(pending: (e: any) => boolean): Promise<any[]> {
  let last: any[] = [];
  try {
    return await eventually(async () => {
      last = (await statusJson()).exposures;
      if (last.some(pending)) throw new Error('not settled');
      return last;
    }, 60_000, 250);
  } catch {
    throw new Error(`the rows did not settle: ${JSON.stringify(last.map(brief), null, 1)}`);
  }
}

before(async () => {
  ns = createNamespace('es-pages');
  const labels = { app: 'pages' };
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'pages' },
    spec: {
      replicas: 1, selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { terminationGracePeriodSeconds: 1, containers: [...PAGES, ...SILENT, { mode: 'api' as const, port: API_PORT }].map((p) => ({ ...testsrvContainer(p.mode, p.port), name: p.mode === '5xx' ? 'five' : p.mode })) },
      },
    },
  }));
  await waitReadyPod(ns, 'app=pages', undefined, 60_000);
  file = writeEnvFile('pages', `
def build():
    base(image="x")
def serve():
${[...PAGES, ...SILENT].map((p) => `    cloud.k8s.bind(env_port=${p.port}, type=cloud.k8s.clusterIP, service_port=${p.port}, protocol="http", name="${p.mode === '5xx' ? 'five' : p.mode}")`).join('\n')}
    cloud.k8s.bind(env_port=${REFUSED_PORT}, type=cloud.k8s.clusterIP, service_port=${REFUSED_PORT}, protocol="http", name="refused")
    cloud.k8s.bind(env_port=${API_PORT}, type=cloud.k8s.clusterIP, service_port=${API_PORT}, protocol="http", name="api",
                   access="public", ingress=cloud.k8s.ingress(host="${apiHost()}", path="/", class_name="traefik"))
`);
  serve = startCli(['serve', '--runtime', 'k8s', '-f', file, '--kubeconfig', env.kubeconfig, '-n', ns, '--target', `k8s:${ns}/deployment/pages`], stateEnv);
  await serve.waitFor(/Press Ctrl-C/, 60_000);
});

after(async () => {
  serve?.proc.kill('SIGTERM');
  await serve?.exited;
  if (ns) deleteNamespace(ns);
});

test('ClusterIP Services in front of a text, HTML, JSON, login-redirect, 503 page and an endless event stream are each ready with the HTTP status; a refused port, a silent, a resetting, a closing, a non-HTTP and an HTTPS-only app are not', async () => {
  const rows = await settled((e) => e.state === 'starting' || e.reason === 'NoEndpoints');
  console.log(`# status: ${JSON.stringify(rows.map(brief), null, 1)}`);
  for (const p of PAGES) {
    const name = p.mode === '5xx' ? 'five' : p.mode;
    const e = rows.find((r) => r.name === name);
    assert.ok(e, `a row for ${name}`);
    assert.deepEqual([e.state, e.reason, e.answering, e.httpStatus], ['ready', 'Ready', true, p.status], `${p.mode}: ${brief(e)}`);
    assert.match(e.message, new RegExp(`HTTP ${p.status}`), `${p.mode}: the status is kept in the message too`);
  }
  const refused = rows.find((r) => r.name === 'refused');
  assert.deepEqual([refused.state, refused.reason, refused.answering], ['waiting', 'ConnectionRefused', false], brief(refused));
  assert.match(refused.message, /connection refused/, 'the API server\'s own words');
  for (const p of SILENT) {
    const e = rows.find((r) => r.name === p.mode);
    assert.deepEqual([e.state, e.reason, e.answering], ['waiting', p.reason, false], `${p.mode}: ${brief(e)}`);
    assert.match(e.message, p.message, `${p.mode}: ${brief(e)}`);
  }
});

test('envserve check on the plain-text Service: the app\'s HTTP status and an excerpt of its page, not a JSON parse error; the apps that do not answer in their own words', async () => {
  const text = (await statusJson()).exposures.find((e) => e.name === 'text');
  const r = await runCli(['check', '-f', file, '--target', `k8s:${ns}/deployment/pages`, '--kubeconfig', env.kubeconfig, '-n', ns, '--no-debug-pod', '-o', 'json'], stateEnv);
  const report = JSON.parse(r.stdout);
  assert.equal(report.exposures.find((e: any) => e.exposure === text.id)?.verdict, 'answers', r.stdout);
  const viaApi = report.checks.find((c: any) => c.exposure === text.id && c.id === 'probe.apiserver.service');
  assert.ok(viaApi, `a probe through the API server's service proxy: ${r.stdout}`);
  console.log(`# check: ${viaApi.message}`);
  assert.equal(viaApi.status, 'pass', JSON.stringify(viaApi));
  assert.match(viaApi.message, new RegExp(`answers HTTP 200: "${ns}/pages-[a-z0-9-]+:8081 /"$`), JSON.stringify(viaApi));
  // The apps that do not answer, in check's words: what the app did, and a fix that fits it.
  const rows = (await statusJson()).exposures;
  const checkOf = (name: string) => report.checks.find((c: any) => c.exposure === rows.find((e) => e.name === name)?.id && c.id === 'probe.apiserver.service');
  const hang = checkOf('hang');
  assert.deepEqual([hang?.status, hang?.reason], ['fail', 'Timeout'], JSON.stringify(hang));
  assert.match(hang.message, /the API server answers, the app does not/, JSON.stringify(hang));
  assert.match(hang.fix, /the app accepts connections and does not answer/, JSON.stringify(hang));
  assert.equal(checkOf('close')?.reason, 'ConnectionReset', JSON.stringify(checkOf('close')));
  assert.equal(checkOf('banner')?.reason, 'NotHttp', JSON.stringify(checkOf('banner')));
  assert.equal(checkOf('tls')?.reason, 'NotHttp', JSON.stringify(checkOf('tls')));
  assert.match(checkOf('tls').message, /speaks TLS/, JSON.stringify(checkOf('tls')));
  assert.equal(checkOf('refused')?.reason, 'ConnectionRefused', JSON.stringify(checkOf('refused')));
});

test('a KWOK pod whose backer serves an HTML page, behind a Service: check\'s probe through the API server answers with the page', async () => {
  startApp(env.kubeconfig, ns, 'kwok-pod', 'kwok-html', { app: 'kwok-html' }, 'html');
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Service', metadata: { name: 'kwok-html' },
    spec: { selector: { app: 'kwok-html' }, ports: [{ name: 'http', port: 80, targetPort: 8080 }] },
  }));
  await waitReadyPod(ns, 'app=kwok-html');
  // The settle point: the backer serves the pod IP, and the Service has it as a ready endpoint.
  const ip = mustKubectl(['-n', ns, 'get', 'pod', 'kwok-html', '-o', 'jsonpath={.status.podIP}']).trim();
  await eventually(async () => curlInNetns(env.netns, `http://${ip}:8080/`), 10_000, 100);
  await eventually(async () => assert.match(mustKubectl(['-n', ns, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=kwok-html', '-o', 'jsonpath={.items[*].endpoints[*].addresses[*]}']), /\d/), 30_000, 200);
  const r = await runCli(['check', '--target', `k8s:${ns}/service/kwok-html`, '--kubeconfig', env.kubeconfig, '-n', ns, '--no-debug-pod', '-o', 'json'], stateEnv);
  const viaApi = JSON.parse(r.stdout).checks.find((c: any) => c.id === 'probe.apiserver.service');
  console.log(`# check: ${viaApi?.message}`);
  assert.equal(viaApi?.status, 'pass', r.stdout);
  assert.match(viaApi.message, new RegExp(`answers HTTP 200: "<!doctype html> <html><head><title>testsrv</title>.*served by ${ns}/kwok-html:8080`), r.stdout);
});

test('an Ingress in front of an API with no page at / is ready with its 404 (the app\'s JSON); Traefik\'s own 404 for another Host is not the app', async () => {
  let last: any[] = [];
  const ing = await eventually(async () => {
    last = (await statusJson()).exposures;
    const e = last.find((r) => r.kind === 'k8s-ingress');
    if (e?.state !== 'ready') throw new Error('not ready');
    return e;
  }, 60_000, 250).catch(() => assert.fail(`the Ingress row is not ready: ${JSON.stringify(last.map(brief), null, 1)}`));
  assert.deepEqual([ing.reason, ing.answering, ing.httpStatus], ['Ready', true, 404], brief(ing));
  const [ip, port] = env.ingressAddress.split(':');
  const other = await probe({ kind: 'http', url: `http://${ip}:${port}/`, hostHeader: `other-${apiHost()}`, viaProxy: true }, 'local');
  assert.deepEqual([other.ok, other.reason, other.httpStatus], [false, 'IngressRouteNotAnswering', 404], `Traefik's own 404: ${other.detail} ${other.excerpt}`);
});

test('the Deployment scaled to zero: every Service row is waiting NoEndpoints, the Ingress row waiting', async () => {
  mustKubectl(['-n', ns, 'scale', 'deployment/pages', '--replicas=0']);
  const rows = await settled((e) => e.state === 'ready' || e.state === 'starting');
  console.log(`# status: ${JSON.stringify(rows.map(brief), null, 1)}`);
  for (const e of rows.filter((r) => r.kind === 'k8s-service')) assert.deepEqual([e.state, e.reason, e.answering], ['waiting', 'NoEndpoints', false], brief(e));
  assert.deepEqual(rows.filter((r) => r.kind !== 'k8s-service').map((e) => [e.kind, e.state, e.answering]), [['k8s-ingress', 'waiting', false]]);
});
