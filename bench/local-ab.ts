// Side harness of bench:local for trying proxy variants: the bench's own latency clients
// (bench/rttload, 100 clients, one seed for every path within a round; testsrv rtt, 1 connection)
// against direct loopback, socat and any number of `envserve serve` variants (thread count, Node
// flags, another checkout), paths in turns, many short rounds; prints medians of per-round
// differences against direct, how often each beat socat in the same round, and RSS.
// No throughput, no Podman: a variant that looks better here still needs `npm run bench:local`.
// Run: BENCH_AB_PATHS='one=1;two=2;young8=1 --min-semi-space-size=8 --max-semi-space-size=8' \
//      BENCH_AB_ROUNDS=20 npx tsx bench/local-ab.ts
// A path is name=threads[ node flags]; BENCH_AB_REPO_<name> runs another checkout's bin/envserve.js.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from '../test/local/cli-helpers.js';
import { bg, freePort, goTool, median, REPO, runBench, sh, waitPort } from './local-lib.js';

const ROUNDS = Number(process.env.BENCH_AB_ROUNDS ?? 20);
const SPECS = (process.env.BENCH_AB_PATHS ?? 'envserve=1').split(';').filter(Boolean);
const rss = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

async function main() {
  ensureBuilt();
  const rttload = goTool('bench/rttload', 'rttload');
  const testsrv = process.env.ENVSERVE_TESTSRV ?? goTool('scripts/testenv/podman/testsrv', 'testsrv');
  const echo = await freePort();
  bg(testsrv, ['echo', `127.0.0.1:${echo}`]);
  const ports: Record<string, number> = { direct: echo };
  const pids: Record<string, number> = {};
  for (const spec of SPECS) {
    const eq = spec.indexOf('=');
    const [name, rest] = eq < 0 ? [spec, '1'] : [spec.slice(0, eq), spec.slice(eq + 1)]; // flags may hold '=' too
    const [threads, ...flags] = rest.split(' ').filter(Boolean);
    const port = await freePort();
    const dir = join(mkdtempSync(join(tmpdir(), 'envserve-ab-')), 'ab');
    mkdirSync(dir);
    writeFileSync(join(dir, 'build.envd'), `def serve():\n    host.bind(env_port=${echo}, host_port=${port}, name="echo")\n`);
    const repo = process.env[`BENCH_AB_REPO_${name}`] ?? REPO;
    const env = { ...process.env, ENVSERVE_STATE_DIR: join(dir, 'state'), ENVSERVE_PROXY_THREADS: threads };
    pids[name] = bg(process.execPath, [...flags, join(repo, 'bin/envserve.js'), 'serve', '-f', join(dir, 'build.envd'), '--probe-interval', '60000'], env).pid!;
    ports[name] = port;
  }
  const socat = await freePort();
  pids.socat = bg('socat', [`TCP-LISTEN:${socat},bind=127.0.0.1,fork,reuseaddr`, `TCP:127.0.0.1:${echo}`]).pid!;
  ports.socat = socat;
  for (const p of Object.values(ports)) await waitPort(p);
  const names = Object.keys(ports);
  const load = (n: string, seed: number) => sh(rttload, [`127.0.0.1:${ports[n]}`, '100', '200', '10000', String(seed)]).trim().split(' ').map(Number);
  for (const n of names) load(n, 0); // warm-up, as bench:local
  const c100: Record<string, number[][]> = Object.fromEntries(names.map((n) => [n, []]));
  const c1: Record<string, number[][]> = Object.fromEntries(names.map((n) => [n, []]));
  const loads: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]!);
    for (const n of order) c100[n]!.push(load(n, r + 1));
    for (const n of order) c1[n]!.push(sh(testsrv, ['rtt', `127.0.0.1:${ports[n]}`, '1', '5000', '0']).trim().split(' ').map(Number));
    loads.push(loadavg()[0]!);
  }
  const added = (m: Record<string, number[][]>, n: string, i: number) => median(m[n]!.map((x, r) => x[i]! - m.direct![r]![i]!));
  console.log(`${ROUNDS} rounds, load average per round ${Math.min(...loads).toFixed(1)}..${Math.max(...loads).toFixed(1)} (median ${median(loads).toFixed(1)}); Node.js ${process.version}`);
  console.log('added over direct, medians of per-round differences (µs): 100 clients p50 / p99 / p99.9; 1 connection p50 / p99');
  for (const n of names.filter((x) => x !== 'direct')) {
    const wins = c100[n]!.filter((x, r) => x[1]! <= c100.socat![r]![1]!).length;
    console.log(`  ${n.padEnd(10)} +${added(c100, n, 0)} / +${added(c100, n, 1)} / +${added(c100, n, 2)};  1 conn +${added(c1, n, 0)} / +${added(c1, n, 1)};  p99 <= socat's in ${wins} of ${ROUNDS} rounds;  RSS ${rss(pids[n]!).toFixed(0)} MB`);
  }
}

runBench(main);
