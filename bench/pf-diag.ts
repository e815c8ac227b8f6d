// Temporary diagnostics for the port-forward: CPU per component, frame sizes, pauses.
import { spawnSync, spawn, execFileSync } from 'node:child_process';
import { readFileSync, readdirSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { ensureCluster } from './cluster.js';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver } from 'node:perf_hooks';
let gcN = 0, gcMs = 0; const gcKinds = new Map<number, number>();
new PerformanceObserver((l) => { for (const e of l.getEntries()) { gcN++; gcMs += e.duration; const k = (e as any).detail?.kind; gcKinds.set(k, (gcKinds.get(k) ?? 0) + e.duration); } }).observe({ entryTypes: ['gc'] });
const insp = new Session(); insp.connect();


const KC = ensureCluster();
const SLOT = process.env.ENVSERVE_TESTENV_SLOT!;
const { planFromFile } = await import('../src/envfile/from-file.js');
const { K8sRuntime } = await import('../src/apply/k8s/runtime.js');

// --- instrumentation of ws
const hist = (name: string) => ({ name, n: 0, bytes: 0, b: new Map<number, number>() });
const sendH = hist('ws.send');
const msgH = hist('ws message');
const add = (h: ReturnType<typeof hist>, len: number) => {
  h.n++; h.bytes += len;
  const k = len === 0 ? 0 : 2 ** Math.ceil(Math.log2(len));
  h.b.set(k, (h.b.get(k) ?? 0) + 1);
};
const origSend = WebSocket.prototype.send;
(WebSocket.prototype as any).send = function (this: WebSocket, data: any, ...rest: any[]) {
  add(sendH, data.length);
  return (origSend as any).call(this, data, ...rest);
};
const origEmit = WebSocket.prototype.emit;
(WebSocket.prototype as any).emit = function (this: WebSocket, ev: string, ...args: any[]) {
  if (ev === 'message') add(msgH, args[0].length);
  return (origEmit as any).call(this, ev, ...args);
};
let pauses = 0;
const origPause = WebSocket.prototype.pause;
(WebSocket.prototype as any).pause = function (this: WebSocket) {
  pauses++;
  return origPause.call(this);
};
const show = (h: ReturnType<typeof hist>) => `${h.name}: ${h.n} msgs, avg ${(h.bytes / Math.max(1, h.n)).toFixed(0)} B; ` + [...h.b.entries()].sort((a, b) => a[0] - b[0]).map(([k, v]) => `≤${k}:${v}`).join(' ');
const reset = () => { for (const h of [sendH, msgH]) { h.n = 0; h.bytes = 0; h.b.clear(); } pauses = 0; };

// --- processes
const TCK = 100;
function cpuOf(pid: number): number {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TCK;
  } catch { return 0; }
}
function findPids(): Record<string, number[]> {
  const out: Record<string, number[]> = { apiserver: [], kubelet: [], containerd: [], shim: [] };
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cmd = '';
    try { cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replace(/\0/g, ' '); } catch { continue; }
    const mine = cmd.includes(`.testenv/k8s-${SLOT}/`) || cmd.includes(`envserve-k8s-${SLOT}/`);
    if (!mine) continue;
    if (cmd.includes('kube-apiserver')) out.apiserver!.push(+d);
    else if (/\/kubelet /.test(cmd)) out.kubelet!.push(+d);
    else if (cmd.startsWith('containerd ')) out.containerd!.push(+d);
    else if (cmd.includes('containerd-shim')) out.shim!.push(+d);
  }
  return out;
}
function children(pid: number): number[] {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}

const kubectl = (...args: string[]) => execFileSync('kubectl', ['--kubeconfig', KC, ...args], { encoding: 'utf8' });

const ns = `es-diag-${randomBytes(2).toString('hex')}`;
kubectl('create', 'namespace', ns);
const deploy = {
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'bench', namespace: ns },
  spec: { replicas: 1, selector: { matchLabels: { app: 'bench' } }, template: { metadata: { labels: { app: 'bench' } }, spec: { terminationGracePeriodSeconds: 2, containers: [{ name: 'app', image: 'envserve.test/testsrv:1', imagePullPolicy: 'Never', command: ['testsrv', 'pod', '--http', '8080', '--echo', '9000'], readinessProbe: { httpGet: { path: '/ready', port: 8080 }, periodSeconds: 1 } }] } } },
};
spawnSync('kubectl', ['--kubeconfig', KC, 'apply', '-f', '-'], { input: JSON.stringify(deploy) });
kubectl('-n', ns, 'rollout', 'status', 'deploy/bench', '--timeout=120s');
const pod = kubectl('-n', ns, 'get', 'pod', '-l', 'app=bench', '-o', 'jsonpath={.items[0].metadata.name}');

const dir = join(mkdtempSync(join(tmpdir(), 'envserve-diag-')), 'bench');
mkdirSync(dir);
writeFileSync(join(dir, 'build.envd'), 'def build():\n    base(image="x")\ndef serve():\n    cloud.k8s.bind(env_port=8080, host_port=0, name="http")\n    cloud.k8s.bind(env_port=9000, host_port=0, name="echo", protocol="tcp")\n');
const plan = planFromFile(join(dir, 'build.envd'), { envName: 'bench' });
const rt = new K8sRuntime({ kubeconfig: KC, namespace: ns, target: { kind: 'deployment', name: 'bench' } });
await rt.preflight(plan, plan.exposures, { mode: 'serve' });
const handles = await Promise.all(plan.exposures.map((e) => rt.expose(e)));
const esEcho = handles[1]!.listen.port;

const kc = spawn('kubectl', ['--kubeconfig', KC, '-n', ns, 'port-forward', '--address', '127.0.0.1', `pod/${pod}`, ':9000'], { stdio: ['ignore', 'pipe', 'inherit'] });
const kEcho = await new Promise<number>((res) => { let o = ''; kc.stdout.on('data', (d) => { o += d; const m = /127\.0\.0\.1:(\d+)/.exec(o); if (m) res(+m[1]!); }); });

const pids = findPids();
const shimKids = pids.shim!.flatMap(children);
const groups: Record<string, number[]> = { ...pids, pod: shimKids, kubectl: [kc.pid!] };
console.log('pids', JSON.stringify(groups));
const snap = () => Object.fromEntries(Object.entries(groups).map(([k, v]) => [k, v.reduce((s, p) => s + cpuOf(p), 0)]));

function load(port: number, args: string[]): Promise<any> {
  return new Promise((res, rej) => {
    const c = spawn(process.execPath, ['bench/k8s-load.mjs', args[0]!, String(port), ...args.slice(1)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let o = '';
    c.stdout.on('data', (d) => (o += d));
    c.on('exit', () => { try { res(JSON.parse(o)); } catch { rej(new Error(o)); } });
  });
}

const mode = process.argv[2] ?? 'bulk';
const BULK = Number(process.env.BULK_MB ?? 128) << 20;
const runs = Number(process.env.RUNS ?? 2);
for (let i = 0; i < runs; i++) {
  for (const [who, port] of [['envserve', esEcho], ['kubectl', kEcho]] as const) {
    reset();
    const c0 = snap();
    const self0 = process.cpuUsage();
    const t0 = performance.now();
    gcN = 0; gcMs = 0;
    if (who === 'envserve' && process.env.PROF) { await insp.post('Profiler.enable'); await insp.post('Profiler.start'); }
    let perf: ReturnType<typeof spawn> | undefined;
    if (who === 'envserve' && process.env.PERF) { perf = spawn('perf', ['record', '-F', '999', '-g', '-p', String(process.pid), '-o', `/tmp/pfprof/perf-${i}.data`], { stdio: 'ignore' }); await new Promise((r) => setTimeout(r, 500)); }
    const r = mode === 'bulk' ? await load(port, ['bulk', String(BULK)]) : await load(port, ['setup', '200']);
    const wall = (performance.now() - t0) / 1000;
    if (perf) { perf.kill('SIGINT'); await new Promise((r) => perf!.on('exit', r)); }
    if (who === 'envserve' && process.env.PROF) { const { profile } = await insp.post('Profiler.stop'); writeFileSync(`/tmp/pfprof/env-${i}.cpuprofile`, JSON.stringify(profile)); }
    if (who === 'envserve') { console.log(`  gc ${gcN} x, ${gcMs.toFixed(0)} ms`, JSON.stringify([...gcKinds])); gcKinds.clear(); }
    const c1 = snap();
    const self1 = process.cpuUsage(self0);
    const cpu: Record<string, number> = Object.fromEntries(Object.keys(c1).map((k) => [k, +(c1[k]! - c0[k]!).toFixed(2)]));
    cpu.envserve = +((self1.user + self1.system) / 1e6).toFixed(2);
    const res = mode === 'bulk' ? `${r.mbps.toFixed(1)} MB/s` : `p50 ${pct(r.ms, 50).toFixed(2)} p90 ${pct(r.ms, 90).toFixed(2)} p99 ${pct(r.ms, 99).toFixed(2)} max ${Math.max(...r.ms).toFixed(2)}`;
    console.log(`${who.padEnd(8)} ${res} wall ${wall.toFixed(2)}s cpu ${JSON.stringify(cpu)}`);
    if (who === 'envserve') { console.log('  ' + show(sendH)); console.log('  ' + show(msgH)); console.log(`  ws pauses ${pauses}`); }
    if (mode === 'setup') console.log('  slowest', r.ms.map((x: number, j: number) => [x, j]).sort((a: number[], b: number[]) => b[0]! - a[0]!).slice(0, 6).map(([x, j]: number[]) => `#${j}:${x!.toFixed(1)}`).join(' '));
  }
  console.log(`load ${readFileSync('/proc/loadavg', 'utf8').trim()}`);
}
function pct(xs: number[], p: number) { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!; }

kc.kill();
for (const h of handles) await h.stop();
await rt.stopEnvironment();
spawnSync('kubectl', ['--kubeconfig', KC, 'delete', 'namespace', ns, '--wait=false']);
process.exit(0);
