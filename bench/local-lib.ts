// What bench:local (local.bench.ts) and its side harness (local-ab.ts) share — and bench:share
// with them: child processes they start and kill, ports, CPU time of processes, and the repo's Go
// tools built once per source version into the test cache.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs';
import net from 'node:net';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(import.meta.dirname ?? '.', '..');

/** Every background process started with `bg`, to stop at the end. */
export const children: ChildProcess[] = [];

export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: REPO });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export function bg(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env });
  children.push(c);
  return c;
}

/** Runs a bench's main: an error is printed with exit code 1, and every `bg` child is stopped either way. */
export function runBench(main: () => Promise<void>): void {
  main()
    .catch((e) => {
      console.error(e);
      process.exitCode = 1;
    })
    .finally(() => {
      for (const c of children) c.kill('SIGTERM');
    });
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** CPU seconds (user + system) these processes have used so far; a process gone meanwhile counts 0. */
export function cpuSeconds(pids: number[]): number {
  let s = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const v = f.slice(f.lastIndexOf(')') + 2).split(' '); // fields from 3 on (the name may hold ") ")
      s += (Number(v[11]) + Number(v[12])) / 100;
    } catch { /* exited */ }
  }
  return s;
}

export function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => r(p));
    });
  });
}

export async function waitPort(port: number, ms = 10000): Promise<void> {
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

/** A Go tool of this repo (bench/rttload, testsrv), built once per source version into the test cache: the key hashes go.mod then the .go files, by name (as up.sh's testsrv). */
export function goTool(dir: string, name: string): string {
  const src = join(REPO, dir);
  const h = createHash('sha256').update(readFileSync(join(src, 'go.mod')));
  for (const f of readdirSync(src).filter((x) => x.endsWith('.go')).sort()) h.update(readFileSync(join(src, f)));
  const cache = process.env.ENVSERVE_TESTENV_CACHE ?? join(homedir(), '.cache/envserve-testenv');
  const bin = join(cache, `${name}-${h.digest('hex').slice(0, 12)}`);
  if (!existsSync(bin)) {
    mkdirSync(cache, { recursive: true });
    const r = spawnSync('go', ['build', '-trimpath', '-o', `${bin}.tmp`, '.'], { cwd: src, encoding: 'utf8', env: { ...process.env, CGO_ENABLED: '0', GOTOOLCHAIN: 'local', GOFLAGS: '-buildvcs=false' } });
    if (r.status !== 0) throw new Error(`building ${dir} failed: ${r.stderr}`);
    renameSync(`${bin}.tmp`, bin);
  }
  return bin;
}
