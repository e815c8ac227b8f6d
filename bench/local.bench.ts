// Benchmark of local exposure: envserve's TCP proxy (the real CLI, `envserve serve`) against
// direct loopback, socat, and Podman's published port, all measured in this one run with the
// same Go server and client (scripts/testenv/podman/testsrv). Prints figures and ratios.
// Run: npm run bench:local   (starts Podman through scripts/testenv/podman/up.sh, stops it after)
//
// Throughput: one connection reads BYTES from a "source" server (median of RUNS).
// Latency: 64-byte ping-pongs through an echo server. With 1 connection back to back; with 100
// connections each pinging every 10 ms (10,000 round trips/s in all). Added = via − direct.
// Memory: the envserve process's RSS now and its peak (VmHWM) after all of that.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import net from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Docker from 'dockerode';
import { ensureBuilt } from '../test/local/cli-helpers.js';

const REPO = resolve(import.meta.dirname ?? '.', '..');
const BYTES = Number(process.env.BENCH_BYTES ?? 4 * 1024 ** 3);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const children: ChildProcess[] = [];

function sh(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: REPO });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

function bg(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  children.push(c);
  return c;
}

function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
}

async function waitPort(port: number, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((r) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), r(true)));
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not open`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  ensureBuilt(); // bin/envserve.js runs dist/
  sh('bash', ['scripts/testenv/podman/up.sh']);
  const env = JSON.parse(readFileSync(join(REPO, '.testenv/podman/env.json'), 'utf8')) as Record<string, string>;
  Object.assign(process.env, env);
  const testsrv = env.ENVSERVE_TESTSRV!;
  const docker = new Docker({ socketPath: env.DOCKER_HOST!.replace('unix://', '') });
  let container: Docker.Container | undefined;
  try {
    // Servers on the host.
    const src = await freePort();
    const echo = await freePort();
    bg(testsrv, ['source', `127.0.0.1:${src}`]);
    bg(testsrv, ['echo', `127.0.0.1:${echo}`]);
    // envserve serve, the real CLI (dist/: npm run build first), one exposure per server.
    const [pSrc, pEcho] = [await freePort(), await freePort()];
    const dir = join(mkdtempSync(join(tmpdir(), 'envserve-bench-')), 'bench');
    mkdirSync(dir);
    writeFileSync(join(dir, 'build.envd'), `def serve():\n    host.bind(env_port=${src}, host_port=${pSrc}, name="source")\n    host.bind(env_port=${echo}, host_port=${pEcho}, name="echo")\n`);
    const envserve = bg(process.execPath, [join(REPO, 'bin/envserve.js'), 'serve', '-f', join(dir, 'build.envd'), '--probe-interval', '60000'], {
      ...process.env, ENVSERVE_STATE_DIR: join(dir, 'state'),
    });
    // socat, the usual tool for the job.
    const [sSrc, sEcho] = [await freePort(), await freePort()];
    bg('socat', [`TCP-LISTEN:${sSrc},bind=127.0.0.1,fork,reuseaddr`, `TCP:127.0.0.1:${src}`]);
    bg('socat', [`TCP-LISTEN:${sEcho},bind=127.0.0.1,fork,reuseaddr`, `TCP:127.0.0.1:${echo}`]);
    // The same servers in a container, published by the engine.
    const [cSrc, cEcho] = [await freePort(), await freePort()];
    container = await docker.createContainer({
      Image: env.ENVSERVE_TEST_IMAGE!,
      Cmd: ['sh', '-c', 'testsrv source 0.0.0.0:9001 & exec testsrv echo 0.0.0.0:9002'],
      ExposedPorts: { '9001/tcp': {}, '9002/tcp': {} },
      HostConfig: { PortBindings: { '9001/tcp': [{ HostIp: '127.0.0.1', HostPort: String(cSrc) }], '9002/tcp': [{ HostIp: '127.0.0.1', HostPort: String(cEcho) }] } },
    });
    await container.start();
    for (const p of [src, echo, pSrc, pEcho, sSrc, sEcho, cSrc, cEcho]) await waitPort(p);

    const paths = { direct: [src, echo], envserve: [pSrc, pEcho], socat: [sSrc, sEcho], podman: [cSrc, cEcho] } as const;
    const tput: Record<string, number> = {};
    for (const [name, [p]] of Object.entries(paths)) {
      sh(testsrv, ['tput', `127.0.0.1:${p}`, String(64 << 20), '1']); // warm-up
      tput[name] = median(Array.from({ length: RUNS }, () => Number(sh(testsrv, ['tput', `127.0.0.1:${p}`, String(BYTES), '1']))));
    }
    const rtt: Record<string, { c1: number[]; c100: number[] }> = {};
    for (const [name, [, p]] of Object.entries(paths)) {
      const r1 = sh(testsrv, ['rtt', `127.0.0.1:${p}`, '1', '20000', '0']).trim().split(' ').map(Number);
      const r100 = sh(testsrv, ['rtt', `127.0.0.1:${p}`, '100', '300', '10000']).trim().split(' ').map(Number);
      rtt[name] = { c1: r1, c100: r100 };
    }
    const status = readFileSync(`/proc/${envserve.pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);

    console.log(`\nmachine: ${cpus().length} cores, load average ${loadavg().map((x) => x.toFixed(1)).join(' ')} (other work on the machine skews latency most)`);
    const gbit = (b: number) => `${((b * 8) / 1e9).toFixed(1)} Gbit/s`;
    console.log(`\nthroughput, 1 connection, ${(BYTES / 1024 ** 3).toFixed(1)} GiB, median of ${RUNS}:`);
    for (const [n, v] of Object.entries(tput)) console.log(`  ${n.padEnd(9)} ${gbit(v)}`);
    console.log(`  envserve / direct = ${(tput.envserve! / tput.direct!).toFixed(2)}x   (target >= 0.5)`);
    console.log(`  envserve / socat  = ${(tput.envserve! / tput.socat!).toFixed(2)}x   (target >= 1.0)`);
    console.log(`  envserve / podman published port = ${(tput.envserve! / tput.podman!).toFixed(2)}x`);
    console.log('\nround trip, 64 bytes (µs): p50 / p99, and added over direct');
    for (const [n, v] of Object.entries(rtt)) {
      const add = (i: number, k: 'c1' | 'c100') => (n === 'direct' ? '' : ` (+${v[k][i]! - rtt.direct![k][i]!})`);
      console.log(`  ${n.padEnd(9)} 1 conn: ${v.c1[0]}${add(0, 'c1')} / ${v.c1[1]}${add(1, 'c1')}    100 conns @10ms: ${v.c100[0]}${add(0, 'c100')} / ${v.c100[1]}${add(1, 'c100')}`);
    }
    console.log(`  envserve added p99 at 100 connections: ${rtt.envserve!.c100[1]! - rtt.direct!.c100[1]!} µs (target <= 200)`);
    console.log(`\nenvserve process memory: RSS ${(kb('VmRSS') / 1024).toFixed(0)} MB, peak ${(kb('VmHWM') / 1024).toFixed(0)} MB (target <= 100)`);
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
