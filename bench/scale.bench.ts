// What envserve costs as an environment's exposures grow: one environment of N exposures (half
// port-forwards on 127.0.0.1, half ClusterIP Services, all to one Deployment) served by the real
// CLI (`envserve serve --runtime k8s`) on the test cluster, for N = 1, 10, 80, 200:
//   - time from starting `serve` until every exposure answers (as its state file reports it, and
//     every forward answering an HTTP request from this process),
//   - idle CPU of the envserve process over a window (utime+stime from /proc/<pid>/stat), its RSS
//     at the end of the window and its peak (VmHWM),
//   - what it adds on the API server in that window: requests/min (sum of apiserver_request_total
//     from /metrics) and CPU of the kube-apiserver process, against the same window measured in
//     the same run with no envserve running (the peer),
//   - `envserve down --runtime k8s` time (the serve process stops, every owned Service is deleted
//     and waited for).
//
//   npm run bench:scale        (uses the running test cluster of ENVSERVE_TESTENV_SLOT, else starts
//                               one and stops it after)
//   BENCH_SCALE_N=1,10,80,200  the sizes;  BENCH_IDLE_S=30  the idle window in seconds
//   ENVSERVE_BIN=path/to/envserve.js  another build of the CLI (to measure a "before" in the same way)
//   BENCH_NODE=path/to/node  the Node binary envserve runs on (default: this one). RSS counts the
//                            binary's file pages, which depend on its page-cache state (a binary as
//                            npm wrote it sits in 2 MB folios: ≈ +30 MB; see docs/performance.md),
//                            so RSS is printed with its anonymous and file-backed parts.
//
// The machine is shared: the load average is printed with the figures.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { ensureCluster, stopClusterIfStarted, TESTENV_DIR } from './cluster.js';

const SIZES = (process.env.BENCH_SCALE_N ?? '1,10,80,200').split(',').map(Number);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 30);
const SETTLE_S = Number(process.env.BENCH_SETTLE_S ?? 5);

const KC = ensureCluster();
const BIN = process.env.ENVSERVE_BIN ?? 'bin/envserve.js';
if (!process.env.ENVSERVE_BIN && !existsSync('dist/cli/main.js')) throw new Error('dist/ is missing: run npm run build first');

const { loadKubeClient } = await import('../src/apply/k8s/client.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kubectl = (args: string[], input?: string) => {
  const r = spawnSync('kubectl', ['--kubeconfig', KC, ...args], { encoding: 'utf8', input });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');
const TICK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** CPU seconds (user + system) of a process so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICK; // fields 14 and 15 of stat(5)
}
const NODE = process.env.BENCH_NODE || process.execPath;
function memKb(pid: number, key: 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile'): number {
  const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? NaN);
}
const apiserverPid = Number(readFileSync(`${TESTENV_DIR}/run/kube-apiserver.pid`, 'utf8').trim());

const client = loadKubeClient({ kubeconfig: KC });
/** Sum of apiserver_request_total over every label set, and the per verb+resource counts. */
async function apiRequests(): Promise<{ total: number; by: Map<string, number> }> {
  const s = await client.settings();
  const u = client.url('/metrics');
  const text: string = await new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).get(u, { headers: s.headers, ca: s.ca, cert: s.cert, key: s.key, rejectUnauthorized: s.rejectUnauthorized }, (res) => {
      let b = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (b += c));
      res.on('end', () => (res.statusCode === 200 ? resolve(b) : reject(new Error(`/metrics: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
  });
  let total = 0;
  const by = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    total += v;
    const verb = /verb="([^"]*)"/.exec(line)?.[1] ?? '';
    const res = /resource="([^"]*)"/.exec(line)?.[1] ?? '';
    const sub = /subresource="([^"]*)"/.exec(line)?.[1] ?? '';
    const k = `${verb} ${res}${sub ? `/${sub}` : ''}`;
    by.set(k, (by.get(k) ?? 0) + v);
  }
  return { total, by };
}

interface Window { seconds: number; envCpu?: number; apiCpu: number; apiReqPerMin: number; by: Map<string, number> }
/** One idle window: CPU of envserve (if running) and of the API server, API requests. */
async function idleWindow(seconds: number, envPid?: number): Promise<Window> {
  const r0 = await apiRequests();
  const a0 = cpuSeconds(apiserverPid);
  const e0 = envPid ? cpuSeconds(envPid) : 0;
  const t0 = Date.now();
  await sleep(seconds * 1000);
  const e1 = envPid ? cpuSeconds(envPid) : 0;
  const a1 = cpuSeconds(apiserverPid);
  const r1 = await apiRequests();
  const s = (Date.now() - t0) / 1000;
  const by = new Map<string, number>();
  for (const [k, v] of r1.by) if (v - (r0.by.get(k) ?? 0) > 0) by.set(k, ((v - (r0.by.get(k) ?? 0)) * 60) / s);
  return { seconds: s, ...(envPid ? { envCpu: (e1 - e0) / s } : {}), apiCpu: (a1 - a0) / s, apiReqPerMin: ((r1.total - r0.total) * 60) / s, by };
}

// ---------------------------------------------------------------- the workload
const ns = `es-scale-${randomBytes(2).toString('hex')}`;
kubectl(['create', 'namespace', ns]);
const deploy = {
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'scale', namespace: ns },
  spec: { replicas: 1, selector: { matchLabels: { app: 'scale' } }, template: { metadata: { labels: { app: 'scale' } }, spec: { terminationGracePeriodSeconds: 0, containers: [{ name: 'app', image: 'envserve.test/backed:1', ports: [{ name: 'http', containerPort: 8080 }] }] } } },
};
kubectl(['apply', '-f', '-'], JSON.stringify(deploy));
for (let i = 0; ; i++) {
  const pods = JSON.parse(kubectl(['-n', ns, 'get', 'pods', '-l', 'app=scale', '-o', 'json'])).items as any[];
  if (pods.some((p) => !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True'))) break;
  if (i > 300) throw new Error('the Deployment has no Ready pod after 30 s');
  await sleep(100);
}
await sleep(500); // the pod backer opens the pod's listeners

function envFile(n: number): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'envserve-scale-')), `scale${n}`);
  mkdirSync(dir);
  const lines = ['def build():', '    base(image="x")', 'def serve():'];
  const forwards = Math.ceil(n / 2);
  for (let i = 0; i < forwards; i++) lines.push(`    cloud.k8s.bind(env_port=8080, host_port=0, name="f${i}")`);
  for (let i = 0; i < n - forwards; i++) lines.push(`    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=${9000 + i}, name="s${i}")`);
  writeFileSync(join(dir, 'build.envd'), `${lines.join('\n')}\n`);
  return join(dir, 'build.envd');
}

function getOk(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.setTimeout(5000, () => req.destroy());
    req.on('error', () => resolve(false));
  });
}

interface Row { n: number; answerS: number; envCpu: number; apiCpu: number; apiReqPerMin: number; rssMb: number; anonMb: number; fileMb: number; peakMb: number; downS: number; load: string; by: Map<string, number>; }

async function measure(n: number): Promise<Row> {
  const file = envFile(n);
  const stateDir = mkdtempSync(join(tmpdir(), 'envserve-scale-state-'));
  const env = { ...process.env, ENVSERVE_STATE_DIR: stateDir };
  const common = ['-f', file, '--runtime', 'k8s', '--kubeconfig', KC, '-n', ns];
  const t0 = Date.now();
  const child = spawn(NODE, [BIN, 'serve', ...common, '--target', `k8s:${ns}/deployment/scale`], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let exited: string | undefined;
  child.on('exit', (code) => (exited = `serve exited with ${code}: ${stderr.trim().slice(-500)}`));
  // The state file (one per env file in the state dir): a state record with the status in it, or
  // (builds before the engine) the status itself.
  const readStatus = (): { exposures: { kind: string; answering?: boolean; listen?: { port: number } }[] } | undefined => {
    const f = readdirSync(stateDir).find((x) => x.endsWith('.json'));
    if (!f) return undefined;
    try {
      const rec = JSON.parse(readFileSync(join(stateDir, f), 'utf8'));
      return rec.status ?? rec;
    } catch {
      return undefined; // being replaced
    }
  };
  let answerS = NaN;
  for (;;) {
    if (exited) throw new Error(exited);
    const s = readStatus();
    if (s && s.exposures.length === n && s.exposures.every((e) => e.answering)) {
      const ports = s.exposures.filter((e) => e.kind === 'k8s-port-forward').map((e) => e.listen!.port);
      if ((await Promise.all(ports.map(getOk))).every(Boolean)) {
        answerS = (Date.now() - t0) / 1000;
        break;
      }
    }
    if (Date.now() - t0 > 120_000) throw new Error(`N=${n}: not every exposure answers after 120 s: ${JSON.stringify(s?.exposures.filter((e) => !e.answering).slice(0, 3))}`);
    await sleep(50);
  }
  await sleep(SETTLE_S * 1000);
  const loadNow = load();
  const w = await idleWindow(IDLE_S, child.pid!);
  const rssMb = memKb(child.pid!, 'VmRSS') / 1024;
  const peakMb = memKb(child.pid!, 'VmHWM') / 1024;
  const anonMb = memKb(child.pid!, 'RssAnon') / 1024;
  const fileMb = memKb(child.pid!, 'RssFile') / 1024;
  const d0 = Date.now();
  const down = spawnSync(NODE, [BIN, 'down', ...common], { env, encoding: 'utf8' });
  const downS = (Date.now() - d0) / 1000;
  if (down.status !== 0) throw new Error(`down failed: ${down.stderr}`);
  const left = kubectl(['-n', ns, 'get', 'services', '-l', 'app.kubernetes.io/managed-by=envserve', '-o', 'name']).trim();
  if (left) throw new Error(`down left Services behind: ${left}`);
  if (!exited) await new Promise((r) => child.once('exit', r));
  return { n, answerS, envCpu: w.envCpu!, apiCpu: w.apiCpu, apiReqPerMin: w.apiReqPerMin, rssMb, anonMb, fileMb, peakMb, downS, load: loadNow, by: w.by };
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
const rows: Row[] = [];
let base: Window;
try {
  console.log(`bench: ${BIN} on ${NODE}; load average ${load()} (2 cores, shared); idle windows of ${IDLE_S} s`);
  console.log('bench: peer: the API server with no envserve running');
  const baseLoad = load();
  base = await idleWindow(IDLE_S);
  console.log(`  API server ${pct(base.apiCpu)} of a core, ${base.apiReqPerMin.toFixed(0)} requests/min (load ${baseLoad})`);
  for (const n of SIZES) {
    console.log(`bench: N=${n} (${Math.ceil(n / 2)} port-forwards, ${n - Math.ceil(n / 2)} ClusterIP Services)`);
    const r = await measure(n);
    rows.push(r);
    console.log(`  all answer ${r.answerS.toFixed(2)} s; envserve ${pct(r.envCpu)} of a core, RSS ${r.rssMb.toFixed(0)} MB (anonymous ${r.anonMb.toFixed(0)}, file ${r.fileMb.toFixed(0)}; peak ${r.peakMb.toFixed(0)}); API server +${pct(r.apiCpu - base.apiCpu)}, +${(r.apiReqPerMin - base.apiReqPerMin).toFixed(0)} requests/min; down ${r.downS.toFixed(2)} s (load ${r.load})`);
    const top = [...r.by].map(([k, v]) => [k, v - (base.by.get(k) ?? 0)] as const).filter(([, v]) => v > 1).sort((a, b) => b[1] - a[1]).slice(0, 5);
    if (top.length) console.log(`  added requests/min by verb and resource: ${top.map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
  }
  console.log('\n| exposures | all answer | envserve idle CPU | RSS (peak) | API server added CPU | API server added requests/min | `down` | load avg |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows) {
    console.log(`| ${r.n} | ${r.answerS.toFixed(2)} s | ${pct(r.envCpu)} | ${r.rssMb.toFixed(0)} MB (${r.peakMb.toFixed(0)}) | ${pct(r.apiCpu - base.apiCpu)} | ${(r.apiReqPerMin - base.apiReqPerMin).toFixed(0)} | ${r.downS.toFixed(2)} s | ${r.load} |`);
  }
  console.log(`| none (peer) | | | | API server ${pct(base.apiCpu)} | ${base.apiReqPerMin.toFixed(0)} | | ${baseLoad} |`);
} finally {
  client.close();
  spawnSync('kubectl', ['--kubeconfig', KC, 'delete', 'namespace', ns, '--wait=false'], { stdio: 'ignore' });
  stopClusterIfStarted();
}
