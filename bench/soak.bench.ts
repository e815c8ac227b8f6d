// Soak: envserve left running under steady mixed traffic while its pod is replaced every 2 minutes
// and the API server is restarted twice. Two real CLI processes, as users run them: `serve` on the
// test cluster (a port-forward and a ClusterIP Service) and `serve` of a local `host.bind` in
// front of a local test server. About 1,000 connections a minute, each carrying a random size
// (64 B .. 1 MiB) that is checked byte for byte on the way back. Prints failed connections (only
// those open while their pod went away or the API server restarted may fail), RSS and open file
// descriptors of both envserve processes at minute 5 and at the end (growth ≤ 5%), and their CPU.
//
//   npm run bench:soak          (30 minutes; ENVSERVE_SOAK_MINUTES=N for a shorter run;
//                                uses the running test cluster, else starts one and stops it)
//
// Peer: the same traffic straight to the local test server (no envserve) in the same run, so a
// failure that also happens there is the machine's, not envserve's.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { tmpdir, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import http from 'node:http';
import net from 'node:net';
import { randomBytes, createHash } from 'node:crypto';
import { ensureCluster, stopClusterIfStarted } from './cluster.js';
import { backedDeploymentManifest } from '../test/k8s/cluster.js';

const MINUTES = Number(process.env.ENVSERVE_SOAK_MINUTES ?? 30);
const PER_MINUTE = 1000;
const KC = ensureCluster();
const NETNS = process.env.ENVSERVE_TEST_NETNS!;
const BIN = resolve('bin/envserve.js');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const kubectl = (...args: string[]) => {
  const r = spawnSync('kubectl', ['--kubeconfig', KC, ...args], { encoding: 'utf8', input: '' });
  if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const kubectlAsync = (...args: string[]) =>
  new Promise<string>((res, rej) => {
    const p = spawn('kubectl', ['--kubeconfig', KC, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('exit', (code) => (code === 0 ? res(out) : rej(new Error(`kubectl ${args.join(' ')}: ${err}`))));
  });
const home = mkdtempSync(join(tmpdir(), 'envserve-soak-'));
const vars = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, KUBECONFIG: KC };

// The workload: the test server on the real node (HTTP 8080 with POST /echo, TCP echo on 9000).
const ns = `es-soak-${randomBytes(2).toString('hex')}`;
kubectl('create', 'namespace', ns);
spawnSync('kubectl', ['--kubeconfig', KC, '-n', ns, 'apply', '-f', '-'], { input: JSON.stringify(backedDeploymentManifest('soak', { app: 'soak' })) });
kubectl('-n', ns, 'wait', '--for=condition=Available', 'deployment/soak', '--timeout=120s');

function envFile(name: string, body: string): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'envserve-soak-')), name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'build.envd'), body);
  return join(dir, 'build.envd');
}

function start(args: string[]): Promise<ChildProcess> {
  const p = spawn(process.execPath, [BIN, ...args], { env: vars, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  return new Promise((res, rej) => {
    const t = setInterval(() => {
      if (/Press Ctrl-C/.test(out)) {
        clearInterval(t);
        res(p);
      } else if (p.exitCode !== null) {
        clearInterval(t);
        rej(new Error(`envserve ${args.join(' ')} exited ${p.exitCode}:\n${out}`));
      }
    }, 50);
  });
}

async function listenPort(envName: string, kind: string, envPort: number): Promise<number> {
  const r = spawnSync(process.execPath, [BIN, 'status', '--env', envName, '-o', 'json'], { env: vars, encoding: 'utf8' });
  const e = JSON.parse(r.stdout).exposures.find((x: any) => x.kind === kind && x.envPort === envPort);
  return e.listen.port;
}

// A local test server for the host.bind (and the no-envserve peer): HTTP echo of POST bodies.
const local = http.createServer((req, res) => req.pipe(res));
await new Promise<void>((r) => local.listen(0, '127.0.0.1', r));
const localPort = (local.address() as net.AddressInfo).port;

const k8sName = 'soak-k8s';
const k8s = await start(['serve', '-f', envFile(k8sName, [
  'def serve():',
  '    cloud.k8s.bind(env_port=9000, host_port=0, name="echo", protocol="tcp")',
  '    cloud.k8s.bind(env_port=8080, type=cloud.k8s.clusterIP, service_port=8080, name="svc")',
  '',
].join('\n')), '-n', ns, '--selector', 'app=soak']);
const localName = 'soak-local';
const host = await start(['serve', '-f', envFile(localName, `def serve():\n    host.bind(env_port=${localPort}, host_port=0, name="web")\n`), '--runtime', 'local']);
const pfPort = await listenPort(k8sName, 'k8s-port-forward', 9000);
const hostPort = await listenPort(localName, 'host', localPort);
const clusterIP = JSON.parse(kubectl('-n', ns, 'get', 'svc', `${k8sName}-svc`, '-o', 'json')).spec.clusterIP as string;

// The ClusterIP's traffic comes from inside the cluster's network namespace: a child that does
// one checked POST per line it reads ("<size> <seed>") and answers "ok" or the error.
const inNs = spawn('ip', ['netns', 'exec', NETNS, process.execPath, '-e', `
  const http = require('http'), crypto = require('crypto'), rl = require('readline').createInterface({ input: process.stdin });
  rl.on('line', (l) => {
    const [id, size] = l.split(' ').map(Number); const body = crypto.randomBytes(size);
    const req = http.request({ host: '${clusterIP}', port: 8080, path: '/echo', method: 'POST', agent: false, headers: { 'content-length': size } }, (res) => {
      const h = crypto.createHash('sha256'); res.on('data', (c) => h.update(c));
      res.on('end', () => console.log(id + ' ' + (h.digest('hex') === crypto.createHash('sha256').update(body).digest('hex') ? 'ok' : 'mismatch')));
    });
    req.setTimeout(20000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => console.log(id + ' ' + e.message.replace(/\\s+/g, '_')));
    req.end(body);
  });`], { stdio: ['pipe', 'pipe', 'inherit'] });
const nsPending = new Map<number, (r: string) => void>();
let nsBuf = '';
inNs.stdout!.on('data', (d) => {
  nsBuf += d;
  for (let i; (i = nsBuf.indexOf('\n')) >= 0; ) {
    const [id, r] = nsBuf.slice(0, i).split(' ');
    nsBuf = nsBuf.slice(i + 1);
    nsPending.get(Number(id))?.(r!);
    nsPending.delete(Number(id));
  }
});

/** Disruptions (pod replaced, API server restarted), as [start, end] ms; `to` is open while one runs. */
const disruptions: { what: string; from: number; to: number }[] = [];
const disrupted = (from: number, to: number) => disruptions.some((d) => d.from <= to && d.to >= from);
const size = () => [64, 4096, 65_536, 1 << 20][Math.floor(Math.random() * 4)]! + Math.floor(Math.random() * 64);

function tcpEcho(port: number, n: number): Promise<string> {
  const payload = randomBytes(n);
  return new Promise((res) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const h = createHash('sha256');
    let got = 0;
    const t = setTimeout(() => s.destroy(new Error('timeout')), 20_000);
    s.on('connect', () => s.end(payload));
    s.on('data', (c: Buffer) => {
      h.update(c);
      got += c.length;
    });
    s.on('end', () => {
      clearTimeout(t);
      res(got === n && h.digest('hex') === createHash('sha256').update(payload).digest('hex') ? 'ok' : `got ${got} of ${n} bytes`);
    });
    s.on('error', (e) => {
      clearTimeout(t);
      res(e.message);
    });
  });
}

function httpEcho(port: number, n: number): Promise<string> {
  const body = randomBytes(n);
  return new Promise((res) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', agent: false }, (r) => {
      const h = createHash('sha256');
      r.on('data', (c: Buffer) => h.update(c));
      r.on('end', () => res(h.digest('hex') === createHash('sha256').update(body).digest('hex') ? 'ok' : 'mismatch'));
      r.on('error', (e) => res(e.message));
    });
    req.setTimeout(20_000, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => res(e.message));
    req.end(body);
  });
}

let seq = 0;
function clusterEcho(n: number): Promise<string> {
  const id = ++seq;
  return new Promise((res) => {
    nsPending.set(id, res);
    inNs.stdin!.write(`${id} ${n}\n`);
  });
}

const paths: Record<string, (n: number) => Promise<string>> = {
  'port-forward': (n) => tcpEcho(pfPort, n),
  'ClusterIP Service': clusterEcho,
  'host.bind': (n) => httpEcho(hostPort, n),
  'direct (peer, no envserve)': (n) => httpEcho(localPort, n),
};
const results: Record<string, { ok: number; failedInDisruption: number; failedOtherwise: string[] }> = {};
for (const k of Object.keys(paths)) results[k] = { ok: 0, failedInDisruption: 0, failedOtherwise: [] };

function proc(pid: number): { rssMB: number; fds: number; cpuS: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return { rssMB: Math.round(rss * 10) / 10, fds: readdirSync(`/proc/${pid}/fd`).length, cpuS: (Number(stat[11]) + Number(stat[12])) / 100 };
}
const samples: Record<string, Record<string, ReturnType<typeof proc>>> = {};
const sample = (label: string) => (samples[label] = { 'serve (k8s)': proc(k8s.pid!), 'serve (local)': proc(host.pid!) });

console.log(`soak: ${MINUTES} min, ${PER_MINUTE} connections/min over ${Object.keys(paths).join(', ')}; pod replaced every 2 min, API server restarted at 1/3 and 2/3`);
const t0 = Date.now();
const end = t0 + MINUTES * 60_000;
const inflight = new Set<Promise<void>>();
const names = Object.keys(paths);
let n = 0;
let nextPodKill = t0 + 120_000;
const apiRestarts = [t0 + (MINUTES * 60_000) / 3, t0 + (2 * MINUTES * 60_000) / 3];
let sampled5 = false;

async function replacePod(): Promise<void> {
  const d = { what: 'pod replaced', from: Date.now(), to: Infinity };
  disruptions.push(d);
  const pods = async () => JSON.parse(await kubectlAsync('-n', ns, 'get', 'pods', '-l', 'app=soak', '-o', 'json')).items as any[];
  const old = (await pods()).find((p) => !p.metadata.deletionTimestamp)?.metadata.name;
  if (old) await kubectlAsync('-n', ns, 'delete', 'pod', old, '--wait=false');
  const ready = (p: any) => p.metadata.name !== old && !p.metadata.deletionTimestamp && p.status?.conditions?.some((c: any) => c.type === 'Ready' && c.status === 'True');
  while (!(await pods()).some(ready)) await sleep(250);
  await sleep(3000); // the old pod's grace period (2 s) ends within this
  d.to = Date.now();
}
async function restartApi(): Promise<void> {
  const d = { what: 'API server restarted', from: Date.now(), to: Infinity };
  disruptions.push(d);
  const code = await new Promise<number | null>((r) => spawn('bash', ['scripts/testenv/k8s/restart.sh', 'kube-apiserver'], { stdio: 'ignore' }).on('exit', r));
  if (code !== 0) throw new Error(`restart.sh kube-apiserver exited ${code}`);
  d.to = Date.now() + 2000;
}

let busy: Promise<void> | undefined;
while (Date.now() < end) {
  const now = Date.now();
  if (!sampled5 && now - t0 >= Math.min(5, MINUTES / 2) * 60_000) {
    sample('minute 5');
    sampled5 = true;
  }
  if (!busy && now >= nextPodKill) {
    nextPodKill += 120_000;
    busy = replacePod().finally(() => (busy = undefined));
  } else if (!busy && apiRestarts.length && now >= apiRestarts[0]!) {
    apiRestarts.shift();
    busy = restartApi().finally(() => (busy = undefined));
  }
  const name = names[n++ % names.length]!;
  const started = Date.now();
  const p = paths[name]!(size()).then((r) => {
    const ended = Date.now();
    if (r === 'ok') results[name]!.ok++;
    // Only the cluster's paths can be cut by the cluster's disruptions.
    else if ((name === 'port-forward' || name === 'ClusterIP Service') && disrupted(started, ended)) results[name]!.failedInDisruption++;
    else results[name]!.failedOtherwise.push(`${new Date(started).toISOString()} ${r}`);
  });
  inflight.add(p);
  void p.finally(() => inflight.delete(p));
  await sleep(60_000 / PER_MINUTE);
}
await Promise.all(inflight);
await busy;
sample('end');

console.log('\nconnections (byte-exact checks):');
for (const [k, r] of Object.entries(results)) {
  console.log(`  ${k.padEnd(28)} ok ${r.ok}, failed while their pod went away or the API server restarted ${r.failedInDisruption}, failed otherwise ${r.failedOtherwise.length}`);
  for (const f of r.failedOtherwise.slice(0, 5)) console.log(`      ${f}`);
}
console.log('\nenvserve processes:');
for (const k of Object.keys(samples['end']!)) {
  const a = samples['minute 5']![k]!;
  const b = samples['end']![k]!;
  const growth = (x: number, y: number) => `${(((y - x) / x) * 100).toFixed(1)}%`;
  console.log(`  ${k.padEnd(14)} RSS ${a.rssMB} → ${b.rssMB} MB (${growth(a.rssMB, b.rssMB)}), open fds ${a.fds} → ${b.fds} (${growth(a.fds, b.fds)}), CPU ${b.cpuS.toFixed(1)} s over ${MINUTES} min (${((b.cpuS / (MINUTES * 60)) * 100).toFixed(1)}% of a core)`);
}
console.log(`disruptions: ${disruptions.map((d) => `${d.what} at +${Math.round((d.from - t0) / 1000)} s`).join(', ')}`);
console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}; node ${process.version}`);

for (const p of [k8s, host]) p.kill('SIGTERM');
inNs.kill();
local.close();
spawnSync(process.execPath, [BIN, 'down', '--env', k8sName], { env: vars });
kubectl('delete', 'namespace', ns, '--wait=false');
stopClusterIfStarted();
const failedOtherwise = Object.entries(results).filter(([k]) => !k.startsWith('direct')).reduce((s, [, r]) => s + r.failedOtherwise.length, 0);
process.exit(failedOtherwise === 0 ? 0 : 1);
