// Running the real CLI (node bin/envserve.js → dist/) in tests, and small network helpers.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { ensureBuilt } from '../helpers/cli.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = join(REPO, 'test/fixtures');

// bin/envserve.js runs dist/: ensureBuilt rebuilds a stale dist/, and fails the test if the build fails.
export { ensureBuilt };

export interface CliRun {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  /** Resolves when stdout+stderr match; rejects after `ms` with what was printed. */
  waitFor: (re: RegExp, ms?: number) => Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
}

export function startCli(args: string[], env: NodeJS.ProcessEnv = {}): CliRun {
  ensureBuilt();
  const proc = spawn(process.execPath, [join(REPO, 'bin/envserve.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const waitFor = async (re: RegExp, ms = 15000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = (out + err).match(re);
      if (m) return m;
      if (proc.exitCode !== null || Date.now() > deadline) {
        throw new Error(`did not see ${re} (exit ${proc.exitCode}); stdout:\n${out}\nstderr:\n${err}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  return { proc, out: () => out, err: () => err, waitFor, exited };
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startCli(args, env);
  const timer = setTimeout(() => run.proc.kill('SIGKILL'), timeoutMs);
  const code = await run.exited;
  clearTimeout(timer);
  return { code, stdout: run.out(), stderr: run.err() };
}

export function httpGet(url: string, timeoutMs = 3000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Retries until the URL answers (a service a moment after its process started). */
export async function httpGetEventually(url: string, ms = 10000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await httpGet(url);
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Whether something accepts TCP connections there. */
export function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, host);
    s.on('connect', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

/** A fresh directory with a build.envd (the env name is the directory's name). */
export function envDir(source: string, name = 'env'): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'envserve-test-')), name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'build.envd'), source);
  return join(dir, 'build.envd');
}

export function isPidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // a zombie (exited, not yet reaped) is not alive
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}

export function stateDirEnv(): NodeJS.ProcessEnv {
  return { ENVSERVE_STATE_DIR: mkdtempSync(join(tmpdir(), 'envserve-state-')) };
}

/** The proposal's example as written: host port 1234, Jupyter on 8888 (the documented defaults). */
export const SEED_HOST = join(FIXTURES, 'seed-host/build.envd');

/** The proposal's host example on a free host port: the same file, in a folder of the same name. */
export async function seedHostOnFreePort(): Promise<{ file: string; port: number }> {
  const port = await freePort();
  const file = envDir(readFileSync(SEED_HOST, 'utf8').replace('host_port=1234', `host_port=${port}`), 'seed-host');
  return { file, port };
}

/**
 * Every test picks free ports but one, which runs the proposal's example on its documented ports
 * (1234, 8888). Two runs on one machine (worktrees, slots) would collide there, so that test holds
 * this lock (an O_EXCL file in /run/lock naming its pid; a dead holder's lock is taken over).
 * Resolves with the release.
 */
export async function lockDefaultPorts(ms = 10 * 60_000): Promise<() => void> {
  const path = join(existsSync('/run/lock') ? '/run/lock' : tmpdir(), 'envserve-test-default-ports.lock');
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      writeFileSync(path, String(process.pid), { flag: 'wx' });
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    let holder = 0;
    try {
      holder = Number(readFileSync(path, 'utf8'));
    } catch {
      continue; // released meanwhile
    }
    if (holder && !isPidAlive(holder)) {
      rmSync(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`${path} is still held by pid ${holder} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Waits until nothing listens on the port: the previous holder of the default-ports lock may
 * still be letting go of it.
 */
export async function waitPortFree(port: number, ms = 60000): Promise<void> {
  const deadline = Date.now() + ms;
  while (await listening(port)) {
    if (Date.now() > deadline) throw new Error(`port ${port} is still in use after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** After a stop, the port must not be held by any of `pids` (another process may take it at once). */
export async function assertReleased(port: number, pids: (number | undefined)[]): Promise<void> {
  const { listTcpListeners, processOfInode } = await import('../../src/apply/local/proc-net.js');
  for (const l of listTcpListeners().filter((l) => l.port === port)) {
    const holder = processOfInode(l.inode)?.pid;
    if (holder !== undefined && pids.includes(holder)) throw new Error(`port ${port} is still held by pid ${holder}`);
  }
}

/** Connects, reads until the other side ends the connection, and returns what arrived. */
export async function readUntilEnd(port: number, host = '127.0.0.1'): Promise<string> {
  const s = net.connect(port, host);
  let got = '';
  s.on('data', (d) => (got += d));
  await once(s, 'end');
  return got;
}

/** `status -f FILE -o json`: its exit code, the parsed status (when it printed one) and stderr. */
export async function statusJson(file: string, env: NodeJS.ProcessEnv) {
  const r = await runCli(['status', '-f', file, '-o', 'json'], env);
  return { code: r.code, status: r.stdout ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
}
