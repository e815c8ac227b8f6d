// The real CLI with the local runtime, end to end: real processes, real listeners, real bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import { delimiter, join } from 'node:path';
import { readFileSync } from 'node:fs';
import {
  FIXTURES, REPO, SEED_HOST, envDir, freePort, httpGet, httpGetEventually, isPidAlive, listening, lockDefaultPorts, runCli, seedHostOnFreePort, startCli, stateDirEnv, statusJson,
  waitPortFree, assertReleased, readUntilEnd,
} from './cli-helpers.js';

const withFakeJupyter = (env: NodeJS.ProcessEnv) => ({ ...env, PATH: `${join(FIXTURES, 'bin')}${delimiter}${process.env.PATH}` });


// The one test on the documented default ports, under the lock (every other test picks free ports).
test("the proposal's host example: Jupyter (a stand-in on PATH) answers on 127.0.0.1:1234 with the password hash, never the password", async () => {
  const env = withFakeJupyter(stateDirEnv());
  const file = SEED_HOST;
  const release = await lockDefaultPorts();
  await waitPortFree(1234);
  await waitPortFree(8888);
  const up = startCli(['up', '-f', file], env);
  try {
    await up.waitFor(/Press Ctrl-C/);
    assert.match(up.out(), /http:\/\/127\.0\.0\.1:1234\//);
    assert.match(up.out(), /password configured/);
    assert.match(up.err(), /warning: .*presets\.juypter is a misspelling/);
    const res = await httpGetEventually('http://127.0.0.1:1234/lab');
    assert.equal(res.status, 200);
    assert.match(res.body, /^jupyter-standin lab --no-browser --ip=127\.0\.0\.1 --port=8888 /);
    assert.match(res.body, /hashed_password=sha1:[0-9a-f]+:[0-9a-f]{40}/);
    assert.doesNotMatch(res.body, /=password\b/);
    assert.doesNotMatch(up.out() + up.err(), /=password\b/);
    const { status } = await statusJson(file, env);
    assert.equal(status.exposures[0].state, 'ready');
    assert.equal(status.exposures[0].answering, true);
    assert.deepEqual(status.exposures[0].listen, { address: '127.0.0.1', port: 1234 });
  } finally {
    up.proc.kill('SIGTERM');
  }
  try {
    assert.equal(await up.exited, 0);
    await assertReleased(1234, [up.proc.pid]);
    assert.equal(await listening(8888), false, 'the jupyter stand-in is stopped');
  } finally {
    release();
  }
});

test('without jupyter installed, up says so and still exposes the port', async () => {
  const env = { ...stateDirEnv(), PATH: '/usr/bin:/bin' };
  const { file, port } = await seedHostOnFreePort();
  // The env port is still the preset's 8888, and "waiting" needs nothing listening there: another
  // run's default-ports test may hold it, so this one takes the same lock.
  const release = await lockDefaultPorts();
  try {
    await waitPortFree(8888);
    const up = startCli(['up', '-f', file], env);
    try {
      await up.waitFor(/Press Ctrl-C/);
      assert.match(up.out(), /jupyter: not-installed .*jupyter is not installed here \(not on PATH\)/);
      assert.match(up.out(), new RegExp(`http://127\\.0\\.0\\.1:${port}/ .* waiting`));
    } finally {
      up.proc.kill('SIGINT');
    }
    assert.equal(await up.exited, 0);
  } finally {
    release();
  }
});

test('examples/local (the README main job): python http.server bound to 127.0.0.1 answers on the host port', async () => {
  const env = stateDirEnv();
  // The example on free ports (it says 8888 → 1234; the default ports are tested once, above).
  const [envPort, port] = [await freePort(), await freePort()];
  const file = envDir(readFileSync(join(REPO, 'examples/local/build.envd'), 'utf8').replaceAll('8888', String(envPort)).replace('host_port=1234', `host_port=${port}`), 'local');
  const up = startCli(['up', '-f', file], env);
  let daemonPid = 0;
  try {
    await up.waitFor(/Press Ctrl-C/);
    const res = await httpGetEventually(`http://127.0.0.1:${port}/`);
    assert.equal(res.status, 200);
    assert.match(res.body, /Directory listing for \//);
    const { status } = await statusJson(file, env);
    daemonPid = status.processes[0].pid;
    assert.ok(isPidAlive(daemonPid));
    // status in table form, as another terminal sees it
    const table = await runCli(['status', '-f', file], env);
    assert.equal(table.code, 0);
    assert.match(table.stdout, new RegExp(`http://127\\.0\\.0\\.1:${port}/\\s+-> 127\\.0\\.0\\.1:${envPort}\\s+ready`));
    // down from another terminal stops the foreground up, which cleans up
    const d = await runCli(['down', '-f', file], env);
    assert.equal(d.code, 0, d.stderr);
  } finally {
    up.proc.kill('SIGKILL');
  }
  assert.equal(await up.exited, 0, up.err());
  await assertReleased(port, [up.proc.pid, daemonPid]);
  assert.equal(isPidAlive(daemonPid), false);
  const after = await statusJson(file, env);
  assert.equal(after.code, 1);
  assert.match(after.stderr, /nothing is running/);
});

test('host port in use: exit 2, names the port and the process holding it, nothing started', async () => {
  const env = stateDirEnv();
  const port = await freePort();
  const holder = net.createServer().listen(port, '127.0.0.1');
  await once(holder, 'listening');
  const marker = join(envDir('', 'unused'), '..', 'started');
  const file = envDir(`
def build():
    runtime.daemon(commands=[["touch", "${marker}"]])
def serve():
    host.bind(env_port=8000, host_port=${port})
    host.bind(env_port=8001, host_port=0)
`);
  const r = await runCli(['up', '-f', file], env);
  holder.close();
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, new RegExp(`host port ${port} is already in use by pid ${process.pid} \\(`));
  assert.match(r.stderr, /nothing was started/);
  assert.equal((await import('node:fs')).existsSync(marker), false, 'the daemon must not have run');
  assert.equal((await statusJson(file, env)).code, 1);
});

test('host_port=0 picks a free port and reports it; --listen 0.0.0.0 warns', async () => {
  const env = stateDirEnv();
  const backend = net.createServer((s) => (s.on('error', () => {}), s.end('hello from the env\n'))).listen(0, '127.0.0.1');
  await once(backend, 'listening');
  const envPort = (backend.address() as net.AddressInfo).port;
  const file = envDir(`
def serve():
    host.bind(env_port=${envPort}, host_port=0, name="raw")
`);
  const up = startCli(['serve', '-f', file, '--listen', '0.0.0.0'], env);
  try {
    await up.waitFor(/Press Ctrl-C/);
    assert.match(up.out(), /reachable from the network/);
    const { status } = await statusJson(file, env);
    const port = status.exposures[0].listen.port;
    assert.ok(port > 0);
    assert.equal(status.exposures[0].listen.address, '0.0.0.0');
    assert.match(up.out(), new RegExp(`tcp://127\\.0\\.0\\.1:${port}`));
    assert.equal(await readUntilEnd(port), 'hello from the env\n');
  } finally {
    up.proc.kill('SIGTERM');
    backend.close();
  }
  assert.equal(await up.exited, 0);
});

test('a service bound to another local address is reached there', async () => {
  const env = stateDirEnv();
  // 127.0.0.2 is loopback too, but not 127.0.0.1: the proxy must find it through /proc.
  const backend = net.createServer((s) => (s.on('error', () => {}), s.end('on 127.0.0.2\n'))).listen(0, '127.0.0.2');
  await once(backend, 'listening');
  const envPort = (backend.address() as net.AddressInfo).port;
  const hostPort = await freePort();
  const file = envDir(`
def serve():
    host.bind(env_port=${envPort}, host_port=${hostPort})
`);
  const up = startCli(['serve', '-f', file], env);
  try {
    await up.waitFor(/Press Ctrl-C/);
    assert.match(up.out(), new RegExp(`-> 127\\.0\\.0\\.2:${envPort}`));
    assert.equal(await readUntilEnd(hostPort), 'on 127.0.0.2\n');
  } finally {
    up.proc.kill('SIGTERM');
    backend.close();
  }
  assert.equal(await up.exited, 0);
});

test('SIGTERM leaves no listener and no process; a crash (SIGKILL) is cleaned up by down', async () => {
  const env = stateDirEnv();
  const hostPort = await freePort();
  const envPort = await freePort();
  const file = envDir(`
def build():
    runtime.daemon(commands=[["python3", "-m", "http.server", "${envPort}", "--bind", "127.0.0.1"]])
def serve():
    host.bind(env_port=${envPort}, host_port=${hostPort}, protocol="http")
`);
  // 1. SIGTERM
  let up = startCli(['up', '-f', file], env);
  await up.waitFor(/Press Ctrl-C/);
  await httpGetEventually(`http://127.0.0.1:${hostPort}/`);
  let pid = (await statusJson(file, env)).status.processes[0].pid;
  up.proc.kill('SIGTERM');
  assert.equal(await up.exited, 0);
  assert.equal(await listening(hostPort), false);
  assert.equal(await listening(envPort), false);
  assert.equal(isPidAlive(pid), false);
  // 2. SIGKILL: the daemon survives envserve; status says stale; down stops it
  up = startCli(['up', '-f', file], env);
  await up.waitFor(/Press Ctrl-C/);
  await httpGetEventually(`http://127.0.0.1:${hostPort}/`);
  pid = (await statusJson(file, env)).status.processes[0].pid;
  up.proc.kill('SIGKILL');
  await up.exited;
  assert.ok(isPidAlive(pid), 'after a crash the daemon is still there');
  const st = await runCli(['status', '-f', file], env);
  assert.equal(st.code, 1);
  assert.match(st.stdout, /STALE: envserve \(pid \d+\) is not running/);
  const d = await runCli(['down', '-f', file], env);
  assert.equal(d.code, 0, d.stderr);
  assert.match(d.stdout, /stopped process daemon-1/);
  for (let i = 0; i < 50 && isPidAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(isPidAlive(pid), false);
  assert.equal(await listening(envPort), false);
  assert.equal((await statusJson(file, env)).code, 1);
});

test('status while envserve is frozen (SIGSTOP: a laptop lid, Ctrl-Z): STALE "does not answer" within seconds, exit 1, never its old "ready"; continued, it answers again', async () => {
  const env = stateDirEnv();
  const app = http.createServer((_q, s) => s.end('hi')).listen(0, '127.0.0.1');
  await once(app, 'listening');
  const file = envDir(`
def serve():
    host.bind(env_port=${(app.address() as net.AddressInfo).port}, host_port=0, protocol="http")
`);
  const serve = startCli(['serve', '-f', file], env);
  try {
    await serve.waitFor(/Press Ctrl-C/);
    assert.equal((await statusJson(file, env)).status.exposures[0].state, 'ready');
    serve.proc.kill('SIGSTOP');
    const t0 = Date.now();
    const frozen = await statusJson(file, env);
    const ms = Date.now() - t0;
    assert.equal(frozen.code, 1, frozen.stderr);
    assert.match(frozen.status.stale, new RegExp(`envserve \\(pid ${serve.proc.pid}\\) does not answer`));
    assert.ok(ms < 8000, `status answered in ${ms} ms`);
    // open: nothing to open while the process that serves the URL is frozen (no browser started).
    const id = frozen.status.exposures[0].id;
    const open = await runCli(['open', id, '-f', file], { ...env, BROWSER: 'false' });
    assert.equal(open.code, 1, open.stderr);
    assert.match(open.stderr, /served by envserve itself, and it does not run now: envserve \(pid \d+\) does not answer/);
    serve.proc.kill('SIGCONT');
    const after = await statusJson(file, env);
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.status.stale, undefined);
    assert.equal(after.status.exposures[0].state, 'ready');
  } finally {
    serve.proc.kill('SIGCONT');
    serve.proc.kill('SIGTERM');
    app.close();
  }
  assert.equal(await serve.exited, 0);
});

test('a second up for the same file is refused while the first runs', async () => {
  const env = stateDirEnv();
  const file = envDir(`
def serve():
    host.bind(env_port=${await freePort()}, host_port=0)
`);
  const up = startCli(['serve', '-f', file], env);
  try {
    await up.waitFor(/Press Ctrl-C/);
    const again = await runCli(['serve', '-f', file], env);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /already served by envserve \(pid \d+/);
  } finally {
    up.proc.kill('SIGTERM');
  }
  assert.equal(await up.exited, 0);
});

test('a daemon command that does not exist: exit 2 before anything starts', async () => {
  const env = stateDirEnv();
  const port = await freePort();
  const file = envDir(`
def build():
    runtime.daemon(commands=[["no-such-command-xyz", "--flag"]])
def serve():
    host.bind(env_port=8000, host_port=${port})
`);
  const r = await runCli(['up', '-f', file], env);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /runtime\.daemon command not found: no-such-command-xyz/);
  assert.equal(await listening(port), false);
});

void httpGet;

test('editing the env file while serving re-applies exposures: unchanged kept (open connections too), changed restarted, gone stopped', async () => {
  const env = stateDirEnv();
  const backend = net.createServer((s) => (s.on('error', () => {}), s.pipe(s))).listen(0, '127.0.0.1');
  await once(backend, 'listening');
  const envPort = (backend.address() as net.AddressInfo).port;
  const [keep, old, moved] = [await freePort(), await freePort(), await freePort()];
  const { writeFileSync } = await import('node:fs');
  const file = envDir(`
def serve():
    host.bind(env_port=${envPort}, host_port=${keep}, name="keep")
    host.bind(env_port=${envPort}, host_port=${old}, name="moving")
`);
  const up = startCli(['serve', '-f', file], env);
  try {
    await up.waitFor(/Press Ctrl-C/);
    const held = net.connect(keep, '127.0.0.1');
    await once(held, 'connect');
    // mtime resolution: make sure the rewrite is seen as a change
    await new Promise((r) => setTimeout(r, 20));
    writeFileSync(file, `
def serve():
    host.bind(env_port=${envPort}, host_port=${keep}, name="keep")
    host.bind(env_port=${envPort}, host_port=${moved}, name="moving")
`);
    await up.waitFor(/changed: 1 exposure\(s\) started, 1 stopped, 1 unchanged/, 10000);
    assert.equal(await listening(moved), true);
    assert.equal(await listening(old), false);
    // the unchanged exposure's open connection still works
    held.write('still here');
    const [d] = await once(held, 'data');
    assert.equal(String(d), 'still here');
    held.destroy();
    // a broken edit keeps the running version
    writeFileSync(file, 'def serve(:\n');
    await up.waitFor(/changed but cannot be used/, 10000);
    assert.equal(await listening(moved), true);
  } finally {
    up.proc.kill('SIGTERM');
    backend.close();
  }
  assert.equal(await up.exited, 0);
});

test('status --all lists every environment, live from its control socket; status -o json has a reason on every exposure', async () => {
  const env = stateDirEnv();
  const backend = net.createServer((s) => s.end()).listen(0, '127.0.0.1');
  await once(backend, 'listening');
  const envPort = (backend.address() as net.AddressInfo).port;
  const [p1, p2] = [await freePort(), await freePort()];
  const a = envDir(`
def serve():
    host.bind(env_port=${envPort}, host_port=${p1})
`, 'alpha');
  const b = envDir(`
def serve():
    host.bind(env_port=${envPort + 1 === 65536 ? 1 : envPort + 1}, host_port=${p2})
`, 'beta');
  const ua = startCli(['serve', '-f', a], env);
  const ub = startCli(['serve', '-f', b], env);
  try {
    await ua.waitFor(/Press Ctrl-C/);
    await ub.waitFor(/Press Ctrl-C/);
    const all = await runCli(['status', '--all', '-o', 'json'], env);
    assert.equal(all.code, 0, all.stderr);
    const list = JSON.parse(all.stdout);
    assert.equal(list.kind, 'StatusList');
    assert.deepEqual(list.items.map((s: any) => s.envName).sort(), ['alpha', 'beta']);
    for (const s of list.items) for (const e of s.exposures) assert.ok(e.reason && e.since, JSON.stringify(e));
    const alpha = list.items.find((s: any) => s.envName === 'alpha');
    assert.equal(alpha.exposures[0].reason, 'Ready');
    assert.match(alpha.envId, /^alpha-[0-9a-f]{12}$/);
    const table = await runCli(['status', '--all'], env);
    assert.match(table.stdout, /environment alpha .*\n[\s\S]*environment beta /);
    // status and down by env id or name, without -f
    const byId = JSON.parse((await runCli(['status', '--env', alpha.envId, '-o', 'json'], env)).stdout);
    assert.equal(byId.envName, 'alpha');
    const unknown = await runCli(['status', '--env', 'gamma'], env);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no environment "gamma" is recorded/);
    // down of a running serve goes through its control socket
    const d = await runCli(['down', '--env', 'beta'], env);
    assert.equal(d.code, 0, d.stderr);
    assert.equal(await ub.exited, 0);
    const after = JSON.parse((await runCli(['status', '--all', '-o', 'json'], env)).stdout);
    assert.deepEqual(after.items.map((s: any) => s.envName), ['alpha']);
  } finally {
    ua.proc.kill('SIGTERM');
    ub.proc.kill('SIGTERM');
    backend.close();
  }
  assert.equal(await ua.exited, 0);
});

test('an app that answers a server error is ready (it answers), and the live view and the status table say HTTP 500', async () => {
  const env = stateDirEnv();
  const app = http.createServer((_q, s) => ((s.statusCode = 500), s.end('Internal Server Error'))).listen(0, '127.0.0.1');
  await once(app, 'listening');
  const envPort = (app.address() as net.AddressInfo).port;
  const hostPort = await freePort();
  const file = envDir(`
def serve():
    host.bind(env_port=${envPort}, host_port=${hostPort}, protocol="http")
`);
  const up = startCli(['serve', '-f', file], env);
  try {
    await up.waitFor(/the app answers HTTP 500/);
    const table = await runCli(['status', '-f', file], env);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, new RegExp(`127\\.0\\.0\\.1:${hostPort}/\\s+-> 127\\.0\\.0\\.1:${envPort}\\s+ready\\s+the app answers HTTP 500`));
  } finally {
    up.proc.kill('SIGTERM');
    app.close();
  }
  assert.equal(await up.exited, 0);
});
