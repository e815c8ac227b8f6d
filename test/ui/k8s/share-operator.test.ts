// Issue 22 end to end, as users get it: the operator installed from `envserve operator manifests`
// (two replicas on the real node, its login gateway on its own port) makes the Ingress of a
// `namespace`-level exposure in its own namespace, pointing at the gateway; Traefik serves it over
// HTTPS with a certificate of the test CA; the gateway forwards to a real testsrv pod (a page and
// a WebSocket echo, logging every request it gets). In Chromium: A (bearer token), B (exec
// credential plugin) and C (client certificate) run `envserve open URL` and get the page and a
// working WebSocket; D (no rights in the namespace) is refused; a browser without a login gets the
// page naming the command and the pod logs no request. Revocation: removing B's RoleBinding cuts
// B's open WebSocket; deleting the leader's pod keeps A's session valid on every replica and a
// used link refused; deleting the ExposureSet cuts A's open WebSocket — each within 60 s. The same
// exposure's HTTPRoute on Traefik's Gateway goes through the gateway the same way.
// One operator install for the whole file; the gateway re-checks open connections every 2 s here
// (--login-recheck; 15 s by default).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { eventually, kubectl } from '../../k8s/cluster.js';
import { env, kubectlJson, mustKubectl } from '../../k8s/expose-lib.js';
import { apply, manifests, OPERATOR_IMAGE, lease } from '../../k8s/operator-lib.js';
import { applyLabSet, labIngress, loginUsers, waitSetReady } from '../../k8s/share-lib.js';
import { httpsGet, issueCert, tlsEnv, tlsSecret } from '../../k8s/tls-lib.js';
import { loadKubeClient } from '../../../src/apply/k8s/client.js';
import { appRequests as requestsIn, deployLab, launchChromium, loginAdmitted, opener, removeOperatorInstall, wsCutWithin60s, wsEcho } from './share-ui.js';

const OP_NS = 'envserve-system';
const OP_USER = `system:serviceaccount:${OP_NS}:envserve-operator`;
const T = tlsEnv();
const HOST = `lab-${Date.now().toString(36)}.apps.share.test`;
const BASE = `https://${HOST}${T.httpsPort === 443 ? '' : `:${T.httpsPort}`}`;
// The same app through an HTTPRoute on Traefik's Gateway (its HTTPS listener, a wildcard certificate of the test CA).
const GATEWAY = process.env.ENVSERVE_TEST_GATEWAY ?? 'envserve-gateway/envserve';
const ROUTE_HOST = `lab-${Date.now().toString(36)}.${process.env.ENVSERVE_TEST_GATEWAY_DOMAIN ?? 'gw.envserve.test'}`;
const ROUTE_BASE = `https://${ROUTE_HOST}${T.httpsPort === 443 ? '' : `:${T.httpsPort}`}`;
const t0 = Date.now();
let ns: string;
let kc: Record<'A' | 'B' | 'C' | 'D', string>;
let browser: Browser;
const contexts: BrowserContext[] = [];
const open = opener(mkdtempSync(join(tmpdir(), 'envserve-share-op-')));
const appRequests = () => requestsIn(ns);

async function newPage(): Promise<Page> {
  const ctx = await browser.newContext();
  contexts.push(ctx);
  return ctx.newPage();
}

/** `envserve open` with this kubeconfig; returns the one-time link it handed to the "browser". */
const openCommand = (who: keyof typeof kc, path = '/', base = BASE) => open(`${base}${path}`, kc[who]);

before(async () => {
  // The operator as users install it, with a short re-check for the test.
  const objs = manifests(['--image', OPERATOR_IMAGE, '--image-pull-policy', 'Never']);
  const dep = objs.find((o) => o.kind === 'Deployment');
  dep.spec.template.spec.containers[0].args.push('--login-recheck', '2');
  mustKubectl(['-n', OP_NS, 'delete', 'lease', 'envserve-operator', '--ignore-not-found']);
  apply(objs);
  ({ ns, kubeconfigs: kc } = loginUsers('share-op'));
  // The app: a real pod on the node serving a page on / and a WebSocket echo on /ws, logging requests.
  deployLab(ns);
  // The certificate for the host lives in the operator's namespace, beside the login Ingress.
  const cert = issueCert(HOST);
  tlsSecret(env.kubeconfig, OP_NS, 'share-op-tls', cert);
  const [gwNs, gwName] = GATEWAY.split('/') as [string, string];
  const gwCert = Buffer.from(kubectlJson(['-n', gwNs, 'get', 'secret', 'gateway-wildcard-tls']).data['tls.crt'], 'base64').toString();
  applyLabSet(ns, [
    labIngress('ingress-lab', HOST, 'share-op-tls', 'namespace'),
    { id: 'route-lab', kind: 'k8s-route', envPort: 8080, protocol: 'http', position: 'build.envd:4:5', declaredBy: 'cloud.k8s.bind', serviceId: 'service-lab', servicePort: 80, host: ROUTE_HOST, path: '/', gateway: { namespace: gwNs, name: gwName }, https: true, access: 'namespace' },
  ]);
  await loginAdmitted(kc.A, HOST);
  await waitSetReady(ns, 'lab', OP_NS);
  // Traefik writes the Ingress's address a moment before it routes the host over HTTPS; the
  // certificate must be the host's own (the test CA's, verified), not Traefik's default.
  await eventually(async () => {
    const r = await httpsGet(T.httpsAddress, T.httpsPort, HOST, { path: '/' });
    if (r.status !== 401 || r.subject !== HOST) throw new Error(`HTTP ${r.status}, certificate for ${r.subject}`);
    const viaRoute = await httpsGet(T.httpsAddress, T.httpsPort, ROUTE_HOST, { path: '/' });
    if (viaRoute.status !== 401) throw new Error(`through the HTTPRoute: HTTP ${viaRoute.status}`);
  }, 30_000, 200);
  browser = await launchChromium([HOST, ROUTE_HOST], T.httpsAddress, [cert.cert, gwCert]);
  console.log(`# share-operator: set-up ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

after(async () => {
  for (const c of contexts) await c.close().catch(() => undefined);
  await browser?.close();
  removeOperatorInstall({ operatorNs: OP_NS, tlsSecret: 'share-op-tls', ns });
  console.log(`share-operator.test.ts: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
});

test('the login Ingress is in the operator\'s namespace and points at the gateway; the gateway\'s rights are what it needs', async () => {
  const ing = kubectlJson(['-n', OP_NS, 'get', 'ingress', `${ns}.lab-lab`]);
  assert.deepEqual(ing.spec.rules[0].http.paths.map((p: any) => p.backend.service.name), ['envserve-login']);
  assert.equal(ing.metadata.annotations['envserve.dev/upstream'], `lab-lab.${ns}.svc:80`);
  assert.equal(kubectl(env.kubeconfig, ['-n', ns, 'get', 'ingress', '-o', 'name']).stdout.trim(), '', 'no open Ingress in the user\'s namespace');
  const c = loadKubeClient({ kubeconfig: env.kubeconfig });
  try {
    const sar = async (verb: string, resource: string, attrs: Record<string, string>) => (await c.request<any>('/apis/authorization.k8s.io/v1/subjectaccessreviews', { method: 'POST', body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: OP_USER, resourceAttributes: { verb, resource, ...attrs } } } })).status.allowed === true;
    const table: [string, string, Record<string, string>, boolean][] = [
      ['get', 'secrets', { namespace: OP_NS, name: 'envserve-session-keys' }, true],
      ['update', 'secrets', { namespace: OP_NS, name: 'envserve-session-keys' }, true],
      ['get', 'secrets', { namespace: OP_NS, name: 'share-op-tls' }, false],
      ['list', 'secrets', { namespace: OP_NS }, false],
      ['get', 'logins', { group: 'envserve.dev', name: 'x' }, true],
      ['delete', 'logins', { group: 'envserve.dev', name: 'x' }, true],
      ['update', 'logins', { group: 'envserve.dev', name: 'x' }, false],
      ['watch', 'exposuresets', { group: 'envserve.dev' }, true],
      ['create', 'subjectaccessreviews', { group: 'authorization.k8s.io' }, true],
    ];
    const wrong = [];
    for (const [verb, resource, attrs, want] of table) if ((await sar(verb, resource, attrs)) !== want) wrong.push(`${verb} ${resource} ${JSON.stringify(attrs)}: want ${want}`);
    assert.deepEqual(wrong, []);
  } finally {
    c.close();
  }
});

let pageA: Page;
let usedLinkA: string;

test('A (token), B (exec plugin) and C (client certificate) open the URL in Chromium over HTTPS: the page and its WebSocket work; D is refused; without a login the pod sees nothing', async () => {
  const before = appRequests().length;
  const none = await newPage();
  const r = await none.goto(`${BASE}/lab/<b>`);
  assert.equal(r!.status(), 401);
  assert.equal(await none.textContent('pre'), `envserve open ${BASE}/lab/%3Cb%3E`);
  assert.equal(appRequests().length, before, 'the pod logged no request from the browser without a login');

  const d = await newPage();
  const dr = await d.goto(await openCommand('D'));
  assert.equal(dr!.status(), 403);
  assert.match((await d.textContent('body'))!, new RegExp(`system:serviceaccount:${ns}:sa-d may not open this exposure`));
  assert.equal(appRequests().length, before, 'nor from D');

  for (const who of ['A', 'B', 'C'] as const) {
    const t = Date.now();
    const page = await newPage();
    const link = await openCommand(who, '/?tab=1');
    await page.goto(link);
    assert.equal(page.url(), `${BASE}/?tab=1`, `${who}: redirected to the URL asked for, without the ticket`);
    assert.match((await page.textContent('body'))!, new RegExp(`served by ${ns}/lab-`), who);
    assert.equal(await wsEcho(page, `hi ${who}`), `hi ${who}`, who);
    console.log(`# ${who}: open command → page and WebSocket in ${Date.now() - t} ms`);
    const cookies = await page.context().cookies(BASE);
    assert.deepEqual(cookies.map((c) => [c.name, c.secure, c.httpOnly, c.sameSite]), [['__Host-envserve-session', true, true, 'Lax']], who);
    if (who === 'A') [pageA, usedLinkA] = [page, link];
    if (who === 'B') pageB = page;
  }
  assert.ok(appRequests().some((l) => l.startsWith('request GET /ws')), 'the WebSockets reached the pod');
});

let pageB: Page;

test('the same through the HTTPRoute (in the operator\'s namespace, on Traefik\'s Gateway): no login → the command page; A opens it, page and WebSocket work', async () => {
  const route = kubectlJson(['-n', OP_NS, 'get', 'httproute', `${ns}.lab-lab`]);
  assert.deepEqual(route.spec.rules[0].backendRefs.map((b: any) => b.name), ['envserve-login']);
  const n = appRequests().length;
  const none = await newPage();
  assert.equal((await none.goto(`${ROUTE_BASE}/`))!.status(), 401);
  assert.equal(appRequests().length, n);
  const page = await newPage();
  await page.goto(await openCommand('A', '/', ROUTE_BASE));
  assert.equal(page.url(), `${ROUTE_BASE}/`);
  assert.match((await page.textContent('body'))!, new RegExp(`served by ${ns}/lab-`));
  assert.equal(await wsEcho(page, 'via the route'), 'via the route');
});

test('removing B\'s RoleBinding cuts B\'s open WebSocket within 60 s and B\'s next request gets the login page; A is unaffected', async () => {
  const t = Date.now();
  mustKubectl(['-n', ns, 'delete', 'rolebinding', 'b-reads']);
  const ms = await wsCutWithin60s(pageB, t);
  console.log(`# B's WebSocket cut ${ms} ms after the RoleBinding went`);
  assert.equal((await pageB.reload())!.status(), 401);
  assert.equal((await pageA.reload())!.status(), 200);
});

test('the leader\'s pod deleted: A\'s session holds on every replica (one key in the Secret), and A\'s used link is still refused', async () => {
  const leader = lease(OP_NS).pod;
  assert.ok(leader, 'a replica leads');
  mustKubectl(['-n', OP_NS, 'delete', 'pod', leader, '--grace-period=0', '--force', '--wait=false']);
  // The replacement pod (which never saw A's login: it has the key from the Secret only) serves
  // the gateway beside the survivor; Traefik balances between the two.
  await eventually(async () => {
    const slices = kubectlJson(['-n', OP_NS, 'get', 'endpointslices', '-l', 'kubernetes.io/service-name=envserve-login']).items;
    const ready = slices.flatMap((x: any) => x.endpoints ?? []).filter((e: any) => e.conditions?.ready).map((e: any) => e.targetRef?.name);
    if (ready.length !== 2 || ready.includes(leader)) throw new Error(`gateway endpoints: ${ready.join(', ')}`);
  }, 45_000, 250);
  await eventually(async () => {
    for (let i = 0; i < 8; i++) {
      const r = await pageA.reload();
      if (r!.status() !== 200) throw new Error(`HTTP ${r!.status()}`);
    }
  }, 45_000, 250);
  const other = await newPage();
  const again = await other.goto(usedLinkA);
  assert.equal(again!.status(), 403);
  assert.match((await other.textContent('body'))!, /already used/);
});

test('deleting the ExposureSet cuts A\'s open WebSocket within 60 s; the URL no longer reaches the app', async () => {
  assert.equal(await wsEcho(pageA, 'still here'), 'still here');
  const t = Date.now();
  mustKubectl(['-n', ns, 'delete', 'exposureset', 'lab', '--wait=false']);
  const ms = await wsCutWithin60s(pageA, t);
  console.log(`# A's WebSocket cut ${ms} ms after the ExposureSet was deleted`);
  const n = appRequests().length;
  const r = await pageA.reload();
  assert.notEqual(r!.status(), 200);
  assert.equal(appRequests().length, n);
});
