// A real JupyterLab in a pod on the test node, used from a real browser through envserve's
// port-forward: `envserve up --runtime k8s` of an env file with config.jupyter(password=...),
// Chromium (Debian's, driven by playwright-core) logs in with the password, starts a kernel and
// runs a cell through the kernel WebSocket. Then the pod is deleted; once its replacement is Ready
// the same browser context, through the same local port, logs in again if asked, starts a new
// kernel and runs `1+1` -> `2`. envserve is not touched in between.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { BIN, envserve } from '../helpers/cli.js';
import { env, rand, writeEnvFile, createNamespace, deleteNamespace, mustKubectl, ownedObjects, waitReadyPod, freePort, eventually } from './expose-lib.js';

const CHROMIUM = '/usr/bin/chromium';
const PASSWORD = `pw-${rand()}`;
let ns: string;
let child: ChildProcess | undefined;
let out = '';
let context: BrowserContext | undefined;

before(() => {
  ns = createNamespace('es-nb');
});
after(async () => {
  await context?.close().catch(() => undefined);
  if (child && child.exitCode === null) {
    child.kill('SIGTERM');
    await new Promise((r) => child!.once('exit', r));
  }
  deleteNamespace(ns);
});

/**
 * Logs in if Jupyter asks for the password (its login form, the browser's own POST); resolves
 * once /api/status answers 200 in this browser context. (The light pages only: JupyterLab's own
 * front end would only cost CPU here.)
 */
async function loginIfAsked(page: Page, base: string): Promise<'logged in' | 'already'> {
  const st = await page.goto(`${base}/api/status`, { timeout: 60_000 });
  if (st?.status() === 200) return 'already';
  assert.equal(st?.status(), 403, 'the API refuses a browser that is not logged in');
  await page.goto(`${base}/login?next=${encodeURIComponent('/api/status')}`, { timeout: 60_000 });
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForURL((u) => u.pathname === '/api/status', { timeout: 60_000 }), page.press('input[name="password"]', 'Enter')]);
  await page.waitForLoadState('load');
  const after = await page.goto(`${base}/api/status`, { timeout: 60_000 });
  assert.equal(after?.status(), 200, 'the session is logged in');
  return 'logged in';
}

/**
 * In the page (same origin, the browser's cookies): starts a kernel through the REST API and runs
 * `code` through the kernel's WebSocket (Jupyter's message protocol); resolves with the text of
 * the execute_result.
 */
async function runInNewKernel(page: Page, base: string, code: string): Promise<string> {
  // A light HTML page of the same origin (Jupyter's own 404 page): the API's JSON answers carry
  // CSP "default-src 'none'", under which the page may not fetch, and JupyterLab's front end would
  // only cost CPU here.
  await page.goto(`${base}/envserve-test-page`, { timeout: 60_000 });
  return page.evaluate(async (code) => {
    const doc = (globalThis as any).document as { cookie: string; location: { host: string } };
    const xsrf = decodeURIComponent(doc.cookie.split('; ').find((c: string) => c.startsWith('_xsrf='))?.slice(6) ?? '');
    const res = await fetch('/api/kernels', { method: 'POST', headers: { 'X-XSRFToken': xsrf, 'content-type': 'application/json' }, body: '{"name":"python3"}' });
    if (res.status !== 201) throw new Error(`POST /api/kernels: ${res.status} ${await res.text()}`);
    const kernel = (await res.json()) as { id: string };
    const ws = new WebSocket(`ws://${doc.location.host}/api/kernels/${kernel.id}/channels?session_id=envserve-test`);
    const msgId = `exec-${Date.now()}`;
    return await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no execute_result within 90 s')), 90_000);
      ws.onerror = () => reject(new Error('kernel websocket error'));
      ws.onopen = () => ws.send(JSON.stringify({
        header: { msg_id: msgId, username: 'test', session: 'envserve-test', msg_type: 'execute_request', version: '5.3', date: new Date().toISOString() },
        parent_header: {}, metadata: {}, channel: 'shell', buffers: [],
        content: { code, silent: false, store_history: false, user_expressions: {}, allow_stdin: false, stop_on_error: true },
      }));
      ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data as string);
        if (m.parent_header?.msg_id !== msgId) return;
        if (m.msg_type === 'execute_result') { clearTimeout(timer); ws.close(); resolve(m.content.data['text/plain']); }
        if (m.msg_type === 'error') { clearTimeout(timer); ws.close(); reject(new Error(`${m.content.ename}: ${m.content.evalue}`)); }
      };
    });
  }, code);
}

test('a real Jupyter in a pod, in a real browser: log in, run a cell; the pod is deleted; the same tab logs in again and runs 1+1 on the new pod', { timeout: 600_000 }, async () => {
  assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: scripts/testenv/k8s/up.sh installs Debian's chromium`);
  const envName = `nb-${rand()}`;
  const port = await freePort();
  const file = writeEnvFile(envName, `
def build():
    base(image="envserve.test/notebook:1")
    config.jupyter(password="${PASSWORD}")
def serve():
    cloud.k8s.bind(env_port=presets.jupyter.port, host_port=${port})
`);
  const t0 = Date.now();
  child = spawn(process.execPath, [BIN, 'up', '--runtime', 'k8s', '-n', ns, '-f', file], { env: { ...process.env, KUBECONFIG: env.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  await eventually(async () => assert.match(out, /Press Ctrl-C/), 180_000, 200);
  assert.doesNotMatch(out, new RegExp(PASSWORD), 'the password is never printed');
  const selector = `envserve.dev/env=${envName}`;
  const first = await waitReadyPod(ns, selector, undefined, 180_000);
  const upMs = Date.now() - t0;

  const base = `http://127.0.0.1:${port}`;
  context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'envserve-chromium-')), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(90_000);

  // 1. Log in with the password, start a kernel, run a cell: it runs in the first pod.
  const t1 = Date.now();
  assert.equal(await loginIfAsked(page, base), 'logged in', 'Jupyter asked for the password');
  assert.equal(await runInNewKernel(page, base, 'import socket; socket.gethostname()'), `'${first}'`);
  const firstCellMs = Date.now() - t1;

  // 2. The pod is deleted; the Deployment makes a new one. envserve is not touched.
  mustKubectl(['-n', ns, 'delete', 'pod', first, '--wait=false']);
  const tDel = Date.now();
  const second = await waitReadyPod(ns, selector, first, 180_000);
  const readyMs = Date.now() - tDel;

  // 3. The same browser context, through the same local port: log in again if the new pod asks
  // (a new Jupyter has a new cookie secret), a new kernel, 1+1 -> 2, on the new pod.
  const t2 = Date.now();
  const again = await eventually(() => loginIfAsked(page, base), 60_000, 500);
  assert.equal(await runInNewKernel(page, base, '1+1'), '2');
  assert.equal(await runInNewKernel(page, base, 'import socket; socket.gethostname()'), `'${second}'`);
  const secondCellMs = Date.now() - t2;
  console.log(`# jupyter: up -> pod Ready ${upMs} ms; login + first cell ${firstCellMs} ms; new pod Ready ${readyMs} ms after the delete; ` +
    `second session (${again}) + 1+1 ${secondCellMs} ms`);

  // envserve's status says nothing went wrong for good: the forward is ready, on the new pod.
  const st = envserve(['status', '-f', file, '-o', 'json'], { env: { KUBECONFIG: env.kubeconfig } });
  assert.equal(st.code, 0, st.stderr);
  const [row] = (JSON.parse(st.stdout) as { exposures: { state: string; reason: string; answering?: boolean; target?: string }[] }).exposures;
  assert.deepEqual([row?.state, row?.reason, row?.answering], ['ready', 'Ready', true], st.stdout);
  assert.match(row!.target ?? '', new RegExp(second), 'the forward follows the new pod');
  // And down leaves nothing: up ends, and no object of the environment is left.
  const d = envserve(['down', '-f', file, '--runtime', 'k8s', '-n', ns], { env: { KUBECONFIG: env.kubeconfig } });
  assert.equal(d.code, 0, d.stderr);
  const code = await new Promise((r) => (child!.exitCode !== null ? r(child!.exitCode) : child!.once('exit', r)));
  assert.equal(code, 0, out);
  assert.deepEqual(ownedObjects(ns, envName), [], 'down removed the Deployment and the Services');
});
