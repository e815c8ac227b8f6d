// envserve's Kubernetes port-forward against `kubectl port-forward`, on the same pod of the test
// cluster, in one run: bulk throughput, connection set-up latency, HTTP requests/s with 50
// concurrent clients, reconnect time after the pod is replaced, and the time from `serve` of the
// proposal's cloud example until every URL answers. Prints figures and ratios.
//
//   npm run bench:k8s      (uses a running test cluster, else starts one and stops it after;
//                           ENVSERVE_TESTENV_SLOT=N: the cluster of that slot)
//
// The pods are real containers on the test cluster's node (kubelet + containerd), running the Go
// test server (testsrv pod: HTTP on 8080 naming the pod, TCP echo on 9000) with a readiness probe.
// After a pod is deleted, kubectl's forward really loses its pod (kubectl exits with "lost
// connection to pod"); envserve's follows the Deployment to the new one.
//
// A measurement whose connection fails is not the end of the run: the bench says whose forward
// failed and why, and whether the pod was taken away meanwhile; then it moves both forwards to a
// new pod and measures again.
import { readFileSync, readdirSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { probeAll, summarize, targetsFor } from '../src/probe/index.js';
import { ensureCluster, stopClusterIfStarted, TESTENV_DIR } from './cluster.js';

const KC = ensureCluster();

const { planFromFile } = await import('../src/envfile/from-file.js');
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
  spec: {
    replicas: 1, selector: { matchLabels: { app: 'bench' } },
    template: {
      metadata: { labels: { app: 'bench' } },
      spec: {
        terminationGracePeriodSeconds: 2,
        containers: [{
          name: 'app', image: 'envserve.test/testsrv:1', imagePullPolicy: 'Never', command: ['testsrv', 'pod', '--http', '8080', '--echo', '9000'],
          ports: [{ name: 'http', containerPort: 8080 }, { name: 'echo', containerPort: 9000 }],
          readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1, failureThreshold: 1 },
        }],
      },
    },
  },
};
spawnSync('kubectl', ['--kubeconfig', KC, 'apply', '-f', '-'], { input: JSON.stringify(deploy) });
const client = loadKubeClient({ kubeconfig: KC, namespace: ns });
const serverVersion = (await client.request<{ gitVersion: string }>('/version')).gitVersion;
const kubectlVersion = (JSON.parse(spawnSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' }).stdout) as { clientVersion: { gitVersion: string } }).clientVersion.gitVersion;
console.log(`bench: Kubernetes ${serverVersion}, kubectl ${kubectlVersion}`);
const isReady = (p: any) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
async function readyPod(not?: string): Promise<string> {
  for (let i = 0; i < 3000; i++) {
    const l = await client.request<{ items: any[] }>(`/api/v1/namespaces/${ns}/pods`, { query: { labelSelector: 'app=bench' } });
    const p = l.items.find((x) => x.metadata.name !== not && isReady(x));
    if (p) return p.metadata.name;
    await sleep(10);
  }
  throw new Error('no Ready pod');
}
let pod = await readyPod();
const podReady = (name: string) => client.request<any>(`/api/v1/namespaces/${ns}/pods/${name}`).then(isReady, () => false);

// envserve: two forwards (HTTP 8080, echo 9000) to the Deployment's Ready pod.
const dir = join(mkdtempSync(join(tmpdir(), 'envserve-bench-')), 'bench');
mkdirSync(dir);
writeFileSync(join(dir, 'build.envd'), 'def build():\n    base(image="x")\ndef serve():\n    cloud.k8s.bind(env_port=8080, host_port=0, name="http")\n    cloud.k8s.bind(env_port=9000, host_port=0, name="echo", protocol="tcp")\n');
const plan = planFromFile(join(dir, 'build.envd'), { envName: 'bench' });
const rt = new K8sRuntime({ kubeconfig: KC, namespace: ns, target: { kind: 'deployment', name: 'bench' } });
await rt.preflight(plan, plan.exposures, { mode: 'serve' });
const handles = await Promise.all(plan.exposures.map((e) => rt.expose(e)));
const es = { http: handles[0]!.listen.port, echo: handles[1]!.listen.port };

interface KubectlPf { port: number; pid: number; stop: () => void; exited?: string }
function kubectlPf(target: string, remote: number): Promise<KubectlPf> {
  return new Promise((resolve, reject) => {
    const c = spawn('kubectl', ['--kubeconfig', KC, '-n', ns, 'port-forward', '--address', '127.0.0.1', target, `:${remote}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let pf: KubectlPf | undefined;
    c.stderr.on('data', (d) => (err += d));
    c.stdout.on('data', (d) => {
      out += d;
      const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(pf ??= { port: Number(m[1]), pid: c.pid!, stop: () => c.kill() });
    });
    c.on('exit', (code) => {
      const why = `kubectl port-forward exited ${code}: ${(err || out).trim().split('\n').at(-1)}`;
      if (pf) pf.exited = why;
      else reject(new Error(why));
    });
  });
}
let kHttp = await kubectlPf(`pod/${pod}`, 8080);
let kEcho = await kubectlPf(`pod/${pod}`, 9000);

/**
 * Runs one measurement. When it fails: says whose forward failed and why, and whether the pod
 * is still Ready; if it is not, replaces it (kubectl forwards to one pod and does not follow), and
 * restarts kubectl's forwards if they exited; then measures again, three tries in all.
 */
async function measure<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (e) {
      const ready = await podReady(pod);
      const kubectlGone = [kHttp.exited, kEcho.exited].filter(Boolean).join('; ');
      console.log(`bench: ${what} failed (try ${attempt} of 3): ${(e as Error).message}` +
        `${ready ? '' : `; pod ${pod} is not Ready any more (the test cluster took it away)`}${kubectlGone ? `; ${kubectlGone}` : ''}`);
      if (attempt === 3) return undefined;
      if (!ready) {
        const old = pod;
        await client.request(`/api/v1/namespaces/${ns}/pods/${old}`, { method: 'DELETE', body: { gracePeriodSeconds: 0 } }).catch(() => undefined);
        pod = await readyPod(old);
      }
      if (!ready || kubectlGone) {
        kHttp.stop(); kEcho.stop();
        kHttp = await kubectlPf(`pod/${pod}`, 8080);
        kEcho = await kubectlPf(`pod/${pod}`, 9000);
      }
    }
  }
}

/**
 * One measurement by the client load of bench/k8s-load.mjs, a process of its own for both forwards
 * (envserve's forward runs in this process: the load in here would share its thread).
 */
function load(who: string, port: number, args: (string | number)[]): Promise<any> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ['bench/k8s-load.mjs', String(args[0]), String(port), ...args.slice(1).map(String)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    c.stdout.on('data', (d) => (out += d));
    c.on('exit', () => {
      let r: any;
      try { r = JSON.parse(out); } catch { return reject(new Error(`${args[0]}: the load client printed ${JSON.stringify(out)}`)); }
      if (r.error) reject(new Error(`${args[0]}: ${who}'s forward: ${r.error}`));
      else resolve(r);
    });
  });
}
const median = (xs: number[]) => pct(xs, 50);
/** CPU seconds of a process (user + system), from /proc. */
function cpuOf(pid: number): number {
  const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}
const selfCpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
/**
 * The processes of this slot's cluster that carry a forward's bytes besides the forward itself:
 * the API server, the kubelet, containerd with its shims, and the pod's own processes (found by
 * their shim, whose command line names this slot's containerd socket).
 */
function clusterPids(): Record<'apiserver' | 'kubelet' | 'containerd' | 'pod', number[]> {
  const dirMark = `${process.cwd()}/${TESTENV_DIR}/`;
  const sockMark = process.env.ENVSERVE_TEST_CONTAINERD_SOCK ?? '\0';
  const procs = new Map<number, { ppid: number; comm: string; cmd: string }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const comm = st.slice(st.indexOf('(') + 1, st.lastIndexOf(')'));
      const ppid = Number(st.slice(st.lastIndexOf(')') + 2).split(' ')[1]);
      procs.set(Number(d), { ppid, comm, cmd: readFileSync(`/proc/${d}/cmdline`, 'utf8') });
    } catch { /* gone meanwhile */ }
  }
  const out = { apiserver: [] as number[], kubelet: [] as number[], containerd: [] as number[], pod: [] as number[] };
  const shims = new Set<number>();
  for (const [pid, p] of procs) {
    if (p.comm === 'kube-apiserver' && p.cmd.includes(dirMark)) out.apiserver.push(pid);
    else if (p.comm === 'kubelet' && p.cmd.includes(dirMark)) out.kubelet.push(pid);
    else if (p.comm === 'containerd' && p.cmd.includes(dirMark)) out.containerd.push(pid);
    else if (p.comm.startsWith('containerd-shim') && p.cmd.includes(sockMark)) { out.containerd.push(pid); shims.add(pid); }
  }
  for (const [pid, p] of procs) {
    if (shims.has(pid)) continue;
    for (let a = p.ppid, n = 0; a > 1 && n < 20; a = procs.get(a)?.ppid ?? 0, n++) if (shims.has(a)) { out.pod.push(pid); break; }
  }
  return out;
}
const cpuOfAll = (pids: number[]) => pids.reduce((t, p) => { try { return t + cpuOf(p); } catch { return t; } }, 0);

const fmt = (x: number, d = 1) => x.toFixed(d);
const rows: string[][] = [];
const row = (what: string, e: string, k: string, ratio: string) => rows.push([what, e, k, ratio]);
/** A figure, or why there is none; a ratio only of two figures. */
const fig = (x: number | undefined, d = 1) => (x === undefined ? 'failed' : fmt(x, d));
const ratio = (a: number | undefined, b: number | undefined, suffix = 'x') => (a === undefined || b === undefined ? '-' : `${fmt(a / b, 2)}${suffix}`);
const loadAtStart = (await import('node:os')).loadavg();

// Every measurement RUNS times, envserve and kubectl alternating (which goes first alternates
// too), so both see the same share of a busy machine; the figures are medians over the runs.
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BULK = 128 << 20;
/** Connections per set-up run: p99 is then the 5th slowest, not the 2nd. */
const SETUPS = 500;
/** Connections before each set-up run, not counted. */
const SETUP_WARMUP = Number(process.env.BENCH_SETUP_WARMUP ?? 50);
// BENCH_FRAMES=1: sizes of what envserve's forward reads and writes during its bulk runs, by
// power-of-two bucket: local reads, WebSocket messages sent, reads from the API server's socket,
// WebSocket frames received (a measurement of where the bytes wait, not a figure of the bench).
const frames = process.env.BENCH_FRAMES === '1' ? new Map<string, Map<number, number>>() : undefined;
let framesOn = false;
if (frames) {
  const count = (what: string, n: number) => {
    if (!framesOn) return;
    const b = n === 0 ? 0 : 2 ** Math.ceil(Math.log2(n));
    const m = frames.get(what) ?? new Map<number, number>();
    frames.set(what, m.set(b, (m.get(b) ?? 0) + 1));
  };
  const { WsLink } = await import('../src/apply/k8s/pf/wslink.js');
  const { ForwardedConnection } = await import('../src/apply/k8s/pf/connection.js');
  const wp = WsLink.prototype as any;
  const send = wp.send, onData = wp.onData, startFrame = wp.startFrame;
  wp.send = function (parts: Buffer[], done?: () => void) { count('ws messages sent (payload bytes)', parts.reduce((t, p) => t + p.length, 0)); return send.call(this, parts, done); };
  wp.onData = function (b: Buffer) { count('reads from the API server socket (bytes)', b.length); return onData.call(this, b); };
  wp.startFrame = function () { const r = startFrame.call(this); if (r && this.op < 8) count('ws frames received (payload bytes)', this.left); return r; };
  const cp = ForwardedConnection.prototype as any;
  const onClientData = cp.onClientData;
  cp.onClientData = function (chunk: Buffer, release?: () => void) { count('local reads (bytes)', chunk.length); return onClientData.call(this, chunk, release); };
}
const eB: number[] = [], kB: number[] = [], eCpu: number[] = [], kCpu: number[] = [];
const eBy: number[][] = [], kBy: number[][] = [];
/** BENCH_ROWS=bulk,setup,rps (any of them): those rows only, no reconnect or serve rows (for profiling). */
const only = process.env.BENCH_ROWS?.split(',');
const onlyBulk = only !== undefined;
const wanted = (r: string) => !only || only.includes(r);
const eS: number[] = [], kS: number[] = [], eS99: number[] = [], kS99: number[] = [], eR: number[] = [], kR: number[] = [];
// The cluster warms up too: after it starts, the first few hundred connections to the pod have
// slow ones (13–19 ms) at the same connection numbers (#4, #31, #68, #116, #196, #287, …) whichever
// forward carries them — measured with kubectl going first, its first set-up run then had them.
// Without this, the forward that went first in run 0 (envserve) paid for the cluster's warm-up.
const CLUSTER_WARMUP = Number(process.env.BENCH_CLUSTER_WARMUP ?? 1000);
await measure('warm-up', async () => {
  await load('envserve', es.echo, ['bulk', 8 << 20]); await load('kubectl', kEcho.port, ['bulk', 8 << 20]);
  if (wanted('setup')) { await load('kubectl', kEcho.port, ['setup', CLUSTER_WARMUP]); await load('envserve', es.echo, ['setup', CLUSTER_WARMUP]); }
});
for (let run = 0; run < RUNS; run++) {
  const order = run % 2 === 0 ? ['envserve', 'kubectl'] : ['kubectl', 'envserve'];
  for (const who of wanted('bulk') ? order : []) {
    const e = who === 'envserve';
    const r = await measure(`${who} bulk`, async () => {
      const pid = e ? undefined : kEcho.pid;
      const others = clusterPids();
      const o0 = Object.values(others).map(cpuOfAll);
      const c0 = pid ? cpuOf(pid) : selfCpu();
      framesOn = e;
      const x = await load(who, e ? es.echo : kEcho.port, ['bulk', BULK]);
      framesOn = false;
      const cpu = (pid ? cpuOf(pid) : selfCpu()) - c0;
      const o1 = Object.values(others).map(cpuOfAll);
      return { mbps: x.mbps as number, cpu, others: o1.map((c, i) => c - o0[i]!), client: x.cpu as number };
    });
    if (r) {
      (e ? eB : kB).push(r.mbps); (e ? eCpu : kCpu).push(r.cpu / (2 * BULK / 1e9));
      // CPU seconds per GB carried (both directions counted), by process: where the cores went.
      const gb = 2 * BULK / 1e9;
      (e ? eBy : kBy).push([r.cpu, ...r.others, r.client].map((c) => c / gb));
    }
  }
  for (const who of wanted('setup') ? order : []) {
    const e = who === 'envserve';
    // 50 connections first, not counted: the first set-up run after the bulk rows was the slowest
    // of its three whichever forward it was (the cluster still busy with the bulk's tail), and with
    // three runs the same forward goes first in two of them.
    const r = await measure(`${who} set-up`, async () => {
      await load(who, e ? es.echo : kEcho.port, ['setup', SETUP_WARMUP]);
      return load(who, e ? es.echo : kEcho.port, ['setup', SETUPS]);
    });
    if (r) { (e ? eS : kS).push(pct(r.ms, 50)); (e ? eS99 : kS99).push(pct(r.ms, 99)); }
  }
  for (const who of wanted('rps') ? order : []) {
    const e = who === 'envserve';
    const r = await measure(`${who} requests/s`, () => load(who, e ? es.http : kHttp.port, ['rps', 5, 50]));
    if (r) (e ? eR : kR).push(r.rps);
  }
}
const med = (xs: number[]) => (xs.length ? median(xs) : undefined);
const all = (xs: number[], d = 1) => `(${xs.map((x) => fmt(x, d)).join(', ')})`;
row(`bulk echo throughput (MB/s, 128 MiB each way; median of ${RUNS})`, `${fig(med(eB))} ${all(eB)}`, `${fig(med(kB))} ${all(kB)}`, ratio(med(eB), med(kB)));
row('  CPU of the forward\'s process per GB carried (s)', `${fig(med(eCpu), 2)} ${all(eCpu, 2)}`, `${fig(med(kCpu), 2)} ${all(kCpu, 2)}`, ratio(med(kCpu), med(eCpu), 'x less'));
const byNames = ['forward', 'apiserver', 'kubelet', 'containerd', 'pod', 'client'];
const byRow = (xs: number[][]) => (xs.length ? byNames.map((n, i) => `${n} ${fmt(median(xs.map((x) => x[i]!)), 2)}`).join(', ') : 'failed');
row('  CPU per GB by process (s; medians)', byRow(eBy), byRow(kBy), '');
row(`connection set-up + first byte p50 (ms; median of ${RUNS} × ${SETUPS})`, `${fig(med(eS), 2)} ${all(eS, 2)}`, `${fig(med(kS), 2)} ${all(kS, 2)}`, ratio(med(kS), med(eS), 'x faster'));
row(`connection set-up + first byte p99 (ms; median of ${RUNS} × ${SETUPS})`, `${fig(med(eS99), 2)} ${all(eS99, 2)}`, `${fig(med(kS99), 2)} ${all(kS99, 2)}`, ratio(med(kS99), med(eS99), 'x faster'));
row(`HTTP requests/s, 50 concurrent keep-alive clients (5 s; median of ${RUNS})`, `${fig(med(eR), 0)} ${all(eR, 0)}`, `${fig(med(kR), 0)} ${all(kR, 0)}`, ratio(med(eR), med(kR)));

if (frames) console.log(`envserve's read pool: ${JSON.stringify((await import('../src/apply/k8s/pf/readpool.js')).allocated)} buffers allocated in all`);
for (const [what, m] of frames ?? []) {
  const total = [...m.values()].reduce((a, b) => a + b, 0);
  console.log(`envserve ${what}: ${total} in all; ${[...m].sort((a, b) => a[0] - b[0]).map(([b, n]) => `≤${b}: ${n}`).join(', ')}`);
}
if (onlyBulk) {
  const ran = [['', 'envserve', 'kubectl', 'ratio'], ...rows.filter((r) => r[1] !== 'failed' && !r[1]!.startsWith('failed '))];
  const widths0 = [0, 1, 2, 3].map((i) => Math.max(...ran.map((r) => r[i]!.length)));
  for (const r of ran) console.log(r.map((c, i) => c.padEnd(widths0[i]!)).join('  '));
  const op = (rt as unknown as { sessions: { opened: Record<string, number> } }).sessions.opened;
  console.log(`envserve's streams: ${op.spdy} SPDY-over-WebSocket, ${op.direct} SPDY-upgrade, ${op.v4} v4.channel.k8s.io`);
  console.log(`Kubernetes ${serverVersion}; kubectl ${kubectlVersion}; Node.js ${process.version}; load average at start ${loadAtStart.map((x) => x.toFixed(1)).join(' ')}, at end ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  kHttp.stop(); kEcho.stop();
  for (const h of handles) await h.stop();
  await rt.stopEnvironment();
  client.close();
  spawnSync('kubectl', ['--kubeconfig', KC, 'delete', 'namespace', ns, '--wait=false']);
  stopClusterIfStarted();
  process.exit(0);
}

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
    kubectlAfter = ok ? 'reconnected'
      : kHttp.exited ? `lost its pod: ${kHttp.exited.replace(/^kubectl port-forward /, '')}`
        : 'no answer 3 s after the new pod was Ready (kubectl does not reconnect)';
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
    const ok = await Promise.all(hs.map(async (h) => h.condition?.()?.blocking !== true && summarize(await probeAll(targetsFor(h.spec, h.observed()), { api: r2.api! })).ok));
    if (ok.every(Boolean)) break;
    await sleep(10);
  }
  serveTimes.push(performance.now() - t0);
  for (const h of hs) await h.stop();
  await r2.stopEnvironment();
}
row('serve seed-cloud (Deployment + forward + ClusterIP) until every URL answers (ms, p50 of 3)', fmt(pct(serveTimes, 50), 0), '-', '');

// What envserve's forwards recorded (failures show up here, not as exceptions).
for (const h of handles) {
  const st = (h as unknown as { forwarder?: { stats: object } }).forwarder?.stats;
  if (st) console.log(`envserve forward ${h.spec.name}: ${JSON.stringify(st)}`);
}
kHttp.stop(); kEcho.stop();
for (const h of handles) await h.stop();
await rt.stopEnvironment();
client.close();
spawnSync('kubectl', ['--kubeconfig', KC, 'delete', 'namespace', ns, '--wait=false']);

const widths = [0, 1, 2, 3].map((i) => Math.max(...[['', 'envserve', 'kubectl', 'ratio'], ...rows].map((r) => r[i]!.length)));
for (const r of [['', 'envserve', 'kubectl', 'ratio'], ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i]!)).join('  '));
const opened = (rt as unknown as { sessions: { opened: Record<string, number> } }).sessions.opened;
console.log(`envserve's streams: ${opened.spdy} on SPDY-over-WebSocket sessions, ${opened.direct} on SPDY-upgrade sessions, ${opened.v4} on v4.channel.k8s.io WebSockets of their own`);
console.log(`Kubernetes ${serverVersion} (the test cluster's API server, real node); kubectl ${kubectlVersion}; envserve on Node.js ${process.version}`);
console.log(`(same pod, a real container on the test node; ${new Date().toISOString()}; 2 cores shared by the cluster, kubectl, envserve and the load client; load average at start ${loadAtStart.map((x) => x.toFixed(1)).join(' ')}, at end ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')})`);
stopClusterIfStarted();
process.exit(0);
