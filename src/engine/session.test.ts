// The environment session on this machine (the local runtime, a real TCP server behind a `serve`):
// open → start → the control socket and the state record → a second open refused → close leaves
// nothing; a crashed run's record is cleaned up with the steps reported; the runtime choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { ControlClient } from './control.js';
import { openEnvironment } from './session.js';
import { checkRuntimeChoice, runtimeKind } from './session-runtime.js';
import { StateStore } from './state.js';

async function backend(): Promise<{ port: number; close: () => void }> {
  const s = net.createServer((c) => c.on('error', () => undefined).end('from the backend\n'));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return { port: (s.address() as net.AddressInfo).port, close: () => s.close() };
}

function envFile(envPort: number): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'envserve-session-')), 'sess');
  mkdirSync(dir);
  const file = join(dir, 'build.envd');
  writeFileSync(file, `def serve():\n    host.bind(env_port=${envPort}, host_port=0, name="app")\n`);
  return file;
}

function read(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    net.connect(port, '127.0.0.1').on('data', (d) => (got += d)).on('end', () => resolve(got)).on('error', reject);
  });
}

test('a session serves the env file, answers on its control socket, refuses a second session, and close() leaves nothing', async () => {
  const b = await backend();
  const stateDir = mkdtempSync(join(tmpdir(), 'envserve-session-state-'));
  const file = envFile(b.port);
  const logs: string[] = [];
  const s = await openEnvironment(file, { mode: 'serve', stateDir, onLog: (l) => logs.push(l) });
  try {
    assert.equal(s.runtime.name, 'local');
    assert.equal(s.plan.env.name, 'sess');
    const status = await s.start();
    const app = status.exposures[0]!;
    assert.equal(app.state, 'ready');
    assert.equal(await read(app.listen!.port), 'from the backend\n');
    assert.deepEqual((await new ControlClient(s.controlSocket!).status()).exposures.map((e) => e.listen?.port), [app.listen!.port]);
    assert.equal(new StateStore(file, stateDir).read()?.pid, process.pid);
    await assert.rejects(openEnvironment(file, { mode: 'serve', stateDir }), (e: unknown) => e instanceof UserError && e.reason === 'AlreadyRunning' && /already served by envserve/.test(e.message));
  } finally {
    await s.close();
    b.close();
  }
  await s.run(); // the same run, already over
  assert.equal(new StateStore(file, stateDir).read(), undefined, 'the state record is removed');
  assert.equal(existsSync(s.controlSocket!), false, 'the control socket is removed');
  assert.deepEqual(logs, []);
});

test("a crashed run's record is cleaned up first, and the steps go to the 'log' event", async () => {
  const b = await backend();
  const stateDir = mkdtempSync(join(tmpdir(), 'envserve-session-state-'));
  const file = envFile(b.port);
  const first = await openEnvironment(file, { mode: 'serve', stateDir, controlSocket: false });
  await first.start();
  // As if that process had been killed: its record stays, with a pid that no longer runs.
  const store = new StateStore(file, stateDir);
  const rec = store.read()!;
  writeFileSync(store.path, JSON.stringify({ ...rec, pid: 999_999_999, pidStartTime: 1 }));
  const logs: string[] = [];
  const second = await openEnvironment(file, { mode: 'serve', stateDir, controlSocket: false, onLog: (l) => logs.push(l) });
  try {
    assert.deepEqual(logs, ['cleaning up after an earlier envserve (pid 999999999) that did not stop cleanly']);
  } finally {
    await second.close();
    await first.close();
    b.close();
  }
});

test('the runtime follows the target: docker:… → docker, k8s:… or a selector → k8s; --no-restart is refused on Kubernetes', () => {
  assert.equal(runtimeKind({}), 'local');
  assert.equal(runtimeKind({ target: 'docker:web' }), 'docker');
  assert.equal(runtimeKind({ runtime: 'k8s', target: 'docker:web' }), 'docker');
  assert.equal(runtimeKind({ target: 'k8s:ns/pod/web' }), 'k8s');
  assert.equal(runtimeKind({ selector: 'app=web' }), 'k8s');
  assert.equal(runtimeKind({ target: { kind: 'pod', name: 'web' } }), 'k8s');
  assert.equal(runtimeKind({ runtime: 'docker' }), 'docker');
  assert.throws(() => checkRuntimeChoice({ restart: false, selector: 'app=web' }), /--no-restart applies to the local and docker runtimes/);
  assert.doesNotThrow(() => checkRuntimeChoice({ restart: false, runtime: 'docker' }));
});
