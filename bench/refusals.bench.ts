// What a stopped app's retrying clients cost the other exposures of the same `envserve serve`:
// one exposure's app is down and a client reconnects to it BENCH_REFUSALS times a second (a
// browser tab, a health check, a notebook's kernel socket), while `testsrv rtt` pings through
// another exposure. Peers in the same run: the same ping with no refusals, and direct loopback.
// Each refused connection makes envserve look again where the dead app's port listens
// (/proc/net/tcp, milliseconds of kernel time to print); the look must not hold the forwarding
// thread. BENCH_REPO_BEFORE=<checkout> also runs another build (e.g. before the change) beside it.
// Run: npm run build && npx tsx bench/refusals.bench.ts
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBuilt } from '../test/local/cli-helpers.js';
import { bg, freePort, goTool, median, REPO, runBench, sh, waitPort } from './local-lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const REFUSALS = Number(process.env.BENCH_REFUSALS ?? 100);
const PINGS = 3000; // ≈ 0.5 s of sequential 64-byte round trips per measurement

async function serveBoth(repo: string, echo: number, dead: number): Promise<{ live: number; down: number }> {
  const [live, down] = [await freePort(), await freePort()];
  const dir = join(mkdtempSync(join(tmpdir(), 'envserve-refusals-')), 'env');
  mkdirSync(dir);
  writeFileSync(join(dir, 'build.envd'), `def serve():\n    host.bind(env_port=${echo}, host_port=${live}, name="live")\n    host.bind(env_port=${dead}, host_port=${down}, name="stopped")\n`);
  const env = { ...process.env, ENVSERVE_STATE_DIR: join(dir, 'state') };
  bg(process.execPath, [join(repo, 'bin/envserve.js'), 'serve', '-f', join(dir, 'build.envd'), '--probe-interval', '60000'], env);
  await waitPort(live);
  await waitPort(down);
  return { live, down };
}

/** A child that connects to `port` REFUSALS times a second (each refused by the proxy's target) until killed. */
function refuser(port: number) {
  const code = `const net = require('node:net'); setInterval(() => net.connect(${port}, '127.0.0.1').on('error', () => {}), ${1000 / REFUSALS});`;
  return bg(process.execPath, ['-e', code]);
}

async function main() {
  ensureBuilt();
  const testsrv = process.env.ENVSERVE_TESTSRV ?? goTool('scripts/testenv/podman/testsrv', 'testsrv');
  const echo = await freePort();
  const dead = await freePort(); // nothing listens there
  bg(testsrv, ['echo', `127.0.0.1:${echo}`]);
  await waitPort(echo);
  const builds: Record<string, string> = { envserve: REPO, ...(process.env.BENCH_REPO_BEFORE && { before: process.env.BENCH_REPO_BEFORE }) };
  const ports: Record<string, { live: number; down: number }> = {};
  for (const [name, repo] of Object.entries(builds)) ports[name] = await serveBoth(repo, echo, dead);
  const ping = (port: number) => sh(testsrv, ['rtt', `127.0.0.1:${port}`, '1', String(PINGS), '0']).trim().split(' ').map(Number) as [number, number];
  const rows: Record<string, [number, number][]> = { direct: [] };
  for (const n of Object.keys(builds)) (rows[n] = []), (rows[`${n} + refusals`] = []);
  const loads: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    rows.direct!.push(ping(echo));
    for (const [n, p] of Object.entries(ports)) {
      rows[n]!.push(ping(p.live));
      const storm = refuser(p.down);
      await new Promise((res) => setTimeout(res, 300));
      rows[`${n} + refusals`]!.push(ping(p.live));
      storm.kill();
    }
    loads.push(loadavg()[0]!);
  }
  console.log(`${ROUNDS} rounds of ${PINGS} sequential round trips on one connection; ${REFUSALS} refused connections/s to the other exposure; load average ${Math.min(...loads).toFixed(1)}..${Math.max(...loads).toFixed(1)}; Node.js ${process.version}`);
  const med = (n: string, i: 0 | 1) => median(rows[n]!.map((x) => x[i]));
  for (const n of Object.keys(rows)) console.log(`  ${n.padEnd(22)} p50 ${String(med(n, 0)).padStart(6)} µs   p99 ${String(med(n, 1)).padStart(7)} µs`);
  for (const n of Object.keys(builds)) console.log(`  ${n}: p99 with refusals / without: ${(med(`${n} + refusals`, 1) / med(n, 1)).toFixed(2)}×`);
}

runBench(main);
