// The dashboard server over real HTTP on loopback, with a scripted environment (the engine is
// tested elsewhere; the browser tests in test/ui run the real thing): the token becomes a cookie,
// refusals (no token, wrong token, other Host, other Origin), the event stream, the actions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnvStatus } from '../status/types.js';
import { startUiServer } from './server.js';
import { fixedSource, type UiAction, type UiEnvironment } from './types.js';
import { checkOrigin } from './access.js';
import { lastLines } from './log-tail.js';

function status(state: EnvStatus['exposures'][number]['state'] = 'ready'): EnvStatus {
  return {
    apiVersion: 'envserve/v1', kind: 'Status', envId: 'demo-123', envName: 'demo', envFile: '/tmp/demo/build.envd', runtime: 'local', mode: 'up',
    pid: 1, startedAt: new Date().toISOString(), processes: [], notes: [],
    exposures: [{ id: 'host-jupyter-1234', name: 'jupyter', kind: 'host', protocol: 'http', envPort: 8888, state, reason: state === 'ready' ? 'Ready' : 'ApplyFailed', since: new Date().toISOString(), urls: ['http://127.0.0.1:1234/'] }],
  };
}

function scripted(): UiEnvironment & { emit(s: EnvStatus): void; calls: string[] } {
  let current = status();
  const subs = new Set<(s: EnvStatus) => void>();
  const calls: string[] = [];
  return {
    key: 'demo-123',
    calls,
    status: () => current,
    subscribe(cb) { subs.add(cb); return () => subs.delete(cb); },
    emit(s) { current = s; for (const cb of subs) cb(s); },
    async action(name: UiAction, id: string) { calls.push(`${name} ${id}`); return { ok: true, message: `${name} done` }; },
    async check(id: string) { calls.push(`check ${id}`); return { ok: false, reason: 'ConnectionRefused', details: [{ target: '127.0.0.1:1234', ok: false }] }; },
  };
}

interface Res { status: number; headers: http.IncomingHttpHeaders; body: string }
function request(port: number, path: string, o: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers: { host: `127.0.0.1:${port}`, ...o.headers }, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

async function login(port: number, token: string): Promise<string> {
  const r = await request(port, `/?token=${token}`);
  assert.equal(r.status, 303);
  assert.equal(r.headers.location, '/', 'redirected to a URL without the token');
  const set = String(r.headers['set-cookie']);
  assert.match(set, /HttpOnly/);
  assert.match(set, /SameSite=Strict/);
  assert.ok(!set.includes(token), 'the cookie is not the token');
  return set.split(';')[0]!;
}

test('the token becomes an HttpOnly SameSite=Strict cookie; every refusal is a 403', async (t) => {
  const env = scripted();
  const ui = await startUiServer({ source: fixedSource(env) });
  t.after(() => ui.close());
  assert.match(ui.url, new RegExp(`^http://127\\.0\\.0\\.1:${ui.port}/\\?token=`));
  const cookie = await login(ui.port, ui.token);

  const page = await request(ui.port, '/', { headers: { cookie } });
  assert.equal(page.status, 200);
  assert.equal(page.headers['referrer-policy'], 'no-referrer');
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
  assert.match(page.body, /<script type="module" src="\/app.js">/);
  assert.equal((await request(ui.port, '/app.js', { headers: { cookie } })).status, 200);
  assert.equal((await request(ui.port, '/api/status', { headers: { cookie, host: `localhost:${ui.port}` } })).status, 200, 'localhost:<port> is fine too');

  const refusals: [string, Promise<Res>][] = [
    ['no token', request(ui.port, '/')],
    ['wrong token', request(ui.port, '/?token=nope')],
    ['wrong cookie', request(ui.port, '/', { headers: { cookie: `${cookie.split('=')[0]}=forged` } })],
    ['other Host (DNS rebinding)', request(ui.port, '/', { headers: { cookie, host: `evil.example:${ui.port}` } })],
    ['other port in Host', request(ui.port, '/', { headers: { cookie, host: `127.0.0.1:1` } })],
    ['other Origin on GET', request(ui.port, '/api/status', { headers: { cookie, origin: 'http://evil.example' } })],
    ['POST without Origin', request(ui.port, `/api/envs/demo-123/exposures/host-jupyter-1234/stop`, { method: 'POST', headers: { cookie } })],
    ['POST from another Origin', request(ui.port, `/api/envs/demo-123/exposures/host-jupyter-1234/stop`, { method: 'POST', headers: { cookie, origin: `http://127.0.0.1:${ui.port + 1}` } })],
    ['POST with the token, no cookie', request(ui.port, `/api/envs/demo-123/exposures/host-jupyter-1234/stop?token=${ui.token}`, { method: 'POST', headers: { origin: `http://127.0.0.1:${ui.port}` } })],
  ];
  for (const [what, p] of refusals) {
    const r = await p;
    assert.equal(r.status, 403, what);
    assert.equal(r.headers['referrer-policy'], 'no-referrer', what);
    assert.ok(!r.body.includes('jupyter'), `${what}: no status leaks`);
  }
  assert.deepEqual(env.calls, [], 'no refused action ran');
});

test('actions and check go to the environment; results come back as JSON', async (t) => {
  const env = scripted();
  const ui = await startUiServer({ source: fixedSource(env) });
  t.after(() => ui.close());
  const cookie = await login(ui.port, ui.token);
  const post = (path: string) => request(ui.port, path, { method: 'POST', headers: { cookie, origin: `http://127.0.0.1:${ui.port}`, 'content-type': 'application/json' }, body: '{}' });
  const r = await post('/api/envs/demo-123/exposures/host-jupyter-1234/restart');
  assert.equal(r.status, 200);
  assert.deepEqual(JSON.parse(r.body), { ok: true, message: 'restart done' });
  const c = JSON.parse((await post('/api/envs/demo-123/exposures/host-jupyter-1234/check')).body);
  assert.equal(c.reason, 'ConnectionRefused');
  assert.equal((await post('/api/envs/demo-123/exposures/nope/stop')).status, 404);
  assert.equal((await post('/api/envs/other/exposures/host-jupyter-1234/stop')).status, 404);
  assert.equal((await post('/api/envs/demo-123/exposures/host-jupyter-1234/explode')).status, 404);
  assert.deepEqual(env.calls, ['restart host-jupyter-1234', 'check host-jupyter-1234']);
});

test('the event stream sends a snapshot, then every change as it happens', async (t) => {
  const env = scripted();
  const ui = await startUiServer({ source: fixedSource(env) });
  t.after(() => ui.close());
  const cookie = await login(ui.port, ui.token);
  const events: { event: string; data: any }[] = [];
  let waiting: (() => void) | undefined;
  const req = http.get({ host: '127.0.0.1', port: ui.port, path: '/api/events', headers: { host: `127.0.0.1:${ui.port}`, cookie }, agent: false }, (res) => {
    assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    let buf = '';
    res.on('data', (d) => {
      buf += d;
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const chunk = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev = /^event: (.*)$/m.exec(chunk)?.[1];
        const data = /^data: (.*)$/m.exec(chunk)?.[1];
        if (ev && data) events.push({ event: ev, data: JSON.parse(data) });
        waiting?.();
      }
    });
  });
  t.after(() => req.destroy());
  const next = async (n: number) => {
    while (events.length < n) await new Promise<void>((r) => (waiting = r));
  };
  await next(1);
  assert.equal(events[0]!.event, 'snapshot');
  assert.equal(events[0]!.data.envs[0].status.exposures[0].state, 'ready');
  const t0 = Date.now();
  env.emit(status('failed'));
  await next(2);
  assert.equal(events[1]!.event, 'env');
  assert.equal(events[1]!.data.key, 'demo-123');
  assert.equal(events[1]!.data.status.exposures[0].state, 'failed');
  // Pushed on the event (there is no poll to wait for): a bound for a hang, not a measure of speed.
  console.log(`# pushed ${Date.now() - t0} ms after the event`);
  assert.ok(Date.now() - t0 < 10_000);
});

test('Host and Origin rules', () => {
  assert.equal(checkOrigin({ host: '127.0.0.1:80' }, 80, false), undefined);
  assert.equal(checkOrigin({ host: 'LOCALHOST:80', origin: 'http://localhost:80' }, 80, true), undefined);
  assert.equal(checkOrigin({ host: '127.0.0.1:80', 'sec-fetch-site': 'cross-site' }, 80, false)?.reason, 'CrossOrigin');
  assert.equal(checkOrigin({ host: '127.0.0.1:80', origin: 'http://127.0.0.1:80', 'sec-fetch-site': 'same-site' }, 80, true)?.reason, 'CrossOrigin');
  assert.equal(checkOrigin({ host: '127.0.0.2:80' }, 80, false)?.reason, 'BadHost');
  assert.equal(checkOrigin({}, 80, false)?.reason, 'BadHost');
});

test('the last lines of a log, also of a long one', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-ui-'));
  writeFileSync(join(dir, 'short'), 'a\nb\n');
  assert.deepEqual(lastLines(join(dir, 'short')), ['a', 'b']);
  writeFileSync(join(dir, 'long'), Array.from({ length: 10000 }, (_, i) => `line ${i}`).join('\n') + '\n');
  assert.deepEqual(lastLines(join(dir, 'long'), 2), ['line 9998', 'line 9999']);
  assert.deepEqual(lastLines(join(dir, 'missing')), []);
});
