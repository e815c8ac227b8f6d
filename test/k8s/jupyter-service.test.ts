// The real Jupyter image behind a ClusterIP Service and an Ingress (not the test server): its `/`
// answers 302 to the login page, its API 403 without a session, its login page 200 HTML. `envserve
// up --runtime k8s` creates the Deployment, the Service and the Ingress; status must call both
// rows ready (any answer of the app counts, never parsed), and real bytes from Jupyter must come
// through the ClusterIP (inside the cluster's network) and through the Ingress (Host header).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { BIN, envserve } from '../helpers/cli.js';
import { curlInNetns, httpRequest } from './cluster.js';
import { env, rand, writeEnvFile, createNamespace, deleteNamespace, kubectlJson, ownedObjects, waitReadyPod, eventually } from './expose-lib.js';

const PASSWORD = `pw-${rand()}`;
let ns: string;
let child: ChildProcess | undefined;
let out = '';

before(() => {
  ns = createNamespace('es-nbsvc');
});
after(async () => {
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  deleteNamespace(ns);
});

interface Row { kind: string; state: string; reason: string; answering?: boolean; httpStatus?: number; message?: string }

test('the real Jupyter behind a ClusterIP Service and an Ingress: both rows ready, its own answers through both', { timeout: 600_000 }, async () => {
  const envName = `nbs-${rand()}`;
  const host = `${envName}.nb.test`;
  const file = writeEnvFile(envName, `
def build():
    base(image="envserve.test/notebook:1")
    config.jupyter(password="${PASSWORD}")
def serve():
    cloud.k8s.bind(env_port=presets.jupyter.port, type=cloud.k8s.clusterIP, service_port=8888, access="public", ingress=cloud.k8s.ingress(host="${host}"))
`);
  const vars = { KUBECONFIG: env.kubeconfig };
  child = spawn(process.execPath, [BIN, 'up', '--runtime', 'k8s', '-n', ns, '-f', file], { env: { ...process.env, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await eventually(async () => assert.match(out, /Press Ctrl-C/), 240_000, 200);
  await waitReadyPod(ns, `envserve.dev/env=${envName}`, undefined, 180_000);

  // The settle point: the Ingress admitted and routed (Jupyter's login page through it).
  const [ip, port] = env.ingressAddress.split(':');
  const login = await eventually(async () => {
    const r = await httpRequest(ip!, Number(port), { hostHeader: host, path: '/login' });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    return r;
  }, 60_000, 250);
  assert.match(String(login.headers['content-type']), /text\/html/);
  assert.match(login.body.toString(), /password/i, "Jupyter's own login page through the Ingress");
  const api = await httpRequest(ip!, Number(port), { hostHeader: host, path: '/api/contents' });
  assert.equal(api.status, 403, "Jupyter's API refuses a client with no session, through the Ingress");
  const root = await httpRequest(ip!, Number(port), { hostHeader: host, path: '/' });
  assert.equal(root.status, 302, 'Jupyter redirects / (to /lab, which asks for the login)');

  // The ClusterIP, from inside the cluster's network: the same app.
  const svc = kubectlJson(['-n', ns, 'get', 'svc', '-l', `envserve.dev/env=${envName}`]).items[0];
  const page = curlInNetns(env.netns, `http://${svc.spec.clusterIP}:8888/login`);
  assert.match(page, /password/i, "Jupyter's login page through the ClusterIP");

  // status: the Service (probed through the API server's proxy: Jupyter's 302) and the Ingress are ready.
  const st = envserve(['status', '-f', file, '-o', 'json'], { env: vars });
  assert.equal(st.code, 0, st.stderr);
  const rows = (JSON.parse(st.stdout) as { exposures: Row[] }).exposures;
  const service = rows.find((r) => r.kind === 'k8s-service');
  const ingress = rows.find((r) => r.kind === 'k8s-ingress');
  assert.deepEqual([service?.state, service?.reason, service?.answering], ['ready', 'Ready', true], st.stdout);
  assert.deepEqual([ingress?.state, ingress?.reason], ['ready', 'Ready'], st.stdout);
  assert.doesNotMatch(st.stdout + out, new RegExp(PASSWORD), 'the password is never printed');

  // down removes what up created; up ends.
  const d = envserve(['down', '-f', file, '--runtime', 'k8s', '-n', ns], { env: vars });
  assert.equal(d.code, 0, d.stderr);
  const code = await new Promise((r) => (child!.exitCode !== null ? r(child!.exitCode) : child!.once('exit', r)));
  assert.equal(code, 0, out);
  assert.deepEqual(ownedObjects(ns, envName), []);
});
