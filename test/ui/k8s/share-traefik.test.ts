// Issue 22, `--login-check traefik`: the operator installed from `envserve operator manifests
// --login-check traefik`, Traefik running envserve's check (traefik-plugin/, a local plugin) as a
// Middleware. For a `namespace`-level Ingress the operator keeps the login Ingress (→ the gateway)
// and adds the fast route: the user's Ingress → the app's Service, behind the check. In Chromium
// over HTTPS: without a login the check sends the request to the gateway (the command page, the
// pod sees nothing); A runs `envserve open` and gets the page, a WebSocket (which the check hands
// to the gateway) and a pass; the pass alone — no session cookie, which the gateway would insist
// on — opens the page, so the request went straight to the app; the app never sees envserve's
// cookies; a forged or expired pass gets the command page; B losing the right is refused within
// two re-check intervals and B's WebSocket cut; deleting the ExposureSet removes the fast route
// and its Middleware and cuts A's WebSocket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Cookie, Page } from 'playwright-core';
import { eventually, kubectl } from '../../k8s/cluster.js';
import { env, kubectlJson, mustKubectl } from '../../k8s/expose-lib.js';
import { apply, manifests, OPERATOR_IMAGE } from '../../k8s/operator-lib.js';
import { applyLabSet, labIngress, loginUsers, waitSetReady } from '../../k8s/share-lib.js';
import { httpsGet, issueCert, tlsEnv, tlsSecret } from '../../k8s/tls-lib.js';
import { checkName } from '../../../src/operator/login/ingress.js';
import { appRequests as requestsIn, deployLab, launchChromium, loginAdmitted, opener, removeOperatorInstall, wsCutWithin60s, wsEcho } from './share-ui.js';

const OP_NS = 'envserve-system';
const T = tlsEnv();
const HOST = `fast-${Date.now().toString(36)}.apps.share.test`;
const BASE = `https://${HOST}${T.httpsPort === 443 ? '' : `:${T.httpsPort}`}`;
/** The gateway's re-check interval here, so also a pass's lifetime. */
const RECHECK_S = 4;
const t0 = Date.now();
const open = opener(mkdtempSync(join(tmpdir(), 'envserve-share-traefik-')));
let ns: string;
let kc: Record<'A' | 'B' | 'C' | 'D', string>;
let browser: Browser;
const contexts: BrowserContext[] = [];
const appRequests = () => requestsIn(ns);

async function newPage(cookies: Cookie[] = []): Promise<Page> {
  const ctx = await browser.newContext();
  contexts.push(ctx);
  if (cookies.length) await ctx.addCookies(cookies);
  return ctx.newPage();
}

before(async () => {
  const objs = manifests(['--image', OPERATOR_IMAGE, '--image-pull-policy', 'Never', '--login-check', 'traefik']);
  objs.find((o) => o.kind === 'Deployment').spec.template.spec.containers[0].args.push('--login-recheck', String(RECHECK_S));
  mustKubectl(['-n', OP_NS, 'delete', 'lease', 'envserve-operator', '--ignore-not-found']);
  apply(objs);
  ({ ns, kubeconfigs: kc } = loginUsers('share-traefik'));
  deployLab(ns);
  const cert = issueCert(HOST);
  tlsSecret(env.kubeconfig, OP_NS, 'share-traefik-tls', cert);
  applyLabSet(ns, [labIngress('ingress-lab', HOST, 'share-traefik-tls', 'namespace')]);
  await loginAdmitted(kc.A, HOST);
  await waitSetReady(ns, 'lab', OP_NS);
  await eventually(async () => {
    const r = await httpsGet(T.httpsAddress, T.httpsPort, HOST, { path: '/' });
    if (r.status !== 401 || r.subject !== HOST) throw new Error(`HTTP ${r.status}, certificate for ${r.subject}`);
  }, 30_000, 200);
  browser = await launchChromium([HOST], T.httpsAddress, [cert.cert]);
  console.log(`# share-traefik: set-up ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  removeOperatorInstall({ operatorNs: OP_NS, tlsSecret: 'share-traefik-tls', ns });
  console.log(`share-traefik.test.ts: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('the operator keeps the login Ingress (→ the gateway) and adds the check\'s Middleware and the fast route (→ the app, behind the check)', () => {
  const name = `${ns}.lab-lab`;
  const login = kubectlJson(['-n', OP_NS, 'get', 'ingress', name]);
  assert.deepEqual(login.spec.rules[0].http.paths.map((p: any) => p.backend.service.name), ['envserve-login']);
  assert.equal(login.metadata.annotations['envserve.dev/pass'], 'true');
  const mw = kubectlJson(['-n', OP_NS, 'get', 'middlewares.traefik.io', checkName(name)]);
  const conf = mw.spec.plugin['envserve-login'];
  const set = kubectlJson(['-n', ns, 'get', 'exposureset', 'lab']);
  assert.deepEqual([conf.host, conf.setUid, conf.generation, conf.tls, conf.key], [HOST, set.metadata.uid, login.metadata.annotations['envserve.dev/access-generation'], true, 'urn:k8s:secret:envserve-login-pass:key']);
  assert.match(conf.gateway, /^http:\/\/[\d.]+:80$/);
  const fast = kubectlJson(['-n', ns, 'get', 'ingress', 'lab-lab']);
  assert.equal(fast.metadata.annotations['traefik.ingress.kubernetes.io/router.middlewares'], `${OP_NS}-${checkName(name)}@kubernetescrd`);
  assert.deepEqual(fast.spec.rules[0].http.paths.map((p: any) => p.backend.service.name), ['lab-lab']);
  assert.equal(fast.spec.tls[0].secretName, undefined, 'no TLS Secret of its own: the login Ingress\'s certificate serves the host');
  assert.equal(fast.metadata.ownerReferences[0].uid, set.metadata.uid);
});

let pageA: Page;
let passA: Cookie;

test('without a login the check hands the request to the gateway: the command page, and the pod sees nothing', async () => {
  const before = appRequests().length;
  const none = await newPage();
  const r = await none.goto(`${BASE}/x?y=<b>`);
  assert.equal(r!.status(), 401);
  assert.equal(await none.textContent('pre'), `envserve open ${BASE}/x?y=%3Cb%3E`);
  assert.equal(appRequests().length, before);
});

test('A opens the URL: the page, a WebSocket through the gateway, a session cookie and a pass; the app never sees either', async () => {
  const t = Date.now();
  pageA = await newPage();
  await pageA.context().addCookies([{ name: 'theme', value: 'dark', url: BASE }]);
  await pageA.goto(await open(`${BASE}/`, kc.A));
  assert.equal(pageA.url(), `${BASE}/`);
  assert.match((await pageA.textContent('body'))!, new RegExp(`served by ${ns}/lab-`));
  assert.equal(await wsEcho(pageA, 'hi'), 'hi');
  console.log(`# A: open command → page and WebSocket in ${Date.now() - t} ms`);
  const cookies = await pageA.context().cookies(BASE);
  assert.deepEqual(cookies.filter((c) => c.name !== 'theme').map((c) => [c.name, c.secure, c.httpOnly, c.sameSite]).sort(), [['__Host-envserve-pass', true, true, 'Lax'], ['__Host-envserve-session', true, true, 'Lax']]);
  passA = cookies.find((c) => c.name === '__Host-envserve-pass')!;
  assert.ok(passA.expires * 1000 <= Date.now() + RECHECK_S * 1000 + 1500, `the pass lasts the re-check interval: expires ${passA.expires}`);
  assert.equal((await pageA.goto(`${BASE}/cookies`))!.status(), 200);
  assert.equal((await pageA.textContent('body'))!.trim(), 'theme=dark');
});

test('a fresh pass alone opens the page (the gateway would want the session cookie: the check let it through); a forged one gets the command page', async () => {
  // A pass with some life left (once A's expires, A's next request goes to the gateway, which
  // hands out a new one), alone in a fresh browser. Traefik builds the fast route once the app's
  // Service has a ready endpoint, a moment after the login Ingress answers: until then the
  // gateway serves the host and refuses a pass without a session.
  let n = 0;
  const { pass, only } = await eventually(async () => {
    assert.equal((await pageA.goto(`${BASE}/`))!.status(), 200);
    const p = (await pageA.context().cookies(BASE)).find((c) => c.name === '__Host-envserve-pass');
    if (!p || Number(p.value.split('.')[0]) * 1000 - Date.now() < 2000) throw new Error('no pass with 2 s left yet');
    n = appRequests().length;
    const page = await newPage([p]);
    const r = await page.goto(`${BASE}/cookies`);
    if (r!.status() !== 200) throw new Error(`the pass alone got HTTP ${r!.status()}`);
    return { pass: p, only: page };
  }, 15_000, 300);
  assert.equal((await only.textContent('body'))!.trim(), '', 'the pass alone is let through by Traefik, without envserve\'s cookies');
  assert.equal(appRequests().length, n + 1);
  const [exp, mac] = pass.value.split('.') as [string, string];
  const forged = [
    { ...pass, value: `${Number(exp) + 3600}.${mac}` },
    { ...pass, value: `${exp}.${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}` },
  ];
  for (const f of forged) {
    const p = await newPage([{ ...f, expires: -1 }]);
    assert.equal((await p.goto(`${BASE}/`))!.status(), 401, f.value);
  }
  assert.equal(appRequests().length, n + 1, 'the forged passes reached nothing');
});

test('an expired pass alone gets the command page; with the session cookie the gateway lets A through and hands out a new pass', async () => {
  const old = passA;
  // Past the pass's own expiry (the MAC covers it), sent as a cookie the browser still holds.
  await new Promise((r) => setTimeout(r, Math.max(0, Number(old.value.split('.')[0]) * 1000 - Date.now()) + 200));
  const only = await newPage([{ ...old, expires: -1 }]);
  assert.equal((await only.goto(`${BASE}/`))!.status(), 401);
  assert.equal((await pageA.goto(`${BASE}/`))!.status(), 200);
  const again = (await pageA.context().cookies(BASE)).find((c) => c.name === '__Host-envserve-pass')!;
  assert.ok(again.expires > old.expires, 'a new pass');
});

test('removing B\'s RoleBinding: B\'s plain requests stop within two re-check intervals (the pass, then the gateway\'s check), and B\'s WebSocket is cut; A is unaffected', async () => {
  const pageB = await newPage();
  await pageB.goto(await open(`${BASE}/`, kc.B));
  assert.match((await pageB.textContent('body'))!, new RegExp(`served by ${ns}/lab-`));
  assert.equal(await wsEcho(pageB, 'hi B'), 'hi B');
  const t = Date.now();
  mustKubectl(['-n', ns, 'delete', 'rolebinding', 'b-reads']);
  console.log(`# B's WebSocket cut ${await wsCutWithin60s(pageB, t)} ms after the RoleBinding went`);
  await eventually(async () => {
    const r = await pageB.reload();
    if (r!.status() !== 401) throw new Error(`HTTP ${r!.status()}`);
  }, 2 * RECHECK_S * 1000 + 5000, 250);
  console.log(`# B's page refused ${Date.now() - t} ms after the RoleBinding went (passes last ${RECHECK_S} s here)`);
  assert.equal((await pageA.reload())!.status(), 200);
});

test('deleting the ExposureSet removes the fast route and its Middleware and cuts A\'s WebSocket; the URL no longer reaches the app', async () => {
  await pageA.goto(`${BASE}/`);
  assert.equal(await wsEcho(pageA, 'still here'), 'still here');
  const t = Date.now();
  mustKubectl(['-n', ns, 'delete', 'exposureset', 'lab', '--wait=false']);
  console.log(`# A's WebSocket cut ${await wsCutWithin60s(pageA, t)} ms after the ExposureSet was deleted`);
  await eventually(async () => {
    const left = [kubectl(env.kubeconfig, ['-n', OP_NS, 'get', 'middlewares.traefik.io', '-l', 'envserve.dev/login=true', '-o', 'name']).stdout.trim(), kubectl(env.kubeconfig, ['-n', ns, 'get', 'ingress', '-o', 'name']).stdout.trim()].filter(Boolean);
    if (left.length) throw new Error(`left: ${left.join(' ')}`);
  }, 30_000, 250);
  const n = appRequests().length;
  const r = await pageA.reload();
  assert.notEqual(r!.status(), 200);
  assert.equal(appRequests().length, n);
});
