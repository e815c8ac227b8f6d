// Benchmark: how long the dashboard page takes to show a status change.
// A scripted environment emits a change (the pod name of a port-forward) 200 times; we measure
// from the emit to the moment the row in a real headless chromium shows it (a MutationObserver in
// the page calls back through the DevTools protocol), against the floor — a plain Server-Sent
// Events client in Node on the same stream, measured in the same run. Target: ≤ 1 s (the engine
// adds its own detection time on top; test/ui/k8s prints the end-to-end figure).
// Run: npm run build && ENVSERVE_TEST_CHROMIUM=/usr/bin/chromium npx tsx bench/ui.bench.ts
import http from 'node:http';
import { loadavg } from 'node:os';
import { chromium } from 'playwright-core';
import type { EnvStatus } from '../src/status/types.js';
import { startUiServer } from '../src/ui/server.js';
import { fixedSource, type UiEnvironment } from '../src/ui/types.js';

const ROUNDS = Number(process.env.ROUNDS ?? 200);
const ID = 'k8s-pf-jupyter-1234';

function status(pod: string): EnvStatus {
  const s = {
    apiVersion: 'envserve/v1', kind: 'Status', envName: 'bench', envFile: '/tmp/bench/build.envd', runtime: 'k8s', mode: 'up',
    pid: process.pid, startedAt: new Date().toISOString(), processes: [], notes: [],
    exposures: [
      { id: ID, name: 'jupyter', kind: 'k8s-port-forward', protocol: 'http', envPort: 8888, state: 'ready', reason: 'Ready', since: new Date().toISOString(), pod, reconnects: 1, urls: ['http://127.0.0.1:1234/'], answering: true, latencyMs: 1.2 },
      ...Array.from({ length: 9 }, (_, i) => ({ id: `svc-${i}`, kind: 'k8s-service', protocol: 'http', envPort: 8000 + i, state: 'ready', reason: 'Ready', since: new Date().toISOString(), urls: [`http://10.96.0.${i}:80/`] })),
    ],
  };
  return s as unknown as EnvStatus;
}

const subs = new Set<(s: EnvStatus) => void>();
let current = status('pod-0');
const env: UiEnvironment = {
  key: 'bench-1',
  status: () => current,
  subscribe: (cb) => (subs.add(cb), () => subs.delete(cb)),
  action: async () => ({ ok: true }),
  check: async () => ({ ok: true }),
};
const emit = (pod: string) => {
  current = status(pod);
  for (const cb of subs) cb(current);
};

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

async function main() {
  const ui = await startUiServer({ source: fixedSource(env) });
  const browser = await chromium.launch({
    executablePath: process.env.ENVSERVE_TEST_CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  const page = await browser.newPage();
  const seen = new Map<string, number>();
  await page.exposeFunction('__seen', (pod: string) => seen.set(pod, performance.now()));
  await page.goto(ui.url);
  await page.waitForSelector(`tr[data-exposure="${ID}"] [data-field=pod]`);
  await page.evaluate((id) => {
    const d = (globalThis as any).document;
    new (globalThis as any).MutationObserver(() => {
      const t = d.querySelector(`tr[data-exposure="${id}"] [data-field=pod]`)?.textContent;
      if (t) (globalThis as any).__seen(t);
    }).observe(d.getElementById('envs'), { subtree: true, childList: true, characterData: true });
  }, ID);

  // The floor: a Node SSE client on the same stream (logged in with the same cookie flow).
  const login = await new Promise<string>((resolve) => http.get(ui.url, { agent: false }, (res) => (res.resume(), resolve(String(res.headers['set-cookie']).split(';')[0]!))));
  const raw = new Map<string, number>();
  http.get({ host: '127.0.0.1', port: ui.port, path: '/api/events', headers: { cookie: login }, agent: false }, (res) => {
    res.on('data', (d: Buffer) => {
      const t = performance.now();
      for (const m of d.toString().matchAll(/"pod":"(pod-\d+)"/g)) if (!raw.has(m[1]!)) raw.set(m[1]!, t);
    });
  });
  await new Promise((r) => setTimeout(r, 300));

  const page_: number[] = [];
  const sse: number[] = [];
  for (let i = 1; i <= ROUNDS; i++) {
    const pod = `pod-${i}`;
    const t0 = performance.now();
    emit(pod);
    const deadline = Date.now() + 5000;
    while ((!seen.has(pod) || !raw.has(pod)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
    if (!seen.has(pod)) throw new Error(`the page did not show ${pod} within 5 s`);
    page_.push(seen.get(pod)! - t0);
    sse.push(raw.get(pod)! - t0);
    await new Promise((r) => setTimeout(r, 20 + (i % 7) * 5));
  }
  await browser.close();
  await ui.close();
  const f = (x: number) => `${x.toFixed(1)} ms`;
  console.log(`ui bench: ${ROUNDS} changes, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`  status change -> row updated in chromium: p50 ${f(pct(page_, 50))}, p99 ${f(pct(page_, 99))}, max ${f(Math.max(...page_))}  (target <= 1000 ms)`);
  console.log(`  status change -> SSE event in a Node client: p50 ${f(pct(sse, 50))}, p99 ${f(pct(sse, 99))}`);
  console.log(`  ratio page / raw SSE (p50): ${(pct(page_, 50) / Math.max(0.01, pct(sse, 50))).toFixed(1)}x`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
