// Issue 22: the login gateway with the real API server deciding who is who and who may. Logins are
// created through a bearer-token (A), an exec-plugin (B) and a client-certificate (C) kubeconfig
// and attested by the admission policy; the gateway redeems them and asks SubjectAccessReview for
// `get` on the ExposureSet (level `namespace`). A, B and C (RoleBinding / cluster admin) get in, and
// a WebSocket through the gateway works; D (no RoleBinding) is refused; removing B's RoleBinding
// cuts B's open WebSocket within the re-check interval; `authenticated` lets D in.
// The gateway runs in this process in front of a local app; the operator deploying it behind
// Traefik is test/ui/k8s/share-operator.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { loginUsers, waitForLoginAdmission } from './share-lib.js';
import { env, deleteNamespace, mustKubectl } from './expose-lib.js';
import { loadKubeClient, type KubeClient } from '../../src/apply/k8s/client.js';
import { loginManifests } from '../../src/operator/login/manifests.js';
import { createLogin } from '../../src/operator/login/flow.js';
import { KeyRing } from '../../src/operator/login/keys.js';
import { sarAuthorizer } from '../../src/operator/login/authorize.js';
import { LoginGateway, type GatewayRoute } from '../../src/operator/login/gateway.js';

const HOST = 'demo-shr.apps.share.test';
let ns: string;
let users: Record<'A' | 'B' | 'C' | 'D', KubeClient>;
let operatorClient: KubeClient;
let app: http.Server;
let gw: LoginGateway;
let gwPort: number;
let route: GatewayRoute;
const appSeen: string[] = [];

function get(path: string, cookie?: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    http.request({ host: '127.0.0.1', port: gwPort, path, headers: { host: HOST, ...(cookie && { cookie }) } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    }).on('error', reject).end();
  });
}

async function logIn(who: KubeClient): Promise<{ status: number; cookie?: string; body: string }> {
  const { ticket } = await createLogin(who, HOST);
  const r = await get(`/.envserve/login?ticket=${ticket}&next=/lab`);
  return { status: r.status, body: r.body, ...(r.headers['set-cookie'] && { cookie: r.headers['set-cookie'][0]!.split(';')[0]! }) };
}

before(async () => {
  mustKubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: loginManifests() }));
  mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/logins.envserve.dev']);
  const u = loginUsers('share-gw');
  ns = u.ns;
  users = {
    A: loadKubeClient({ kubeconfig: u.kubeconfigs.A }),
    B: loadKubeClient({ kubeconfig: u.kubeconfigs.B }), // exec credential plugin
    C: loadKubeClient({ kubeconfig: u.kubeconfigs.C }), // client certificate (cluster admin)
    D: loadKubeClient({ kubeconfig: u.kubeconfigs.D }),
  };
  operatorClient = loadKubeClient({ kubeconfig: env.kubeconfig });
  await waitForLoginAdmission(users.A, HOST);

  app = http.createServer((req, res) => {
    appSeen.push(req.url!);
    res.end(`app ${req.url}`);
  });
  new WebSocketServer({ server: app }).on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m}`)));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  route = {
    host: HOST, setUid: 'uid-1', accessGeneration: 1, namespace: ns, setName: 'demo', access: 'namespace',
    upstream: { host: '127.0.0.1', port: (app.address() as net.AddressInfo).port }, tls: false, sessionLifetimeMs: 3_600_000,
  };
  const keys = KeyRing.fresh();
  gw = new LoginGateway({ routes: (h) => (h === HOST ? route : undefined), keys: () => keys, api: operatorClient, authorize: sarAuthorizer(operatorClient, { ttlMs: 500 }), recheckMs: 1_000 });
  gwPort = await gw.listen(0);
});

after(async () => {
  await gw?.close();
  app?.closeAllConnections();
  app?.close();
  for (const c of Object.values(users ?? {})) c.close();
  operatorClient?.close();
  if (ns) deleteNamespace(ns);
  mustKubectl(['delete', 'logins', '--all', '--ignore-not-found']);
});

test('A (token), B (exec plugin) and C (client certificate) with rights get in and their WebSocket works; D without rights is refused and the app sees nothing', async () => {
  for (const who of ['A', 'B', 'C'] as const) {
    const r = await logIn(users[who]);
    assert.equal(r.status, 303, `${who}: ${r.body}`);
    const page = await get('/lab', r.cookie);
    assert.equal(page.body, 'app /lab', who);
    const ws = new WebSocket(`ws://127.0.0.1:${gwPort}/ws`, { headers: { host: HOST, cookie: r.cookie! }, origin: `http://${HOST}` });
    await new Promise((res, rej) => ws.on('open', res).on('error', rej));
    ws.send(who);
    assert.equal(String(await new Promise((res) => ws.on('message', res))), `echo ${who}`);
    ws.close();
  }
  const seen = appSeen.length;
  const d = await logIn(users.D);
  assert.equal(d.status, 403);
  assert.match(d.body, new RegExp(`system:serviceaccount:${ns}:sa-d may not open this exposure`));
  assert.equal(d.cookie, undefined);
  const none = await get('/lab');
  assert.equal(none.status, 401);
  assert.match(none.body, /envserve open http:\/\/demo-shr\.apps\.share\.test\/lab/);
  assert.equal(appSeen.length, seen, 'no request of D or of the anonymous visitor reached the app');
});

test('removing B\'s RoleBinding cuts B\'s open WebSocket within the re-check interval, and B\'s cookie stops working; A is unaffected', async () => {
  const b = await logIn(users.B);
  const a = await logIn(users.A);
  const ws = new WebSocket(`ws://127.0.0.1:${gwPort}/ws`, { headers: { host: HOST, cookie: b.cookie! }, origin: `http://${HOST}` });
  await new Promise((res, rej) => ws.on('open', res).on('error', rej));
  const closed = new Promise((res) => ws.on('close', res));
  const t0 = Date.now();
  mustKubectl(['-n', ns, 'delete', 'rolebinding', 'b-reads']);
  await closed;
  const ms = Date.now() - t0;
  assert.ok(ms < 60_000, `cut after ${ms} ms`);
  assert.equal((await get('/lab', b.cookie)).status, 401);
  assert.equal((await get('/lab', a.cookie)).status, 200);
});

test('access "authenticated": any identity the API server attests gets in, D included', async () => {
  route = { ...route, access: 'authenticated' };
  const d = await logIn(users.D);
  assert.equal(d.status, 303, d.body);
  assert.equal((await get('/x', d.cookie)).body, 'app /x');
  // lowering the level again bumps the access generation: D's cookie is refused
  route = { ...route, access: 'namespace', accessGeneration: 2 };
  assert.equal((await get('/x', d.cookie)).status, 401);
});
