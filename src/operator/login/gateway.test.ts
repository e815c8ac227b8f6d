// The login gateway against a real app (HTTP + WebSocket on a local port) and an in-memory API
// server for Login objects (delete with uid/resourceVersion preconditions, as the real one): no
// session → the command page and the app sees nothing; a ticket → cookie + redirect without it;
// reuse, another host, a foreign Origin, a stripped cookie; revocation cuts an open WebSocket.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { KubeApiError } from '../../apply/k8s/client.js';
import { LoginGateway, safeNext, type GatewayRoute } from './gateway.js';
import { KeyRing } from './keys.js';
import { formatTicket, newVerifier, verifierHash } from './ticket.js';
import { signPass } from './cookie.js';
import type { Identity } from './flow.js';

const seen: { path: string; cookie?: string }[] = [];
let app: http.Server;
let appPort: number;
let gw: LoginGateway;
let gwPort: number;
const logins = new Map<string, { metadata: Record<string, string>; spec: Record<string, unknown> }>();
let allowed = new Set<string>(['alice']);
let sets = new Map<string, GatewayRoute>();
let rv = 1;

const api = {
  async request<T>(path: string, o: { method?: string; body?: any } = {}): Promise<T> {
    const name = decodeURIComponent(path.split('/').pop()!);
    const l = logins.get(name);
    if (!l) throw new KubeApiError(404, 'NotFound', 'not found', o.method ?? 'GET', path);
    if ((o.method ?? 'GET') === 'GET') return structuredClone(l) as T;
    const pre = o.body?.preconditions;
    if (pre && (pre.uid !== l.metadata.uid || pre.resourceVersion !== l.metadata.resourceVersion)) throw new KubeApiError(409, 'Conflict', 'precondition', 'DELETE', path);
    logins.delete(name);
    return {} as T;
  },
};

function ticketFor(user: string, host: string, createdAt = Date.now()): string {
  const v = newVerifier();
  const name = `login-${rv}`;
  logins.set(name, { metadata: { name, uid: `u${rv}`, resourceVersion: String(rv++), creationTimestamp: new Date(createdAt).toISOString() }, spec: { user, groups: ['system:authenticated'], host, verifierHash: verifierHash(v) } });
  return formatTicket(name, v);
}

const route = (host: string, over: Partial<GatewayRoute> = {}): GatewayRoute => ({
  host, setUid: `uid-${host}`, accessGeneration: 1, namespace: 'team-a', setName: 'demo', access: 'namespace',
  upstream: { host: '127.0.0.1', port: appPort }, tls: true, sessionLifetimeMs: 3_600_000, ...over,
});
const A = 'app-demo.apps.test';
const B = 'other-demo.apps.test';

function get(path: string, o: { host?: string; cookie?: string; method?: string; origin?: string; extra?: Record<string, string> } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gwPort, path, method: o.method ?? 'GET', headers: { host: o.host ?? A, ...(o.cookie && { cookie: o.cookie }), ...(o.origin && { origin: o.origin }), ...o.extra } }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d)).on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject).end();
  });
}

async function loginCookie(user = 'alice', host = A): Promise<string> {
  const r = await get(`/.envserve/login?ticket=${ticketFor(user, host)}&next=/lab`, { host });
  assert.equal(r.status, 303, r.body);
  return (r.headers['set-cookie']![0]!).split(';')[0]!;
}

before(async () => {
  app = http.createServer((req, res) => {
    seen.push({ path: req.url!, ...(req.headers.cookie && { cookie: req.headers.cookie }) });
    let body = '';
    req.on('data', (d) => (body += d)).on('end', () => res.end(`app ${req.url}${body && ` ${body}`}`));
  });
  const wss = new WebSocketServer({ server: app });
  wss.on('connection', (ws) => ws.on('message', (m) => ws.send(`echo ${m}`)));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as net.AddressInfo).port;
  sets = new Map([[A, route(A)], [B, route(B)]]);
  const keys = KeyRing.fresh();
  gw = new LoginGateway({ routes: (h) => sets.get(h), keys: () => keys, api, authorize: async (who: Identity) => allowed.has(who.username), recheckMs: 300 });
  gwPort = await gw.listen(0);
});
after(async () => {
  await gw.close();
  app.closeAllConnections();
  await new Promise((r) => app.close(r));
});

test('no session: 401 with the command to run (host and path escaped), and the app sees no request', async () => {
  const before = seen.length;
  const r = await get('/lab/<script>alert(1)</script>?x="y"');
  assert.equal(r.status, 401);
  assert.match(r.body, /envserve open https:\/\/app-demo\.apps\.test\/lab\/%3Cscript%3Ealert\(1\)%3C\/script%3E\?x=%22y%22/);
  assert.doesNotMatch(r.body, /<script>/);
  assert.equal(r.headers['referrer-policy'], 'no-referrer');
  assert.equal(seen.length, before);
});

test('a ticket becomes a __Host- cookie and a redirect to a path without it; the app then answers and never sees the session cookie', async () => {
  const r = await get(`/.envserve/login?ticket=${ticketFor('alice', A)}&next=/lab?tab=1`);
  assert.equal(r.status, 303);
  assert.equal(r.headers.location, '/lab?tab=1');
  assert.equal(r.headers['referrer-policy'], 'no-referrer');
  const set = r.headers['set-cookie']![0]!;
  assert.match(set, /^__Host-envserve-session=v1\.[^;]+; Path=\/; Max-Age=3600; HttpOnly; SameSite=Lax; Secure$/);
  const cookie = set.split(';')[0]!;
  const ok = await get('/lab', { cookie: `${cookie}; theme=dark` });
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'app /lab');
  assert.deepEqual(seen.at(-1), { path: '/lab', cookie: 'theme=dark' });
});

test("an app answering with bare-LF lines is passed on, as Traefik reads it without the login; a header Node cannot write (a control character) is dropped, not a crash", async () => {
  const loose = net.createServer((c) => c.once('data', () => c.end('HTTP/1.1 200 OK\nContent-Type: text/plain\nX-Raw: a\x01b\nX-Fine: yes\nContent-Length: 5\n\nhello')));
  await new Promise<void>((r) => loose.listen(0, '127.0.0.1', r));
  const L = 'loose-demo.apps.test';
  sets.set(L, route(L, { upstream: { host: '127.0.0.1', port: (loose.address() as net.AddressInfo).port } }));
  try {
    const r = await get('/', { host: L, cookie: await loginCookie('alice', L) });
    assert.deepEqual([r.status, r.body, r.headers['x-fine'], r.headers['x-raw']], [200, 'hello', 'yes', undefined]);
  } finally {
    sets.delete(L);
    loose.close();
  }
});

test('refused: a ticket used twice, a ticket for another host, a user without rights, a cookie of host A on host B, a tampered cookie', async () => {
  const t = ticketFor('alice', A);
  assert.equal((await get(`/.envserve/login?ticket=${t}`)).status, 303);
  const again = await get(`/.envserve/login?ticket=${t}`);
  assert.equal(again.status, 403);
  assert.match(again.body, /already used/);
  assert.equal((await get(`/.envserve/login?ticket=${ticketFor('alice', B)}`)).status, 403, 'a ticket made for B is not redeemed on A');
  const dave = await get(`/.envserve/login?ticket=${ticketFor('dave', A)}`);
  assert.equal(dave.status, 403);
  assert.match(dave.body, /dave may not open this exposure/);
  assert.equal(dave.headers['set-cookie'], undefined);
  const cookie = await loginCookie();
  assert.equal((await get('/', { host: B, cookie })).status, 401);
  // X-Forwarded-Host is not read: the Host decides
  assert.equal((await get('/', { host: B, cookie, extra: { 'x-forwarded-host': A } })).status, 401);
  const tampered = cookie.slice(0, -2) + (cookie.endsWith('AA') ? 'BB' : 'AA');
  assert.equal((await get('/', { cookie: tampered })).status, 401);
});

test('no open redirect: next must be a path on this host', () => {
  for (const bad of ['//evil.test/x', '/\\evil.test', 'https://evil.test/', 'evil', '/x\r\nset-cookie: a=b', null]) assert.equal(safeNext(bad), '/');
  assert.equal(safeNext('/lab/tree?x=1'), '/lab/tree?x=1');
});

test('a re-created ExposureSet (new UID) or a lowered access generation refuses old cookies', async () => {
  const cookie = await loginCookie();
  sets.set(A, route(A, { setUid: 'uid-recreated' }));
  try {
    assert.equal((await get('/', { cookie })).status, 401);
  } finally {
    sets.set(A, route(A));
  }
  sets.set(A, route(A, { accessGeneration: 2 }));
  try {
    assert.equal((await get('/', { cookie })).status, 401);
  } finally {
    sets.set(A, route(A));
  }
  assert.equal((await get('/', { cookie })).status, 200);
});

test('unsafe methods and WebSocket upgrades from a sibling origin are refused; from the host itself they work', async () => {
  const cookie = await loginCookie();
  assert.equal((await get('/api', { method: 'POST', cookie, origin: `https://${B}` })).status, 403);
  assert.equal((await get('/api', { method: 'POST', cookie, origin: `https://${A}` })).status, 200);
  const posted = await new Promise<string>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: gwPort, path: '/api', method: 'POST', headers: { host: A, cookie, origin: `https://${A}` } }, (res) => {
      let b = '';
      res.on('data', (d) => (b += d)).on('end', () => resolve(b));
    });
    req.on('error', reject).end('x=1'); // chunked: the body goes through too
  });
  assert.equal(posted, 'app /api x=1');
  const ws = (origin: string, c?: string) => new WebSocket(`ws://127.0.0.1:${gwPort}/ws`, { headers: { host: A, ...(c && { cookie: c }) }, origin });
  const status = (w: WebSocket) => new Promise<number>((resolve) => { w.on('unexpected-response', (_q, res) => resolve(res.statusCode!)); w.on('open', () => { resolve(101); w.close(); }); });
  assert.equal(await status(ws(`https://${B}`, cookie)), 403);
  assert.equal(await status(ws(`https://${A}`)), 401);
  const good = ws(`https://${A}`, cookie);
  await new Promise((r) => good.on('open', r));
  good.send('hi');
  assert.equal(String(await new Promise((r) => good.on('message', r))), 'echo hi');
  good.close();
});

test('revocation: losing the right, or the ExposureSet going, cuts an open WebSocket within the re-check interval', async () => {
  for (const revoke of [() => allowed.delete('alice'), () => sets.delete(A)]) {
    const cookie = await loginCookie();
    const w = new WebSocket(`ws://127.0.0.1:${gwPort}/ws`, { headers: { host: A, cookie }, origin: `https://${A}` });
    await new Promise((r) => w.on('open', r));
    const t0 = Date.now();
    const closed = new Promise((r) => w.on('close', r));
    revoke();
    await closed;
    assert.ok(Date.now() - t0 < 2_000, `cut after ${Date.now() - t0} ms`);
    assert.equal((await get('/', { cookie })).status, sets.has(A) ? 401 : 404);
    allowed = new Set(['alice']);
    sets.set(A, route(A));
  }
});

test('a cookie already accepted (its MAC check remembered) is still refused once the set is re-created, the level lowered, its key retired or it expired', async () => {
  let clock = Date.now();
  let ring = KeyRing.fresh(clock);
  const g = new LoginGateway({ routes: (h) => sets.get(h), keys: () => ring, api, authorize: async (who: Identity) => allowed.has(who.username), now: () => clock });
  const port = await g.listen(0);
  const at = (cookie: string) => new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers: { host: A, cookie } }, (res) => res.resume().on('end', () => resolve(res.statusCode!))).on('error', reject);
  });
  const login = async () => {
    const r = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port, path: `/.envserve/login?ticket=${ticketFor('alice', A, clock)}`, headers: { host: A } }, (res) => resolve(res.resume())).on('error', reject));
    assert.equal(r.statusCode, 303);
    return r.headers['set-cookie']![0]!.split(';')[0]!;
  };
  try {
    const cookie = await login();
    assert.equal(await at(cookie), 200);
    assert.equal(await at(cookie), 200, 'the remembered answer');
    for (const over of [{ setUid: 'uid-recreated' }, { accessGeneration: 2 }]) {
      sets.set(A, route(A, over));
      try {
        assert.equal(await at(cookie), 401, JSON.stringify(over));
      } finally {
        sets.set(A, route(A));
      }
      assert.equal(await at(cookie), 200);
    }
    ring = ring.rotate(clock, 60_000);
    assert.equal(await at(cookie), 200, 'the retired key verifies for one session lifetime');
    clock += 60_001;
    assert.equal(await at(cookie), 401, 'then no more');
    const fresh = await login();
    assert.equal(await at(fresh), 200);
    clock += 3_600_000;
    assert.equal(await at(fresh), 401, 'expired');
  } finally {
    await g.close();
  }
});

test('--login-check traefik: each answer the gateway lets through carries a pass for the check in Traefik (valid for the re-check interval, bound by its MAC), beside the app\'s own cookies; never on a route without passes; the app never sees a pass', async () => {
  const passKey = Buffer.alloc(32, 7);
  const keys = KeyRing.fresh();
  const P = 'pass-demo.apps.test';
  const cookieApp = http.createServer((req, res) => {
    seen.push({ path: req.url!, ...(req.headers.cookie && { cookie: req.headers.cookie }) });
    res.setHeader('set-cookie', 'app=1; Path=/');
    res.end('ok');
  });
  await new Promise<void>((r) => cookieApp.listen(0, '127.0.0.1', r));
  const upstream = { host: '127.0.0.1', port: (cookieApp.address() as net.AddressInfo).port };
  const routes = new Map([[P, route(P, { upstream, pass: true })], [A, route(A, { upstream })]]);
  const g = new LoginGateway({ routes: (h) => routes.get(h), keys: () => keys, passKey: () => passKey, api, authorize: async () => true, recheckMs: 4000 });
  const port = await g.listen(0);
  const ask = (host: string, path: string, cookie?: string) =>
    new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port, path, headers: { host, ...(cookie && { cookie }) } }, (res) => res.resume().on('end', () => resolve(res))).on('error', reject));
  try {
    const login = await ask(P, `/.envserve/login?ticket=${ticketFor('alice', P)}`);
    assert.equal(login.statusCode, 303);
    assert.deepEqual(login.headers['set-cookie']!.map((c) => c.split('=')[0]), ['__Host-envserve-session', '__Host-envserve-pass']);
    const session = login.headers['set-cookie']![0]!.split(';')[0]!;
    const t = Math.floor(Date.now() / 1000);
    const r = await ask(P, '/x', `${session}; __Host-envserve-pass=1.x; theme=dark`);
    assert.equal(r.statusCode, 200);
    const [appCookie, pass] = r.headers['set-cookie']!;
    assert.equal(appCookie, 'app=1; Path=/');
    const m = /^__Host-envserve-pass=(\d+)\.([\w-]+); Path=\/; Max-Age=(\d); HttpOnly; SameSite=Lax; Secure$/.exec(pass!);
    assert.ok(m, pass);
    const exp = Number(m[1]);
    assert.ok(exp >= t + 3 && exp <= t + 5, `expires with the re-check interval: ${exp - t} s`);
    assert.equal(`${exp}.${m[2]}`, signPass(passKey, { host: P, setUid: `uid-${P}`, accessGeneration: 1 }, exp));
    assert.notEqual(`${exp}.${m[2]}`, signPass(passKey, { host: P, setUid: `uid-${P}`, accessGeneration: 2 }, exp), 'another generation, another pass');
    assert.deepEqual(seen.at(-1), { path: '/x', cookie: 'theme=dark' });
    const plain = await ask(A, '/y', await loginCookieOn(port, A));
    assert.deepEqual(plain.headers['set-cookie'], ['app=1; Path=/'], 'no pass where the route has none');
  } finally {
    await g.close();
    cookieApp.closeAllConnections();
    cookieApp.close();
  }
});

async function loginCookieOn(port: number, host: string): Promise<string> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port, path: `/.envserve/login?ticket=${ticketFor('alice', host)}`, headers: { host } }, (r) => r.resume().on('end', () => resolve(r))).on('error', reject));
  return res.headers['set-cookie']![0]!.split(';')[0]!;
}
