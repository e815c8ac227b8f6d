// The login gateway's cost (issue 22): requests/s, p50/p99 latency and CPU of one app reached
// directly (the peer) and through the gateway (session cookie checked, its own cookie stripped,
// proxied), in the same run, alternating, with CONCURRENCY keep-alive clients for SECONDS each.
// Then the real path (bench/share-cluster.ts): on the test cluster, one pod behind a `public`
// Ingress and a login-level one (envserve's check in Traefik, the operator's gateway deciding what
// it does not let through), both through Traefik over HTTPS, the login path as a browser (passes
// kept) and with the session cookie alone (every request to the gateway), and the floor of any
// hop in the path (a TCP relay that parses nothing);
// BENCH_CLUSTER_CONNS keep-alive clients; requests/s, p50/p99, and CPU of Traefik and of the
// in-path pods per request.
//
//   npm run bench:share    (BENCH_SECONDS=5 BENCH_CONCURRENCY=32 BENCH_ROUNDS=2 BENCH_CLUSTER_CONNS=64
//                           BENCH_CLUSTER_ROUNDS=3; uses the running test cluster of
//                           ENVSERVE_TESTENV_SLOT, else starts one and stops it after;
//                           BENCH_CLUSTER=0 skips the cluster rows)
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { cpus } from 'node:os';
import { ensureCluster, stopClusterIfStarted } from './cluster.js';
import { cpuSeconds, median } from './local-lib.js';
import { measureCluster } from './share-cluster.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const CLUSTER = process.env.BENCH_CLUSTER !== '0';
const CLUSTER_CONNS = Number(process.env.BENCH_CLUSTER_CONNS ?? 64);
const CLUSTER_ROUNDS = Number(process.env.BENCH_CLUSTER_ROUNDS ?? 3);
const children: ChildProcess[] = [];

// BENCH_GATEWAY_NODE_FLAGS: extra Node flags for the gateway's process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/gw"
// (where its CPU goes) or "--max-semi-space-size=1" (as bin/envserve.js starts the operator).
const GATEWAY_FLAGS = (process.env.BENCH_GATEWAY_NODE_FLAGS ?? '').split(' ').filter(Boolean);

function start(args: string[]): Promise<{ pid: number; info: Record<string, any> }> {
  const flags = args[0] === 'gateway' ? GATEWAY_FLAGS : [];
  const p = spawn(process.execPath, [...flags, '--import', 'tsx', new URL('./share-child.ts', import.meta.url).pathname, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  return new Promise((resolve, reject) => {
    p.stdout!.once('data', (d) => resolve({ pid: p.pid!, info: JSON.parse(String(d)) }));
    p.once('exit', (c) => reject(new Error(`child exited ${c}`)));
  });
}

async function load(port: number, headers: Record<string, string>): Promise<{ rps: number; p50: number; p99: number; errors: number }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const lat: number[] = [];
  let errors = 0;
  const end = Date.now() + SECONDS * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = process.hrtime.bigint();
      http.get({ host: '127.0.0.1', port, path: '/lab/api/x', agent, headers }, (res) => {
        res.resume().on('end', () => {
          if (res.statusCode === 200) lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
          else errors++;
          resolve();
        });
      }).on('error', () => (errors++, resolve()));
    });
  const t0 = Date.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (Date.now() < end) await one(); }));
  const secs = (Date.now() - t0) / 1000;
  agent.destroy();
  lat.sort((a, b) => a - b);
  return { rps: lat.length / secs, p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]!, errors };
}

try {
  const app = await start(['app']);
  const gw = await start(['gateway', String(app.info.port)]);
  const rows: Record<string, { rps: number[]; p50: number[]; p99: number[]; cpu: number[] }> = { direct: { rps: [], p50: [], p99: [], cpu: [] }, gateway: { rps: [], p50: [], p99: [], cpu: [] } };
  for (let r = 0; r < ROUNDS; r++) {
    for (const which of ['direct', 'gateway'] as const) {
      const [port, headers] = which === 'direct' ? [app.info.port, { host: gw.info.host }] : [gw.info.port, { host: gw.info.host, cookie: `${gw.info.cookie}; other=1` }];
      const c0 = cpuSeconds([app.pid, gw.pid]);
      const m = await load(port, headers);
      if (m.errors) throw new Error(`${which}: ${m.errors} failed requests`);
      const used = cpuSeconds([app.pid, gw.pid]) - c0;
      const row = rows[which]!;
      row.rps.push(m.rps); row.p50.push(m.p50); row.p99.push(m.p99); row.cpu.push((used / (m.rps * SECONDS)) * 1e6);
    }
  }
  const d = rows.direct!, g = rows.gateway!;
  console.log(`login gateway bench: ${CONCURRENCY} keep-alive clients, ${SECONDS} s × ${ROUNDS} rounds each (medians), Node ${process.version}`);
  console.log(`  direct to the app   ${median(d.rps).toFixed(0).padStart(7)} req/s   p50 ${median(d.p50).toFixed(2)} ms   p99 ${median(d.p99).toFixed(2)} ms   CPU ${median(d.cpu).toFixed(0)} µs/request (app)`);
  console.log(`  through the gateway ${median(g.rps).toFixed(0).padStart(7)} req/s   p50 ${median(g.p50).toFixed(2)} ms   p99 ${median(g.p99).toFixed(2)} ms   CPU ${median(g.cpu).toFixed(0)} µs/request (app + gateway)`);
  console.log(`  added: p50 +${(median(g.p50) - median(d.p50)).toFixed(2)} ms, p99 +${(median(g.p99) - median(d.p99)).toFixed(2)} ms; throughput ${(median(g.rps) / median(d.rps)).toFixed(2)}× (targets: ≤ 2 ms at p50, ≥ 0.8×)`);
} finally {
  for (const c of children) c.kill();
}

if (CLUSTER) {
  const kubeconfig = ensureCluster();
  try {
    const r = await measureCluster({ seconds: SECONDS, conns: CLUSTER_CONNS, rounds: CLUSTER_ROUNDS, kubeconfig });
      const line = (name: string, x: typeof r.public, inPath = 'operator') => `  ${name} ${median(x.rps).toFixed(0).padStart(7)} req/s   p50 ${median(x.p50).toFixed(2)} ms   p99 ${median(x.p99).toFixed(2)} ms   CPU/request: Traefik ${median(x.traefik).toFixed(0)} µs, ${inPath} ${median(x.operator).toFixed(0)} µs`;
    console.log(`through Traefik (HTTPS, test cluster): ${CLUSTER_CONNS} keep-alive clients (bench/httpsload), ${SECONDS} s × ${CLUSTER_ROUNDS} rounds each, alternating (medians); ${r.operatorPods} operator pods; ${cpus().length} cores, load average after ${r.loadavg}`);
    console.log(line('public Ingress     ', r.public));
    console.log(line('TCP relay Ingress  ', r.relay, 'relay'));
    console.log(line('login-level Ingress', r.login));
    console.log(line('  decided by gateway', r.gateway));
    const p = r.public, l = r.login;
    console.log(`  the floor of any hop in the path (the relay): p50 +${(median(r.relay.p50) - median(p.p50)).toFixed(2)} ms, throughput ${(median(r.relay.rps) / median(p.rps)).toFixed(2)}×`);
    console.log(`  added by the login: p50 +${(median(l.p50) - median(p.p50)).toFixed(2)} ms, p99 +${(median(l.p99) - median(p.p99)).toFixed(2)} ms; throughput ${(median(l.rps) / median(p.rps)).toFixed(2)}× (targets: ≤ 2 ms at p50, ≥ 0.8×)`);
    console.log(`  every request decided by the gateway (a session cookie, never a pass): throughput ${(median(r.gateway.rps) / median(p.rps)).toFixed(2)}×`);
  } finally {
    stopClusterIfStarted();
  }
}
