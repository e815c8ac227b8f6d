// Issue 22 in a real browser: `envserve open URL` (bearer-token kubeconfig, identity attested by the
// API server) hands Chromium a one-time login link; the login gateway trades it for a session
// cookie and redirects to the URL without the ticket; the app's page and its WebSocket work. A
// browser without the login gets the page naming the command (the app sees nothing); the same
// link a second time is refused. The gateway runs in this process in front of a local app (plain
// HTTP on 127.0.0.1, a name mapped by Chromium's host resolver); the operator deploying it behind
// Traefik over HTTPS is share-operator.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { WebSocketServer } from 'ws';
import { chromium, type BrowserContext } from 'playwright-core';
import { env, createNamespace, deleteNamespace, mustKubectl } from '../../k8s/expose-lib.js';
import { runCli } from '../../local/cli-helpers.js';
import { waitForLoginAdmission } from '../../k8s/share-lib.js';
import { loadKubeClient, type KubeClient } from '../../../src/apply/k8s/client.js';
import { loginManifests } from '../../../src/operator/login/manifests.js';
import { KeyRing } from '../../../src/operator/login/keys.js';
import { sarAuthorizer } from '../../../src/operator/login/authorize.js';
import { LoginGateway, type GatewayRoute } from '../../../src/operator/login/gateway.js';

const dir = mkdtempSync(join(tmpdir(), 'envserve-share-browser-'));
const admin = YAML.parse(readFileSync(env.kubeconfig, 'utf8'));
const HOST = 'lab-shr.apps.share.test';
let ns: string;
let kcA: string;
let operatorClient: KubeClient;
let app: http.Server;
let gw: LoginGateway;
let port: number;
const appSeen: string[] = [];
const opened = join(dir, 'opened-url');
const browserCmd = join(dir, 'browser.sh');
let profile: string;
let ctx: BrowserContext;

const PAGE = `<!doctype html><title>lab</title><p id="hello">the app</p><p id="ws">…</p>
<script>const w = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
w.onopen = () => w.send('hello'); w.onmessage = (m) => { document.getElementById('ws').textContent = m.data; };</script>`;

async function newContext(): Promise<BrowserContext> {
  profile = mkdtempSync(join(tmpdir(), 'envserve-chromium-'));
  return chromium.launchPersistentContext(profile, {
    executablePath: process.env.ENVSERVE_TEST_CHROMIUM!,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', `--host-resolver-rules=MAP ${HOST} 127.0.0.1`],
  });
}

before(async () => {
  assert.ok(process.env.ENVSERVE_TEST_CHROMIUM, 'run through `node scripts/run-tests.mjs test/ui/...` (it sets up Chromium)');
  mustKubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: loginManifests() }));
  mustKubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd/logins.envserve.dev']);
  ns = createNamespace('share-browser');
  mustKubectl(['-n', ns, 'create', 'serviceaccount', 'sa-a']);
  mustKubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'exposure-reader', namespace: ns }, rules: [{ apiGroups: ['envserve.dev'], resources: ['exposuresets'], verbs: ['get'] }] }));
  mustKubectl(['-n', ns, 'create', 'rolebinding', 'a-reads', '--role=exposure-reader', `--serviceaccount=${ns}:sa-a`]);
  kcA = join(dir, 'a.kubeconfig');
  const token = mustKubectl(['-n', ns, 'create', 'token', 'sa-a', '--duration=1h']).trim();
  writeFileSync(kcA, YAML.stringify({ ...admin, users: [{ name: 'u', user: { token } }], contexts: [{ name: 'c', context: { cluster: admin.clusters[0].name, user: 'u' } }], 'current-context': 'c' }), { mode: 0o600 });
  writeFileSync(browserCmd, `#!/bin/sh\nprintf '%s' "$1" > ${opened}\n`);
  chmodSync(browserCmd, 0o755);
  operatorClient = loadKubeClient({ kubeconfig: env.kubeconfig });
  const a = loadKubeClient({ kubeconfig: kcA });
  try {
    await waitForLoginAdmission(a, HOST);
  } finally {
    a.close();
  }
  app = http.createServer((req, res) => {
    appSeen.push(req.url!);
    res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
  });
  new WebSocketServer({ server: app }).on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m}`)));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  const route: GatewayRoute = {
    host: HOST, setUid: 'uid-1', accessGeneration: 1, namespace: ns, setName: 'lab', access: 'namespace',
    upstream: { host: '127.0.0.1', port: (app.address() as net.AddressInfo).port }, tls: false, sessionLifetimeMs: 3_600_000,
  };
  const keys = KeyRing.fresh();
  gw = new LoginGateway({ routes: (h) => (h === HOST ? route : undefined), keys: () => keys, api: operatorClient, authorize: sarAuthorizer(operatorClient, { ttlMs: 5_000 }) });
  port = await gw.listen(0);
  ctx = await newContext();
});

after(async () => {
  await ctx?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await gw?.close();
  app?.closeAllConnections();
  app?.close();
  operatorClient?.close();
  if (ns) deleteNamespace(ns);
  mustKubectl(['delete', 'logins', '--all', '--ignore-not-found']);
});

test('envserve open → Chromium logs in, lands on the URL without the ticket, and the app\'s page and WebSocket work; the link works once', async () => {
  const target = `http://${HOST}:${port}/lab?tab=1`;
  const t0 = Date.now();
  const r = await runCli(['open', target, '--kubeconfig', kcA], { BROWSER: browserCmd }, 60_000);
  assert.equal(r.code, 0, r.stderr);
  const link = readFileSync(opened, 'utf8');
  const ticket = new URL(link).searchParams.get('ticket')!;
  assert.ok(ticket && !r.stdout.includes(ticket) && !r.stderr.includes(ticket), 'the ticket is handed to the browser, never printed');
  assert.match(r.stderr, new RegExp(`logging in to http://${HOST.replace(/\./g, '\\.')}:${port} as system:serviceaccount:${ns}:sa-a`));
  const page = ctx.pages()[0] ?? (await ctx.newPage());
  await page.goto(link);
  assert.equal(page.url(), target, 'redirected to the URL asked for, without the ticket');
  assert.equal(await page.textContent('#hello'), 'the app');
  await page.waitForFunction("document.getElementById('ws')?.textContent === 'echo hello'", undefined, { timeout: 10_000 });
  const flowMs = Date.now() - t0;
  assert.ok(flowMs < 10_000, `open → page shown in ${flowMs} ms`);
  console.log(`# login flow (open command → app page shown): ${flowMs} ms`);
  const cookies = await ctx.cookies(`http://${HOST}:${port}`);
  assert.deepEqual(cookies.map((c) => [c.name, c.httpOnly, c.sameSite]), [['envserve-session', true, 'Lax']]);

  // the same link again, in a browser without the session: refused, the app sees nothing
  const other = await newContext();
  try {
    const p2 = other.pages()[0] ?? (await other.newPage());
    const seen = appSeen.length;
    const again = await p2.goto(link);
    assert.equal(again!.status(), 403);
    assert.match((await p2.textContent('body'))!, /already used/);
    const none = await p2.goto(`http://${HOST}:${port}/lab/<b>x</b>`);
    assert.equal(none!.status(), 401);
    assert.match((await p2.textContent('pre'))!, new RegExp(`^envserve open http://${HOST.replace(/\./g, '\\.')}:${port}/lab/%3Cb%3Ex%3C/b%3E$`));
    assert.equal(await p2.$('b'), null, 'the path is escaped, not markup');
    assert.equal(appSeen.length, seen, 'the app saw no request from the browser without a session');
  } finally {
    await other.close();
  }
});
