// A real Jupyter (notebook 7 from PyPI, installed by scripts/testenv/jupyter/up.sh into a cached
// venv) under `envserve up`, as root and as an unprivileged user: the login page answers through
// host.bind; killing Jupyter turns the exposure to ProcessExited with the exit and its log's last
// lines while it is down, and `up` starts it again (restarts 1); `down` stops it from another process (the unprivileged user's own state record).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { REPO, ensureBuilt, freePort, httpGet, isPidAlive, type CliRun } from '../local/cli-helpers.js';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run these tests through node scripts/run-tests.mjs test/jupyter (it runs scripts/testenv/jupyter/up.sh)`);
  return v;
}
const JUPYTER_BIN = need('ENVSERVE_TEST_JUPYTER_BIN');
const TEST_USER = need('ENVSERVE_TEST_USER');
const uid = Number(execFileSync('id', ['-u', TEST_USER], { encoding: 'utf8' }).trim());
const gid = Number(execFileSync('id', ['-g', TEST_USER], { encoding: 'utf8' }).trim());

interface Setup {
  file: string;
  hostPort: number;
  env: Record<string, string>;
  asUser?: string;
}

/** A folder with a build.envd serving Jupyter (password) through host.bind; owned by `owner` when given. */
async function setup(owner?: { uid: number; gid: number; home: string; user: string }): Promise<Setup> {
  const top = mkdtempSync(join(tmpdir(), 'envserve-jupyter-'));
  const dir = join(top, 'lab');
  const state = join(top, 'state');
  const home = owner?.home ?? join(top, 'home');
  mkdirSync(dir);
  mkdirSync(state);
  mkdirSync(home, { recursive: true });
  const [envPort, hostPort] = [await freePort(), await freePort()];
  const file = join(dir, 'build.envd');
  writeFileSync(
    file,
    `def build():
    base(os="ubuntu22.04", language="python3")
    config.jupyter(password="not-a-real-password", port=${envPort})

def serve():
    host.bind(env_port=${envPort}, host_port=${hostPort})
`,
  );
  if (owner) {
    chmodSync(top, 0o755);
    for (const p of [dir, state, file]) chownSync(p, owner.uid, owner.gid);
  }
  const env = {
    PATH: `${JUPYTER_BIN}:/usr/local/bin:/usr/bin:/bin`,
    HOME: home,
    ENVSERVE_STATE_DIR: state,
    JUPYTER_RUNTIME_DIR: join(home, '.jupyter-runtime'),
  };
  return { file, hostPort, env, ...(owner && { asUser: owner.user }) };
}

/** The real CLI, as root or (runuser) as the test user, with exactly `s.env`. */
function cli(s: Setup, args: string[]): CliRun {
  ensureBuilt();
  const envArgs = Object.entries(s.env).map(([k, v]) => `${k}=${v}`);
  const argv = [...envArgs, process.execPath, join(REPO, 'bin/envserve.js'), ...args];
  const proc = s.asUser
    ? spawn('runuser', ['-u', s.asUser, '--', 'env', '-i', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn('env', ['-i', ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const waitFor = async (re: RegExp, ms = 60_000) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const m = (out + err).match(re);
      if (m) return m;
      if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`did not see ${re} (exit ${proc.exitCode}); stdout:\n${out}\nstderr:\n${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  return { proc, out: () => out, err: () => err, waitFor, exited };
}

async function statusJson(s: Setup): Promise<any> {
  const r = cli(s, ['status', '-f', s.file, '-o', 'json']);
  await r.exited;
  return JSON.parse(r.out());
}

async function eventually<T>(fn: () => Promise<T>, ms = 60_000, every = 250): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, every));
    }
  }
}

/** The login page answers through the proxy: /lab redirects to /login, which asks for the password. */
async function assertLoginPage(hostPort: number): Promise<void> {
  const lab = await eventually(async () => {
    const r = await httpGet(`http://127.0.0.1:${hostPort}/lab`, 5000);
    if (r.status !== 302) throw new Error(`/lab answered ${r.status}`);
    return r;
  });
  assert.equal(lab.status, 302);
  const login = await httpGet(`http://127.0.0.1:${hostPort}/login`, 5000);
  assert.equal(login.status, 200);
  assert.match(login.body, /password/i);
}

test('Jupyter as root: up passes --allow-root, the login page answers; killed → ProcessExited with its log while down, then started again', async () => {
  const s = await setup();
  const up = cli(s, ['up', '-f', s.file]);
  try {
    await up.waitFor(/Press Ctrl-C/);
    await assertLoginPage(s.hostPort);
    const st = await eventually(async () => {
      const j = await statusJson(s);
      if (j.exposures[0].reason !== 'Ready') throw new Error(JSON.stringify(j.exposures[0]));
      return j;
    });
    const jupyter = st.processes.find((p: { name: string }) => p.name === 'jupyter');
    assert.ok(jupyter.argv.includes('--allow-root'), jupyter.argv.join(' '));
    assert.equal(st.exposures[0].state, 'ready');
    process.kill(-jupyter.pid, 'SIGKILL');
    // Down for the 1 s of backoff: the live view shows every change (a status poll could miss it).
    await up.waitFor(/jupyter .* waiting \(jupyter killed by SIGKILL; starting again in 1 s; last lines of \S+jupyter\.log: .*ServerApp/, 20_000);
    // Started again: a new Jupyter answers on the same port; its row counts the restart.
    const back = await eventually(async () => {
      const j = await statusJson(s);
      if (j.exposures[0].reason !== 'Ready') throw new Error(JSON.stringify(j.exposures[0]));
      return j;
    }, 60_000);
    assert.equal(back.exposures[0].restarts, 1);
    assert.equal(back.exposures[0].lastExit.signal, 'SIGKILL');
    assert.notEqual(back.processes.find((p: { name: string }) => p.name === 'jupyter').pid, jupyter.pid);
    await assertLoginPage(s.hostPort);
  } finally {
    up.proc.kill('SIGTERM');
  }
  assert.equal(await up.exited, 0);
});

test('Jupyter as an unprivileged user: no --allow-root, the login page answers, down from another process stops it', async () => {
  const home = `/var/lib/${TEST_USER}`;
  const s = await setup({ uid, gid, home, user: TEST_USER });
  const up = cli(s, ['up', '-f', s.file]);
  let pid: number | undefined;
  try {
    await up.waitFor(/Press Ctrl-C/);
    await assertLoginPage(s.hostPort);
    const st = await statusJson(s);
    const jupyter = st.processes.find((p: { name: string }) => p.name === 'jupyter');
    assert.equal(jupyter.argv.includes('--allow-root'), false, jupyter.argv.join(' '));
    pid = jupyter.pid;
    assert.equal(Number(execFileSync('stat', ['-c', '%u', `/proc/${pid}`], { encoding: 'utf8' }).trim()), uid, 'Jupyter runs as the test user');
    const d = cli(s, ['down', '-f', s.file]);
    assert.equal(await d.exited, 0, d.err());
    assert.match(d.out(), /stopping envserve \(pid \d+\)/);
    assert.equal(await up.exited, 0, up.err());
    assert.equal(isPidAlive(pid!), false, 'Jupyter is stopped');
  } finally {
    up.proc.kill('SIGTERM');
    if (pid && isPidAlive(pid)) process.kill(-pid, 'SIGKILL');
  }
});
