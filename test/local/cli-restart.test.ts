// `up`'s restarts of the processes it started, end to end with the real CLI on the local runtime:
// a crash loop with backoff, a SIGKILLed server coming back, and the two ways to turn it off.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envDir, freePort, httpGet, runCli, startCli, stateDirEnv, statusJson, type CliRun } from './cli-helpers.js';

/** Polls `status -o json` until `ok` holds for it (or fails with the last one seen). */
async function statusUntil(file: string, env: NodeJS.ProcessEnv, ok: (s: any) => boolean, ms = 15_000): Promise<any> {
  const deadline = Date.now() + ms;
  let s: any;
  while (Date.now() < deadline) {
    s = (await statusJson(file, env)).status;
    if (s && ok(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`status never matched: ${JSON.stringify(s)}`);
}

/** Runs `up -f file ...args` while `body` runs; then SIGTERM, which must end it with exit 0. */
async function whileUp(file: string, env: NodeJS.ProcessEnv, args: string[], body: (up: CliRun) => Promise<void>): Promise<void> {
  const up = startCli(['up', '-f', file, '--probe-interval', '200', ...args], env);
  try {
    await up.waitFor(/Press Ctrl-C/);
    await body(up);
  } finally {
    up.proc.kill('SIGTERM');
  }
  assert.equal(await up.exited, 0);
}

/** An env whose daemon is a tiny HTTP server (node) on a free port, answering with its pid. */
async function serverEnv(then = ''): Promise<{ file: string }> {
  const envPort = await freePort();
  const server = `require('http').createServer((q, s) => s.end('pid ' + process.pid)).listen(${envPort}, '127.0.0.1')${then}`;
  return {
    file: envDir(`
def build():
    runtime.daemon(commands=[[${JSON.stringify(process.execPath)}, "-e", ${JSON.stringify(server)}]])
def serve():
    host.bind(env_port=${envPort}, host_port=0, protocol="http")
`),
  };
}

test('restart=False: a process that exits turns its exposure to ProcessExited (failed) with the exit code and the last lines of its log, and it stays so', async () => {
  const env = stateDirEnv();
  const envPort = await freePort();
  // It fails when the test says so: after up's first table (a fixed sleep raced a slow start-up,
  // and the live view then had no change to print).
  const go = join(mkdtempSync(join(tmpdir(), 'envserve-go-')), 'go');
  const file = envDir(`
def build():
    runtime.daemon(commands=[["sh", "-c", "echo starting on ${envPort}; while [ ! -e ${go} ]; do sleep 0.05; done; echo 'fatal: cannot open the database' >&2; exit 3"]], restart=False)
def serve():
    host.bind(env_port=${envPort}, host_port=0, protocol="http")
`);
  await whileUp(file, env, [], async (up) => {
    writeFileSync(go, '');
    const s = await statusUntil(file, env, (x) => x.exposures[0].reason === 'ProcessExited');
    const e = s.exposures[0];
    assert.equal(e.state, 'failed');
    assert.match(e.message, /^daemon-1 exited with code 3; last lines of \S+daemon-1\.log: starting on \d+ \| fatal: cannot open the database$/);
    await up.waitFor(/failed \(daemon-1 exited with code 3/, 5000);
    // Well past the first restart's 1 s: still down, never restarted.
    await new Promise((r) => setTimeout(r, 2500));
    const later = (await statusJson(file, env)).status;
    assert.equal(later.exposures[0].reason, 'ProcessExited');
    assert.equal(later.exposures[0].restarts, 0);
    assert.equal(later.exposures[0].lastExit.code, 3);
    assert.equal(later.processes[0].state, 'exited');
    assert.equal(later.processes[0].restartAt, undefined);
  });
});

test('a process that keeps exiting is started again after 1 s, then 2 s: ProcessExited (waiting) only while it is down, restarts and the last exit in status', async () => {
  const env = stateDirEnv();
  // A server that answers for 1.5 s, then fails.
  const { file } = await serverEnv("; setTimeout(() => { console.error('fatal: cannot open the database'); process.exit(3) }, 1500)");
  await whileUp(file, env, [], async (up) => {
    // The live view prints every change, in order: down with the delay, up again with the count.
    await up.waitFor(/process daemon-1: exited pid \d+ \(exited with code 3; starting again in 1 s\); restarts 0, last exit code 3 at/);
    await up.waitFor(/waiting \(daemon-1 exited with code 3; starting again in 1 s; last lines of \S+daemon-1\.log: fatal: cannot open the database\)/);
    await up.waitFor(/process daemon-1: running pid \d+; restarts 1, last exit code 3 at/);
    await up.waitFor(/ ready\n[^]*process daemon-1: exited pid \d+ \(exited with code 3; starting again in 2 s\); restarts 1/);
    await up.waitFor(/process daemon-1: running pid \d+; restarts 2, last exit code 3 at/);
    // The JSON while it is down: ProcessExited, waiting; the next start is 2^restarts s after the exit.
    const down = await statusUntil(file, env, (x) => x.exposures[0].reason === 'ProcessExited');
    const [e, p] = [down.exposures[0], down.processes[0]];
    assert.equal(e.state, 'waiting', 'it comes back by itself');
    assert.deepEqual([e.restarts, e.lastExit], [p.restarts, p.lastExit]);
    assert.equal(e.lastExit.code, 3);
    assert.equal(Date.parse(p.restartAt) - Date.parse(p.lastExit.at), 1000 * 2 ** p.restarts);
    // Once it runs again, the row is no longer ProcessExited.
    const back = await statusUntil(file, env, (x) => x.processes[0].restarts === p.restarts + 1 && x.exposures[0].state === 'ready');
    assert.ok(Date.now() >= Date.parse(p.restartAt), 'not started again before its backoff');
    assert.equal(back.exposures[0].reason, 'Ready');
    const human = await runCli(['status', '-f', file], env);
    assert.match(human.stdout, /process daemon-1: (running|exited) pid \d+.*; restarts [3-9], last exit code 3 at \d\d:\d\d:\d\d/);
  });
});

test('a server killed with SIGKILL comes back: ProcessExited while it is down, then ready again with restarts 1 and the signal', async () => {
  const env = stateDirEnv();
  const { file } = await serverEnv();
  await whileUp(file, env, [], async (up) => {
    const ready = await statusUntil(file, env, (x) => x.exposures[0].state === 'ready');
    const [url, pid] = [ready.exposures[0].urls[0], ready.processes[0].pid];
    assert.equal((await httpGet(url)).body, `pid ${pid}`);
    assert.equal(ready.exposures[0].restarts, 0);
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL');
    // Down for the 1 s of backoff: the live view shows it (a status poll could miss it).
    await up.waitFor(/ waiting \(daemon-1 killed by SIGKILL; starting again in 1 s\)/);
    const t1 = Date.now();
    const back = await statusUntil(file, env, (x) => x.exposures[0].state === 'ready');
    console.log(`# local: server killed -> live view shows ProcessExited in ${t1 - t0} ms, status ready again (restarts 1) in ${Date.now() - t0} ms`);
    const e = back.exposures[0];
    assert.deepEqual([e.reason, e.restarts, e.lastExit.signal, e.lastExit.code], ['Ready', 1, 'SIGKILL', undefined]);
    assert.notEqual(back.processes[0].pid, pid);
    assert.equal((await httpGet(url)).body, `pid ${back.processes[0].pid}`, 'the new process answers through the same URL');
  });
});

test('up --no-restart: a killed server stays down (ProcessExited, failed)', async () => {
  const env = stateDirEnv();
  const { file } = await serverEnv();
  await whileUp(file, env, ['--no-restart'], async () => {
    const ready = await statusUntil(file, env, (x) => x.exposures[0].state === 'ready');
    process.kill(ready.processes[0].pid, 'SIGKILL');
    await statusUntil(file, env, (x) => x.exposures[0].reason === 'ProcessExited');
    await new Promise((r) => setTimeout(r, 2500));
    const s = (await statusJson(file, env)).status;
    const e = s.exposures[0];
    assert.deepEqual([e.reason, e.state, e.message, e.restarts], ['ProcessExited', 'failed', 'daemon-1 killed by SIGKILL', 0]);
    assert.equal(s.processes[0].state, 'exited');
  });
  const k8s = await runCli(['up', '-f', (await serverEnv()).file, '--runtime', 'k8s', '--no-restart'], stateDirEnv());
  assert.equal(k8s.code, 2, k8s.stderr);
  assert.match(k8s.stderr, /--no-restart applies to the local and docker runtimes/);
});
