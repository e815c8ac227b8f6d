// The state record: its key, atomic write-on-change, 0600, listing (`status --all`), and the
// control socket's path when the state directory's path is too long for a unix socket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { envIdFor, listStates, socketPathFor, stateDir, StateStore, type StateRecord } from './state.js';

const record = (store: StateStore, over: Partial<StateRecord> = {}): StateRecord => ({
  apiVersion: 'envserve/v1', kind: 'EnvState', envId: store.envId, envName: 'lab', envFile: '/srv/lab/build.envd', runtime: 'k8s', mode: 'serve',
  pid: 4242, startedAt: '2026-01-01T00:00:00.000Z', controlSocket: store.socketPath,
  cluster: { server: 'https://10.0.0.1:6443', context: 'dev', namespace: 'team-a', kubeconfig: '/home/u/.kube/dev' },
  owned: [{ kind: 'Service', namespace: 'team-a', name: 'lab-jupyter-9090' }], processes: [], forwards: [{ id: 'port-forward-jupyter-1234', address: '127.0.0.1', port: 1234 }],
  status: { apiVersion: 'envserve/v1', kind: 'Status', envId: store.envId, envName: 'lab', envFile: '/srv/lab/build.envd', runtime: 'k8s', mode: 'serve', pid: 4242, startedAt: '', processes: [], exposures: [], notes: [] },
  ...over,
});

test('state: the env id is <dir name>-<hash of the absolute path>, stable, and distinct per file', () => {
  assert.match(envIdFor('/srv/lab/build.envd'), /^lab-[0-9a-f]{12}$/);
  assert.equal(envIdFor('/srv/lab/build.envd'), envIdFor('/srv/lab/../lab/build.envd'));
  assert.notEqual(envIdFor('/srv/lab/build.envd'), envIdFor('/srv/lab2/lab/build.envd'));
  assert.equal(stateDir({ ENVSERVE_STATE_DIR: '/x' }), '/x');
  assert.equal(stateDir({ XDG_STATE_HOME: '/y' }), '/y/envserve');
  assert.equal(stateDir({}, () => '/home/u'), '/home/u/.local/state/envserve');
  // No $HOME and no passwd entry (a container run with an arbitrary uid; os.homedir() throws there).
  assert.equal(stateDir({}, () => undefined), join(tmpdir(), `envserve-${process.getuid!()}`, 'state'));
});

test('state: written atomically with mode 0600, only when it changes; read back; removed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-state-'));
  const store = new StateStore('/srv/lab/build.envd', dir);
  assert.equal(store.read(), undefined);
  const rec = record(store);
  assert.equal(store.write(rec), true);
  assert.equal(store.write(rec), false, 'the same record is not written twice');
  assert.equal(statSync(store.path).mode & 0o777, 0o600);
  assert.deepEqual(store.read(), rec);
  assert.equal(store.path, join(dir, `${store.envId}.json`));
  assert.equal(store.socketPath, join(dir, `${store.envId}.sock`));
  store.remove();
  assert.equal(store.read(), undefined);
});

test('state: listStates lists every record in the directory (status --all), skipping other files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-state-'));
  const a = new StateStore('/srv/a/build.envd', dir);
  const b = new StateStore('/srv/b/build.envd', dir);
  a.write(record(a, { envName: 'a' }));
  b.write(record(b, { envName: 'b' }));
  writeFileSync(join(dir, 'junk.json'), '{"not": "a record"}');
  writeFileSync(join(dir, 'broken.json'), '{');
  assert.deepEqual(listStates(dir).map((r) => r.envName), ['a', 'b']);
  assert.deepEqual(listStates(join(dir, 'missing')), []);
});

test('state: a state directory too long for a unix socket gets its socket in the temp directory', () => {
  const long = `/tmp/${'d'.repeat(120)}`;
  const p = socketPathFor(long, 'lab-0123456789ab');
  assert.ok(Buffer.byteLength(p) <= 100, p);
  assert.ok(p.startsWith(join(tmpdir(), 'envserve-')));
  assert.equal(socketPathFor('/s', 'lab-0123456789ab'), '/s/lab-0123456789ab.sock');
});
