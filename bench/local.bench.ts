// Benchmark of local exposure: envserve's TCP proxy (the real CLI, `envserve serve`) against
// direct loopback, socat, and Podman's published port, all measured in this one run with the
// same Go servers (scripts/testenv/podman/testsrv) and the same clients. Prints figures and ratios.
// Run: npm run bench:local   (starts Podman through scripts/testenv/podman/up.sh, stops it after)
//
// Throughput: one connection reads BYTES from a "source" server; RUNS rounds, the paths taking
// turns within each round (so a burst of other work on the machine hits them alike); median.
// Latency, 1 connection: 64-byte ping-pongs back to back (testsrv rtt).
// Latency, 100 connections (the target): 100 independent clients (bench/rttload), each sending a
// 64-byte ping, waiting for the echo, then pausing a random 5..15 ms: ~10,000 round trips/s in
// all, at random moments (close to a Poisson stream), as independent users' clients send. The
// schedule comes from a seed, and within a round every path gets the same seed, in turns; the
// figures are medians over LAT_ROUNDS rounds, and "added" is the median of (path − direct) within
// each round. The clients wait on timerfds: Go's own timers (testsrv rtt) wake on whole
// milliseconds, so its 100 "spread" connections ping in bursts of ~10 within a few µs, and a
// burst queues behind itself in any single-threaded forwarder; that load is still printed
// (bursts, one run per path) for comparison with earlier runs, but it measures the burst, not
// the proxy. Each load also prints how bursty it really was and how late the client itself ran.
// The 100-client rounds follow one unmeasured warm-up round per path (printed on its own line).
// Memory: the envserve process's RSS now and its peak (VmHWM) after all of that: per process, so
// its forwarding threads' memory is in it. CPU: each path's own processes (envserve with all its
// threads, socat with its per-connection children) per round, from /proc/<pid>/stat.
// envserve runs as users run it (its default forwarding threads; BENCH_THREADS sets
// ENVSERVE_PROXY_THREADS); "envserveN" is the same CLI with the other choice: ENVSERVE_PROXY_THREADS=1
// when the default is more, else 2 (BENCH_ALT_THREADS sets it) (the proxy
// on the main thread), measured in the same rounds for comparison.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DockerEngine, type Container } from '../src/apply/docker/client.js';
import { listTcpListeners } from '../src/apply/local/proc-net.js';
import { defaultProxyThreads } from '../src/apply/local/proxy.js';
import { ensureBuilt } from '../test/local/cli-helpers.js';
import { bg, children, freePort, goTool, median, REPO, sh, waitPort } from './local-lib.js';

const BYTES = Number(process.env.BENCH_BYTES ?? 4 * 1024 ** 3);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LAT_ROUNDS = Number(process.env.BENCH_LAT_ROUNDS ?? 5);
const LAT_CONNS = 100;
const LAT_PINGS = 200; // per connection and round: ~2 s
const LAT_GAP_US = 10000; // mean pause between a reply and the next ping
const THREADS = process.env.BENCH_THREADS; // unset: envserve's default
const ALT = process.env.BENCH_ALT_THREADS ?? (Number(THREADS ?? defaultProxyThreads()) > 1 ? '1' : '2');
const label = (n: string) => (n === 'alt' ? `envserve${ALT}` : n);



/** CPU time (clock ticks) of the whole machine: [busy, total]. */
function machineTicks(): [number, number] {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3]! + f[4]!; // idle + iowait
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // without guest time (counted in user)
  return [total - idle, total];
}

/** CPU time (clock ticks) of these processes, with their reaped children. */
function processTicks(pids: number[]): number {
  let n = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const v = f.slice(f.lastIndexOf(')') + 2).split(' ').map(Number); // fields from 3 on
      n += v[11]! + v[12]! + v[13]! + v[14]!; // utime stime cutime cstime
    } catch {
      /* gone */
    }
  }
  return n;
}

/** Per thread of a process (by name; Node's forwarding workers are all "WorkerThread"): CPU and run-queue wait, ns, from schedstat. */
function threadSched(pid: number): Map<string, { cpu: number; wait: number }> {
  const out = new Map<string, { cpu: number; wait: number }>();
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      const comm = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trim();
      const [cpu = 0, wait = 0] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').trim().split(' ').map(Number);
      const key = comm === 'WorkerThread' ? `WorkerThread#${tid}` : comm.startsWith('node-V8Worker') ? 'V8 workers' : comm;
      const o = out.get(key) ?? { cpu: 0, wait: 0 };
      out.set(key, { cpu: o.cpu + cpu, wait: o.wait + wait });
    } catch {
      /* gone */
    }
  }
  return out;
}

/** RSS of a process split by kind (smaps_rollup), MB: anonymous, file-backed, and file pages mapped as 2 MB folios. */
function rssParts(pid: number): string {
  const r = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(r)?.[1] ?? 0);
  const mb = (x: number) => (x / 1024).toFixed(0);
  return `anonymous ${mb(kb('Anonymous'))} MB, file-backed ${mb(kb('Rss') - kb('Anonymous'))} MB (of it ${mb(kb('FilePmdMapped'))} MB in 2 MB page-cache folios), PSS ${mb(kb('Pss'))} MB`;
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** The paths in a different order each round, so none is always first or last. */
const turns = <T>(xs: T[], round: number): T[] => xs.map((_, i) => xs[(i + round) % xs.length]!);

async function main() {
  ensureBuilt(); // bin/envserve.js runs dist/
  const rttload = goTool('bench/rttload', 'rttload');
  sh('bash', ['scripts/testenv/podman/up.sh']);
  const env = JSON.parse(readFileSync(join(REPO, '.testenv/podman/env.json'), 'utf8')) as Record<string, string>;
  Object.assign(process.env, env);
  const testsrv = env.ENVSERVE_TESTSRV!;
  const docker = new DockerEngine(env.DOCKER_HOST!);
  let container: Container | undefined;
  try {
    // Servers on the host.
    const src = await freePort();
    const echo = await freePort();
    bg(testsrv, ['source', `127.0.0.1:${src}`]);
    bg(testsrv, ['echo', `127.0.0.1:${echo}`]);
    // envserve serve, the real CLI (dist/: npm run build first), one exposure per server; twice:
    // as users run it (forwarding threads), and with the proxy on its main thread.
    const serve = async (threads: string | undefined) => {
      const ports = [await freePort(), await freePort()] as const;
      const dir = join(mkdtempSync(join(tmpdir(), 'envserve-bench-')), 'bench');
      mkdirSync(dir);
      writeFileSync(join(dir, 'build.envd'), `def serve():\n    host.bind(env_port=${src}, host_port=${ports[0]}, name="source")\n    host.bind(env_port=${echo}, host_port=${ports[1]}, name="echo")\n`);
      const env: NodeJS.ProcessEnv = { ...process.env, ENVSERVE_STATE_DIR: join(dir, 'state') };
      if (threads) env.ENVSERVE_PROXY_THREADS = threads;
      else delete env.ENVSERVE_PROXY_THREADS;
      return { ports, proc: bg(process.execPath, [join(REPO, 'bin/envserve.js'), 'serve', '-f', join(dir, 'build.envd'), '--probe-interval', '60000'], env) };
    };
    const { ports: [pSrc, pEcho], proc: envserve } = await serve(THREADS);
    const { ports: [qSrc, qEcho], proc: envserveAlt } = await serve(ALT);
    // socat, the usual tool for the job.
    const [sSrc, sEcho] = [await freePort(), await freePort()];
    const socats = [
      bg('socat', [`TCP-LISTEN:${sSrc},bind=127.0.0.1,fork,reuseaddr`, `TCP:127.0.0.1:${src}`]),
      bg('socat', [`TCP-LISTEN:${sEcho},bind=127.0.0.1,fork,reuseaddr`, `TCP:127.0.0.1:${echo}`]),
    ];
    // The same servers in a container, published by the engine.
    const [cSrc, cEcho] = [await freePort(), await freePort()];
    container = await docker.createContainer({
      Image: env.ENVSERVE_TEST_IMAGE!,
      Cmd: ['sh', '-c', 'testsrv source 0.0.0.0:9001 & exec testsrv echo 0.0.0.0:9002'],
      ExposedPorts: { '9001/tcp': {}, '9002/tcp': {} },
      HostConfig: { PortBindings: { '9001/tcp': [{ HostIp: '127.0.0.1', HostPort: String(cSrc) }], '9002/tcp': [{ HostIp: '127.0.0.1', HostPort: String(cEcho) }] } },
    });
    await container.start();
    for (const p of [src, echo, pSrc, pEcho, qSrc, qEcho, sSrc, sEcho, cSrc, cEcho]) await waitPort(p);
    // envserve's forwarding threads: one listening socket each on its port.
    const threads = listTcpListeners().filter((l) => l.port === pEcho).length;

    const paths = { direct: [src, echo], envserve: [pSrc, pEcho], alt: [qSrc, qEcho], socat: [sSrc, sEcho], podman: [cSrc, cEcho] } as const;
    type Path = keyof typeof paths;
    const names = Object.keys(paths) as Path[];
    const perPath = <T>(f: () => T) => Object.fromEntries(names.map((n) => [n, f()])) as Record<Path, T>;
    // Each path's own processes, for its CPU time (direct: the servers' and clients' only; podman: not known here).
    const pidsOf: Partial<Record<Path, number[]>> = { envserve: [envserve.pid!], alt: [envserveAlt.pid!], socat: socats.map((c) => c.pid!) };
    /** Runs f and returns its result with the CPU seconds the path's processes spent meanwhile. */
    const withCpu = async <T>(n: Path, f: () => T): Promise<[T, number]> => {
      const t0 = processTicks(pidsOf[n] ?? []);
      const v = f();
      await new Promise((res) => setTimeout(res, 100)); // socat's per-connection child exits and is reaped
      return [v, (processTicks(pidsOf[n] ?? []) - t0) / TICKS];
    };
    for (const n of names) sh(testsrv, ['tput', `127.0.0.1:${paths[n][0]}`, String(64 << 20), '1']); // warm-up
    const tputRuns = perPath((): number[] => []);
    const tputCpu = perPath((): number[] => []);
    for (let r = 0; r < RUNS; r++) {
      for (const n of turns(names, r)) {
        const [bps, cpu] = await withCpu(n, () => Number(sh(testsrv, ['tput', `127.0.0.1:${paths[n][0]}`, String(BYTES), '1'])));
        tputRuns[n].push(bps);
        tputCpu[n].push(cpu);
      }
    }
    const tput = perPath(() => 0);
    for (const n of names) tput[n] = median(tputRuns[n]);
    // 1 connection, back to back: [p50, p99, count]
    const c1 = perPath((): number[] => []);
    for (const n of names) c1[n] = sh(testsrv, ['rtt', `127.0.0.1:${paths[n][1]}`, '1', '20000', '0']).trim().split(' ').map(Number);
    // 100 independent clients: per round [p50, p99, p99.9, count, late p50, late p99, burst p99]
    const c100 = perPath((): number[][] => []);
    const c100Cpu = perPath((): number[] => []);
    // One warm-up round per path first, not counted: the rounds measure the steady state a proxy
    // that runs for hours is in. A fresh Node.js process is slower for its first ~40,000 round
    // trips at this load (JIT compilation, heap growth: measured +0.8..2.7 ms at p99 in its first
    // two rounds, +0.2..0.5 ms after); the warm-up's figures are printed, so that cost stays visible.
    const warm = perPath((): number[] => []);
    for (const n of names) warm[n] = sh(rttload, [`127.0.0.1:${paths[n][1]}`, String(LAT_CONNS), String(LAT_PINGS), String(LAT_GAP_US), '0']).trim().split(' ').map(Number);
    // Other work on the machine during these runs (not this benchmark's processes; the Podman
    // container's are not known here, so its runs are left out): the share of both cores it used.
    const ours = [process.pid, ...children.map((c) => c.pid!)];
    const others: number[] = [];
    // Per thread of each envserve during its rounds: CPU and time spent runnable but waiting for a core.
    const sched: Partial<Record<Path, Map<string, { cpu: number; wait: number }>>> = { envserve: new Map(), alt: new Map() };
    for (let r = 0; r < LAT_ROUNDS; r++) {
      for (const n of turns(names, r)) {
        const [b0, t0] = machineTicks();
        const o0 = processTicks(ours);
        const p0 = processTicks(pidsOf[n] ?? []);
        const s0 = sched[n] && threadSched(pidsOf[n]![0]!);
        c100[n].push(sh(rttload, [`127.0.0.1:${paths[n][1]}`, String(LAT_CONNS), String(LAT_PINGS), String(LAT_GAP_US), String(r + 1)]).trim().split(' ').map(Number));
        await new Promise((res) => setTimeout(res, 100)); // socat's per-connection children exit and are reaped
        c100Cpu[n].push((processTicks(pidsOf[n] ?? []) - p0) / TICKS);
        if (s0) {
          for (const [k, v] of threadSched(pidsOf[n]![0]!)) {
            const a = sched[n]!.get(k) ?? { cpu: 0, wait: 0 };
            const b = s0.get(k) ?? { cpu: 0, wait: 0 };
            sched[n]!.set(k, { cpu: a.cpu + v.cpu - b.cpu, wait: a.wait + v.wait - b.wait });
          }
        }
        const [b1, t1] = machineTicks();
        if (n !== 'podman') others.push(Math.max(0, (b1 - b0 - (processTicks(ours) - o0)) / (t1 - t0)));
      }
    }
    // The old load, for comparison: testsrv rtt's Go-timer clients (bursts), one run per path.
    const burst = perPath((): number[] => []);
    for (const n of names) burst[n] = sh(testsrv, ['rtt', `127.0.0.1:${paths[n][1]}`, '100', '300', '10000']).trim().split(' ').map(Number);
    const mem = (pid: number) => {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      return `RSS ${(kb('VmRSS') / 1024).toFixed(0)} MB, peak ${(kb('VmHWM') / 1024).toFixed(0)} MB (${kb('Threads')} OS threads)`;
    };

    console.log(`\nmachine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (other work on the machine skews latency most); Node.js ${process.version}`);
    console.log(`envserve: ${threads} forwarding threads${THREADS ? ` (BENCH_THREADS=${THREADS})` : ' (its default)'}; envserve${ALT}: ENVSERVE_PROXY_THREADS=${ALT}`);
    const cpuOf = (xs: number[]) => `${median(xs).toFixed(2)} CPU-s`;
    const gbit = (b: number) => `${((b * 8) / 1e9).toFixed(1)} Gbit/s`;
    console.log(`\nthroughput, 1 connection, ${(BYTES / 1024 ** 3).toFixed(1)} GiB, median of ${RUNS} rounds (paths in turns):`);
    for (const n of names) console.log(`  ${label(n).padEnd(9)} ${gbit(tput[n])}   (runs: ${tputRuns[n].map(gbit).join(', ')})${pidsOf[n] ? `   proxy ${cpuOf(tputCpu[n])} per transfer` : ''}`);
    console.log(`  envserve / direct = ${(tput.envserve! / tput.direct!).toFixed(2)}x   (target >= 0.5)   envserve${ALT} / direct = ${(tput.alt! / tput.direct!).toFixed(2)}x`);
    console.log(`  envserve / socat  = ${(tput.envserve! / tput.socat!).toFixed(2)}x   (target >= 1.0)`);
    console.log(`  envserve / podman published port = ${(tput.envserve! / tput.podman!).toFixed(2)}x`);
    const col = (n: Path, i: number) => median(c100[n].map((x) => x[i]!));
    const added = (n: Path, i: number) => median(c100[n].map((x, r) => x[i]! - c100.direct[r]![i]!));
    const sign = (x: number) => (x >= 0 ? `+${x}` : `${x}`);
    console.log('\nround trip, 64 bytes, 1 connection back to back (µs): p50 / p99, and added over direct');
    for (const n of names) {
      const add = (i: number) => (n === 'direct' ? '' : ` (${sign(c1[n][i]! - c1.direct[i]!)})`);
      console.log(`  ${label(n).padEnd(9)} ${c1[n][0]}${add(0)} / ${c1[n][1]}${add(1)}`);
    }
    console.log(`\nround trip, 64 bytes, ${LAT_CONNS} independent clients, each: ping, echo, pause uniform ${LAT_GAP_US / 2000}..${(LAT_GAP_US * 3) / 2000} ms`);
    console.log(`  (~${Math.round((LAT_CONNS * 1e6) / LAT_GAP_US)} round trips/s at random moments, started at random offsets; ${LAT_PINGS} pings per client and round;`);
    console.log(`  ${LAT_ROUNDS} rounds, the same seeded schedule for every path within a round, paths in turns; medians over rounds)`);
    console.log('  µs: p50 / p99 / p99.9, added over direct (median of per-round differences); client: its own lateness p99, burst = p99 of pings sent in the 50 µs before a ping');
    for (const n of names) {
      const add = (i: number) => (n === 'direct' ? '' : ` (${sign(added(n, i))})`);
      console.log(`  ${label(n).padEnd(9)} ${col(n, 0)}${add(0)} / ${col(n, 1)}${add(1)} / ${col(n, 2)}${add(2)}    client late p99 ${col(n, 5)}, burst ${col(n, 6)}${pidsOf[n] ? `; proxy ${cpuOf(c100Cpu[n])} per round` : ''}`);
    }
    const busy = median(others);
    console.log(`  other work on the machine during these runs: ${(busy * 100).toFixed(0)}% of all cores (median; max ${(Math.max(...others) * 100).toFixed(0)}%)${busy > 0.1 ? '  BUSY: these latencies are mostly the machine, not the paths; run again when it is quiet' : ''}`);
    console.log(`  envserve added p99 at ${LAT_CONNS} connections: ${added('envserve', 1)} µs (target <= 200); per round: ${c100.envserve.map((x, r) => x[1]! - c100.direct[r]![1]!).join(' ')}`);
    console.log(`  envserve${ALT} added p99: ${added('alt', 1)} µs; per round: ${c100.alt.map((x, r) => x[1]! - c100.direct[r]![1]!).join(' ')}`);
    console.log(`  socat added p99: ${added('socat', 1)} µs; per round: ${c100.socat.map((x, r) => x[1]! - c100.direct[r]![1]!).join(' ')}`);
    for (const n of ['envserve', 'alt'] as const) {
      const per = [...sched[n]!].filter(([, v]) => v.cpu > 1e6).map(([k, v]) => `${k.replace(/#\d+$/, '')} ${(v.cpu / 1e6 / LAT_ROUNDS).toFixed(0)} ms CPU, ${(v.wait / 1e6 / LAT_ROUNDS).toFixed(0)} ms waiting for a core`);
      console.log(`  ${label(n)} threads per round (schedstat): ${per.join('; ')}`);
    }
    console.log(`  warm-up round (fresh processes, not counted), added p99: ${names.filter((n) => n !== 'direct').map((n) => `${label(n)} ${sign(warm[n][1]! - warm.direct[1]!)}`).join(', ')} µs`);
    console.log('\nfor comparison only, the earlier load: testsrv rtt, 100 connections on Go timers every 10 ms (ms-tick bursts), one run (µs): p50 / p99');
    for (const n of names) {
      const add = (i: number) => (n === 'direct' ? '' : ` (${sign(burst[n][i]! - burst.direct[i]!)})`);
      console.log(`  ${label(n).padEnd(9)} ${burst[n][0]}${add(0)} / ${burst[n][1]}${add(1)}`);
    }
    console.log(`\nenvserve process memory (all its threads): ${mem(envserve.pid!)} (target <= 100)`);
    console.log(`  ${rssParts(envserve.pid!)}`);
    console.log(`envserve${ALT} process memory: ${mem(envserveAlt.pid!)}`);
    console.log(`  ${rssParts(envserveAlt.pid!)}`);
    console.log(`  (${process.execPath}: file pages in 2 MB folios are whole folios in RSS: a binary written recently, e.g. by npm, shows ~30 MB more than the same binary read from disk)`);
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await container?.remove({ force: true }).catch(() => {});
    sh('bash', ['scripts/testenv/podman/down.sh']);
  }
}

main().catch((e) => {
  console.error(e);
  for (const c of children) c.kill('SIGKILL');
  process.exitCode = 1;
});
