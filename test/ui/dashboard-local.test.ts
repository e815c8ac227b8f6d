// The dashboard in a real browser (chromium, headless) on the proposal's host example run by the
// real CLI: `envserve up --ui` with a stand-in Jupyter on PATH (test/fixtures/bin/jupyter) and
// host_port=0, so the row must show the port envserve chose. Each step leaves a screenshot in
// test-artifacts/ui/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { envDir, FIXTURES, runCli, startCli, stateDirEnv, listening, type CliRun } from '../local/cli-helpers.js';
import { openBrowser, row, waitField, type Browser } from './browser.js';

const SEED = readFileSync(join(FIXTURES, 'seed-host/build.envd'), 'utf8').replace('host_port=1234', 'host_port=0');
const env = { ...stateDirEnv(), PATH: `${join(FIXTURES, 'bin')}${delimiter}${process.env.PATH}` };
const file = envDir(SEED, 'seed-host');
const ID = 'host-jupyter-auto';

let up: CliRun;
let dashboard: URL;
let b: Browser;

async function statusJson(): Promise<any> {
  const r = await runCli(['status', '-f', file, '-o', 'json'], env);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function get(port: number, path: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}`, ...headers }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', reject);
  });
}

before(async () => {
  up = startCli(['up', '-f', file, '--ui'], env);
  const m = await up.waitFor(/dashboard: (http:\/\/127\.0\.0\.1:\d+\/\?token=[A-Za-z0-9_-]+)/, 30_000);
  dashboard = new URL(m[1]!);
  await up.waitFor(/Press Ctrl-C/, 30_000);
  b = await openBrowser('local');
});

after(async () => {
  await b?.close();
  up?.proc.kill('SIGTERM');
  await up?.exited;
});

test('the page lists the exposure with the port envserve chose, and its link reaches the service', async () => {
  const { page } = b;
  await page.goto(dashboard.href);
  assert.equal(page.url(), `http://127.0.0.1:${dashboard.port}/`, 'the token is gone from the address bar');
  await waitField(page, ID, 'state', 'ready');
  const s = await statusJson();
  const chosen = s.exposures[0].listen.port as number;
  assert.notEqual(chosen, 0);
  const link = row(page, ID).locator('a[data-field=url]').first();
  assert.equal(await link.getAttribute('href'), `http://127.0.0.1:${chosen}/`);
  assert.equal(await row(page, ID).locator('[data-field=name]').textContent(), 'jupyter');
  assert.match((await row(page, ID).textContent())!, /host/);
  await b.shot('listed');
  const [tab] = await Promise.all([b.context.waitForEvent('page'), link.click()]);
  await tab.waitForLoadState();
  assert.match((await tab.textContent('body'))!, /^jupyter-standin lab .*--ip=127\.0\.0\.1 --port=8888 .*hashed_password=sha1:/, 'the link reached the (stand-in) Jupyter through envserve');
  await b.shot('link-opened', tab);
  await tab.close();
  // Readable in a narrow window: the row becomes a block, its URL and buttons still there.
  await page.setViewportSize({ width: 380, height: 800 });
  assert.ok(await row(page, ID).locator('button[data-action=restart]').isVisible());
  await b.shot('narrow');
  await page.setViewportSize({ width: 1200, height: 360 });
  assert.deepEqual(b.offHost, [], 'the page asked for nothing outside 127.0.0.1');
});

test('check shows its result inline; restart, stop and start work from the page', async () => {
  const { page } = b;
  const r = row(page, ID);
  await r.locator('button[data-action=check]').click();
  await waitField(page, ID, 'result', /^check: ok\b/);
  // The checks of `envserve check -o json` for this exposure, under the verdict. This build has
  // the check command, so the fallback for one without it (the engine's own probe) is a failure.
  const result = (await r.locator('[data-field=result]').textContent())!;
  assert.doesNotMatch(result, /has no check command/, 'the button ran envserve check');
  await r.locator('[data-field=result] summary').click();
  assert.match((await r.locator('[data-field=result] details').textContent())!, /pass .*answers \(local\)/);
  await b.shot('check');

  await r.locator('button[data-action=restart]').click();
  await waitField(page, ID, 'result', /^restart: ok\b/);
  await waitField(page, ID, 'state', 'ready');
  const port = (await statusJson()).exposures[0].listen.port as number;

  await r.locator('button[data-action=stop]').click();
  await waitField(page, ID, 'state', 'stopped');
  await waitField(page, ID, 'reason', 'Stopped');
  assert.equal(await listening(port), false, 'stopped: nothing listens on its port');
  await b.shot('stopped');

  await r.locator('button[data-action=start]').click();
  await waitField(page, ID, 'state', 'ready');
  assert.equal(await r.locator('button[data-action=stop]').count(), 1, 'the toggle says Stop again');
  const url = (await r.locator('a[data-field=url]').first().getAttribute('href'))!;
  const body = await new Promise<string>((resolve, reject) => http.get(url, (res) => { let d = ''; res.on('data', (c) => (d += c)); res.on('end', () => resolve(d)); }).on('error', reject));
  assert.match(body, /^jupyter-standin/);
  await b.shot('started');
});

test('requests without the token, with a wrong token, for another Host or from another Origin are refused', async () => {
  const port = Number(dashboard.port);
  assert.equal(await get(port, '/'), 403, 'no token, no cookie');
  assert.equal(await get(port, '/api/status'), 403, 'no token, no cookie');
  assert.equal(await get(port, '/?token=wrong'), 403, 'wrong token');
  assert.equal(await get(port, `/?token=${dashboard.searchParams.get('token')}`, { host: `rebound.example:${port}` }), 403, 'another Host (DNS rebinding)');
  assert.equal(await get(port, `/?token=${dashboard.searchParams.get('token')}`, { origin: 'http://evil.example' }), 403, 'another Origin');

  // A page of another origin on this machine, in the browser that holds the cookie, tries to stop
  // the exposure (127.0.0.1 on another port is the same *site*, so SameSite alone would not stop it).
  const target = `http://127.0.0.1:${port}/api/envs/${encodeURIComponent((await statusJson()).envId)}/exposures/${ID}/stop`;
  const evil = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end(`<!doctype html><title>evil</title><script>
      fetch(${JSON.stringify(target)}, { method: 'POST', credentials: 'include', mode: 'no-cors', body: '{}' })
        .then(() => { document.title = 'sent'; }, (e) => { document.title = 'error ' + e; });
    </script>`);
  });
  await new Promise<void>((r) => evil.listen(0, '127.0.0.1', r));
  try {
    const page = await b.context.newPage();
    await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
    await page.waitForFunction(() => (globalThis as any).document.title !== 'evil');
    await page.close();
  } finally {
    evil.close();
  }
  const s = await statusJson();
  assert.equal(s.exposures[0].state, 'ready', 'the cross-origin POST did not stop the exposure');
  await b.shot('after-cross-origin');
});

test('a service whose process is killed shows its reason code while it is down (and how fast the page showed it), then its restart', async () => {
  const { page } = b;
  const s = await statusJson();
  const pid = s.processes.find((p: any) => p.name === 'jupyter').pid as number;
  assert.equal(await row(page, ID).locator('[data-field=restarts]').textContent(), '0');
  const t0 = Date.now();
  process.kill(pid, 'SIGKILL');
  const shown = await waitField(page, ID, 'reason', 'ProcessExited', 10_000);
  console.log(`# dashboard: process killed -> row shows ProcessExited in ${shown - t0} ms`);
  assert.match((await row(page, ID).locator('[data-field=state]').textContent())!, /waiting/);
  assert.match((await row(page, ID).locator('[data-field=message]').textContent())!, /^jupyter killed by SIGKILL; starting again in 1 s/);
  await b.shot('process-exited');
  // The process list shows it too.
  assert.match((await page.locator('[data-process=jupyter]').textContent())!, /exited/);
  // Started again after the 1 s of backoff: ready, one restart, and how it last ended.
  await waitField(page, ID, 'state', 'ready', 15_000);
  await waitField(page, ID, 'restarts', '1');
  assert.match((await row(page, ID).locator('[data-field=lastExit]').textContent())!, /^SIGKILL at \d\d:\d\d:\d\d$/);
  assert.match((await page.locator('[data-process=jupyter]').textContent())!, /running .*restarts 1/);
  await b.shot('process-restarted');
});


test('--ui-port taken: a usage error (exit 2), and nothing is left running', async () => {
  const taken = Number(dashboard.port);
  const other = envDir(SEED, 'seed-host-2');
  const r = await runCli(['up', '-f', other, '--ui-port', String(taken)], env, 60_000);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`--ui-port ${taken}: 127\\.0\\.0\\.1:${taken} is already in use`));
  assert.doesNotMatch(r.stdout, /Press Ctrl-C/, 'refused before the environment started');
  const bad = await runCli(['up', '-f', other, '--ui-port', 'abc'], env);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--ui-port abc is not a port number/);
});
