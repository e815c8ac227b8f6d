// envserve's Kubernetes port-forward against `kubectl port-forward`, on the same pod of the test
// cluster, in one run: bulk throughput, connection set-up latency, HTTP requests/s with 50
// concurrent clients, reconnect time after the pod is replaced, and the time from `serve` of the
// proposal's cloud example until every URL answers. Prints figures and ratios.
//
//   npm run bench:k8s      (uses a running test cluster, else starts one and stops it after)
import { existsSync, readFileSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';

const ENV_JSON = '.testenv/k8s/env.json';
let startedCluster = false;
if (!existsSync(ENV_JSON) || spawnSync('bash', ['scripts/testenv/k8s/status.sh']).stdout?.toString().includes('not running')) {
  console.log('bench: starting the test cluster (scripts/testenv/k8s/up.sh)');
  if (spawnSync('bash', ['scripts/testenv/k8s/up.sh'], { stdio: 'inherit' }).status !== 0) throw new Error('up.sh failed');
  startedCluster = true;
}
Object.assign(process.env, JSON.parse(readFileSync(ENV_JSON, 'utf8')));
const KC = process.env.ENVSERVE_TEST_KUBECONFIG!;

const { planFromFile } = await import('../src/plan/from-file.js');
const { K8sRuntime } = await import('../src/apply/k8s/runtime.js');
const { loadKubeClient } = await import('../src/apply/k8s/client.js');

const kubectl = (...args: string[]) => {
  const r = spawnSync('kubectl', ['--kubeconfig', KC, ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const ns = `es-bench-${randomBytes(2).toString('hex')}`;
kubectl('create', 'namespace', ns);
const deploy = {
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bench', namespace: ns },
  spec: { replicas: 1, selector: { matchLabels: { app: 'bench' } }, template: { metadata: { labels: { app: 'bench' } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: 'envserve.test/backed:1', ports: [{ name: 'http', containerPort: 8080 }, { name: 'echo', containerPort: 9000 }] }] } } },
};
spawnSync('kubectl', ['--kubeconfig', KC, 'apply', '-f', '-'], { input: JSON.stringify(deploy) });
const client = loadKubeClient({ kubeconfig: KC, namespace: ns });
async function readyPod(not?: string): Promise<string> {
  for (let i = 0; i < 3000; i++) {
    const l = await client.request<{ items: any[] }>(`/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: 'app=bench' } });
    const p = l.items.find((x) => x.metadata.name !== not && !x.metadata.deletionTimestamp && x.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'));
    if (p) return p.metadata.name;
    await sleep(10);
  }
  throw new Error('no Ready pod');
}
const pod = await readyPod();
await sleep(300); // let the pod backer set up the pod's listeners

// envserve: two forwards (HTTP 8080, echo 9000) to the Deployment's Ready pod.
const dir = join(mkdtempSync(join(tmpdir(), 'envserve-bench-')), 'bench');
mkdirSync(dir);
writeFileSync(join(dir, 'build.envd'), 'def build():\n    base(image="x")\ndef serve():\n    cloud.k8s.bind(env_port=8080, host_port=0, name="http")\n    cloud.k8s.bind(env_port=9000, host_port=0, name="echo", protocol="tcp")\n');
const plan = planFromFile(join(dir, 'build.envd'), { envName: 'bench' });
const rt = new K8sRuntime({ kubeconfig: KC, namespace: ns, target: { kind: 'deployment', name: 'bench' } });
await rt.preflight(plan, plan.exposures, { mode: 'serve' });
const handles = await Promise.all(plan.exposures.map((e) => rt.expose(e)));
const es = { http: handles[0]!.listen.port, echo: handles[1]!.listen.port };

function kubectlPf(target: string, remote: number): Promise<{ port: number; stop: () => void }> {
  return new Promise((resolve, reject) => {
    const c = spawn('kubectl', ['--kubeconfig', KC, '-n', ns, 'port-forward', '--address', '127.0.0.1', target, `:${remote}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    c.stdout.on('data', (d) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve({ port: Number(m[1]), stop: () => c.kill() });
    });
    c.on('exit', (code) => reject(new Error(`kubectl port-forward exited ${code}: ${out}`)));
  });
}
const kHttp = await kubectlPf(`pod/${pod}`, 8080);
const kEcho = await kubectlPf(`pod/${pod}`, 9000);

/** Bulk: send `total` bytes through the echo port while reading them back; MB/s of payload. */
function bulk(port: number, total: number, who = port === es.echo ? 'envserve' : 'kubectl'): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    const chunk = randomBytes(256 * 1024);
    let sent = 0;
    let got = 0;
    const t0 = process.hrtime.bigint();
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!sock.write(chunk)) return sock.once('drain', pump);
      }
    };
    sock.on('connect', pump);
    sock.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= total) {
        const s = Number(process.hrtime.bigint() - t0) / 1e9;
        sock.destroy();
        resolve(total / s / 1e6);
      }
    });
    sock.on('error', reject);
    sock.on('close', () => got < total && reject(new Error(`bulk: ${who}'s forward closed the connection after ${got} of ${total} bytes`)));
  });
}

/** Set-up latency: connect, send one byte, get it back; a new connection each time. */
async function setup(port: number, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('connect', () => s.write('x'));
      s.once('data', () => { s.destroy(); resolve(); });
      s.on('error', reject);
      s.on('close', () => reject(new Error(`set-up: ${port === es.echo ? 'envserve' : 'kubectl'}'s forward closed the connection without an answer`)));
    });
    out.push(performance.now() - t0);
  }
  return out;
}

/** 50 clients, each on its own keep-alive connection, requesting as fast as answers come. */
async function rps(port: number, seconds: number, clients = 50): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  let done = 0;
  const end = Date.now() + seconds * 1000;
  const one = () => new Promise<void>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => { res.resume(); res.on('end', () => resolve()); }).on('error', reject);
  });
  await Promise.all(Array.from({ length: clients }, async () => { while (Date.now() < end) { await one(); done++; } }));
  agent.destroy();
  return done / seconds;
}

const fmt = (x: number, d = 1) => x.toFixed(d);
const rows: string[][] = [];
const row = (what: string, e: string, k: string, ratio: string) => rows.push([what, e, k, ratio]);

// Warm up both.
await bulk(es.echo, 8 << 20); await bulk(kEcho.port, 8 << 20);
const BULK = 128 << 20;
const eB = Math.max(await bulk(es.echo, BULK), await bulk(es.echo, BULK));
const kB = Math.max(await bulk(kEcho.port, BULK), await bulk(kEcho.port, BULK));
row('bulk echo throughput (MB/s, 128 MiB each way, best of 2)', fmt(eB), fmt(kB), `${fmt(eB / kB, 2)}x`);

const eS = await setup(es.echo, 200);
const kS = await setup(kEcho.port, 200);
row('connection set-up + first byte p50 (ms)', fmt(pct(eS, 50), 2), fmt(pct(kS, 50), 2), `${fmt(pct(kS, 50) / pct(eS, 50), 2)}x faster`);
row('connection set-up + first byte p99 (ms)', fmt(pct(eS, 99), 2), fmt(pct(kS, 99), 2), `${fmt(pct(kS, 99) / pct(eS, 99), 2)}x faster`);

const eR = await rps(es.http, 5);
const kR = await rps(kHttp.port, 5);
row('HTTP requests/s, 50 concurrent keep-alive clients (5 s)', fmt(eR, 0), fmt(kR, 0), `${fmt(eR / kR, 2)}x`);

// Reconnect after the pod is replaced: from "the new pod is Ready" (as seen by polling the API)
// to the first answer from it on a new connection.
const get = (port: number) => new Promise<string | undefined>((resolve) => {
  const r = http.get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => { let b = ''; res.on('data', (c) => (b += c)); res.on('end', () => { try { resolve(JSON.parse(b).pod); } catch { resolve(undefined); } }); });
  r.setTimeout(3000, () => r.destroy());
  r.on('error', () => resolve(undefined));
});
const reconnect: number[] = [];
let kubectlAfter = 'n/a';
for (let i = 0; i < 5; i++) {
  const old = await readyPod();
  await client.request(`/api/v1/namespaces/${ns}/pods/${old}`, { method: 'DELETE', body: { gracePeriodSeconds: 0 } });
  const next = await readyPod(old);
  const t0 = performance.now();
  while ((await get(es.http)) !== next) await sleep(5);
  reconnect.push(performance.now() - t0);
  if (i === 0) {
    // kubectl was forwarding to the first pod: does it answer from the new one?
    const deadline = Date.now() + 3000;
    let ok = false;
    while (Date.now() < deadline && !ok) ok = (await get(kHttp.port)) === next;
    kubectlAfter = ok ? 'reconnected' : 'no answer 3 s after the new pod was Ready (kubectl does not reconnect)';
  }
}
row('reconnect after pod replaced, from new pod Ready (ms, p50/max of 5)', `${fmt(pct(reconnect, 50), 0)} / ${fmt(Math.max(...reconnect), 0)}`, kubectlAfter, '');

// serve of the proposal's cloud example until every URL answers (port-forward + ClusterIP Service).
const serveTimes: number[] = [];
for (let i = 0; i < 3; i++) {
  const d2 = join(mkdtempSync(join(tmpdir(), 'envserve-bench-')), `seed${i}`);
  mkdirSync(d2);
  writeFileSync(join(d2, 'build.envd'), readFileSync('testdata/examples/seed-cloud.envd', 'utf8').replace('host_port=1234', 'host_port=0'));
  const t0 = performance.now();
  const p2 = planFromFile(join(d2, 'build.envd'), { envName: `seed${i}` });
  const r2 = new K8sRuntime({ kubeconfig: KC, namespace: ns, image: 'envserve.test/jupyter:1' });
  await r2.preflight(p2, p2.exposures, { mode: 'up' });
  await r2.startEnvironment(p2, p2.exposures, { mode: 'up' });
  const hs = await Promise.all(p2.exposures.map((e) => r2.expose(e)));
  for (;;) {
    const ok = await Promise.all(hs.map(async (h) => (await h.probe!()).answering));
    if (ok.every(Boolean)) break;
    await sleep(10);
  }
  serveTimes.push(performance.now() - t0);
  for (const h of hs) await h.stop();
  await r2.stopEnvironment();
}
row('serve seed-cloud (Deployment + forward + ClusterIP) until every URL answers (ms, p50 of 3)', fmt(pct(serveTimes, 50), 0), '-', '');

kHttp.stop(); kEcho.stop();
for (const h of handles) await h.stop();
await rt.stopEnvironment();
client.close();
spawnSync('kubectl', ['--kubeconfig', KC, 'delete', 'namespace', ns, '--wait=false']);

const widths = [0, 1, 2, 3].map((i) => Math.max(...[['', 'envserve', 'kubectl', 'ratio'], ...rows].map((r) => r[i]!.length)));
for (const r of [['', 'envserve', 'kubectl', 'ratio'], ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
console.log(`envserve port-forward protocol: ${process.env.ENVSERVE_PF_PROTOCOL === 'v4' ? 'one v4.channel.k8s.io WebSocket per connection (ENVSERVE_PF_PROTOCOL=v4)' : 'SPDY stream pairs multiplexed over one WebSocket per pod (ENVSERVE_PF_PROTOCOL=v4: one WebSocket per connection)'}`);
console.log(`(same pod, ${new Date().toISOString()}, ${process.env.ENVSERVE_TEST_K8S_VERSION}, 2 cores shared by the cluster, kubectl and envserve)`);
if (startedCluster) spawnSync('bash', ['scripts/testenv/k8s/down.sh'], { stdio: 'inherit' });
process.exit(0);
