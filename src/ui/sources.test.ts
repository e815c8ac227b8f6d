// The dashboard's sources with scripted engines (the real control socket is exercised by
// test/ui): discovery of environments from state records, following their event streams, and
// the inline results of actions and checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EnvStatus } from '../status/types.js';
import { UserError } from '../errors.js';
import { checkExposure, checkOptions, listenersOf } from './check-run.js';
import { checkResultFor, type CheckReportLike } from './check-result.js';
import { controllerEnvironment, resultFor } from './in-process.js';
import { socketSource, type ControlClientLike } from './socket-env.js';

const status = (envName: string, state: 'ready' | 'stopped' | 'failed' = 'ready'): EnvStatus =>
  ({
    apiVersion: 'envserve/v1', kind: 'Status', envName, envFile: `/tmp/${envName}/build.envd`, runtime: 'local', mode: 'up', pid: 1,
    startedAt: '2026-01-01T00:00:00Z', processes: [], notes: [],
    exposures: [{ id: 'e1', kind: 'host', protocol: 'http', envPort: 80, state, urls: [], reason: state === 'ready' ? 'Ready' : 'Stopped', latencyMs: 1.26, answering: state === 'ready' }],
  }) as unknown as EnvStatus;

test('an action result says the new state, the reason and the latency', () => {
  assert.deepEqual(resultFor(status('a'), 'e1'), { ok: true, reason: 'Ready', message: 'ready, answers in 1.3 ms' });
  assert.equal(resultFor(status('a', 'failed'), 'e1').ok, false);
  assert.equal(resultFor(status('a'), 'nope').reason, 'NotFound');
  const waiting = { ...status('a'), exposures: [{ ...status('a').exposures[0]!, state: 'waiting' as const, answering: false }] };
  assert.equal(resultFor(waiting, 'e1').ok, true, 'an action that left it waiting (for a pod) did its job');
  assert.equal(resultFor(waiting, 'e1', 'check').ok, false, 'a check of it fails');
});

test('the in-process source calls the controller and follows its status events', async () => {
  const calls: string[] = [];
  let listener: ((s: EnvStatus) => void) | undefined;
  const ctrl = {
    status: () => status('a'),
    on: (_e: 'status', l: (s: EnvStatus) => void) => ((listener = l), () => (listener = undefined)),
    restartExposure: async (id: string) => (calls.push(`restart ${id}`), status('a')),
    stopExposure: async (id: string) => (calls.push(`stop ${id}`), status('a', 'stopped')),
    startExposure: async (id: string) => (calls.push(`start ${id}`), status('a')),
    probeNow: async (id?: string) => (calls.push(`probe ${id}`), status('a')),
  };
  const env = controllerEnvironment(ctrl, 'a-1');
  const seen: string[] = [];
  const off = env.subscribe((s) => seen.push(s.envName));
  listener!(status('b'));
  off();
  assert.equal(listener, undefined);
  assert.deepEqual(seen, ['b']);
  assert.equal((await env.action('stop', 'e1')).reason, 'Stopped');
  assert.equal((await env.check('e1')).ok, true);
  assert.deepEqual(calls, ['stop e1', 'probe e1']);
});

test('the socket source finds running environments by their state records and follows them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-ui-state-'));
  const streams = new Map<string, { emit: (s: EnvStatus) => void; end: () => void }>();
  const client = (sock: string): ControlClientLike => ({
    status: async () => {
      if (sock.includes('dead')) throw new Error('ECONNREFUSED');
      return status(sock);
    },
    events: (onEvent) =>
      new Promise<void>((resolve) => {
        onEvent({ type: 'status', status: status(sock) });
        streams.set(sock, { emit: (s) => onEvent({ type: 'status', status: s }), end: resolve });
      }),
    restartExposure: async () => status(sock),
    stopExposure: async () => status(sock, 'stopped'),
    startExposure: async () => status(sock),
    probeNow: async () => status(sock),
  });
  writeFileSync(join(dir, 'one-1.json'), JSON.stringify({ apiVersion: 'envserve/v1', kind: 'EnvState', envId: 'one-1', controlSocket: 'one.sock', cluster: { namespace: 'ns1' } }));
  writeFileSync(join(dir, 'dead-1.json'), JSON.stringify({ apiVersion: 'envserve/v1', kind: 'EnvState', envId: 'dead-1', controlSocket: 'dead.sock' }));
  writeFileSync(join(dir, 'junk.json'), '{');
  const src = socketSource({ stateDir: dir, client, rescanMs: 60_000 });
  try {
    let changes = 0;
    src.onListChange(() => changes++);
    await src.rescan();
    assert.deepEqual(src.environments().map((e) => e.key), ['one-1'], 'a stale record (its socket does not answer) is not listed');
    const one = src.environments()[0]!;
    assert.deepEqual(one.cluster?.(), { namespace: 'ns1' });
    const seen: string[] = [];
    one.subscribe((s) => seen.push(s.exposures[0]!.state));
    streams.get('one.sock')!.emit(status('one.sock', 'failed'));
    assert.deepEqual(seen, ['failed']);
    assert.equal(one.status()?.exposures[0]?.state, 'failed');
    assert.equal((await one.action('stop', 'e1')).reason, 'Stopped');

    writeFileSync(join(dir, 'two-1.json'), JSON.stringify({ apiVersion: 'envserve/v1', kind: 'EnvState', envId: 'two-1', controlSocket: 'two.sock' }));
    await src.rescan();
    assert.deepEqual(src.environments().map((e) => e.key).sort(), ['one-1', 'two-1']);
    // That envserve stopped: its record goes, its stream ends.
    rmSync(join(dir, 'one-1.json'));
    streams.get('one.sock')!.end();
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(src.environments().map((e) => e.key), ['two-1']);
    assert.ok(changes >= 3);
  } finally {
    src.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("check's report, narrowed to one exposure", () => {
  const report: CheckReportLike = {
    ok: false,
    exposures: [{ exposure: 'e1', verdict: 'problem', cause: { reason: 'NoEndpoints', message: 'the Service selects no Ready pod', fix: 'check the labels' } }, { exposure: 'e2', verdict: 'answers' }],
    checks: [
      { id: 'service.endpoints', exposure: 'e1', title: 'Service endpoints', status: 'fail', reason: 'NoEndpoints', message: 'none', vantage: 'static' },
      { id: 'probe.local', exposure: 'e2', title: 'answers here', status: 'pass', reason: 'Ready', message: 'HTTP 200', vantage: 'local', latencyMs: 2 },
    ],
  };
  const r = checkResultFor(report, 'e1');
  assert.equal(r.ok, false);
  assert.equal(r.reason, 'NoEndpoints');
  assert.match(r.message!, /problem — the Service selects no Ready pod \(fix: check the labels\)/);
  assert.equal((r.details as unknown[]).length, 1);
  assert.deepEqual(checkResultFor(report, 'e2'), { ok: true, reason: 'Ready', message: 'answers', details: [{ status: 'pass', title: 'answers here', vantage: 'local', reason: 'Ready', latencyMs: 2, message: 'HTTP 200' }] });
});

test('the check button runs envserve check for the environment, on its cluster, without a debug pod', () => {
  assert.deepEqual(checkOptions({ envFile: '/e/build.envd', envName: 'e', runtime: 'local' }), { file: '/e/build.envd', name: 'e', runtime: 'local', debugPod: false });
  const listeners = new Map([['pf', { address: '127.0.0.1', port: 8888 }]]);
  assert.deepEqual(
    checkOptions({ envFile: '/e/build.envd', envName: 'e', runtime: 'k8s', cluster: { kubeconfig: '/k', context: 'c', namespace: 'n' } }, listeners),
    { file: '/e/build.envd', name: 'e', runtime: 'k8s', debugPod: false, kubeconfig: '/k', context: 'c', namespace: 'n', localListeners: listeners },
  );
});

test("the check runs in this process with the engine's listeners; its errors are the result", async () => {
  const status = {
    exposures: [
      { id: 'pf', kind: 'k8s-port-forward', state: 'ready', listen: { address: '127.0.0.1', port: 8888 } },
      { id: 'h', kind: 'host', state: 'ready', listen: { address: '127.0.0.1', port: 9000 } },
    ],
  } as unknown as EnvStatus;
  assert.deepEqual([...listenersOf(status)], [['pf', { address: '127.0.0.1', port: 8888 }]], 'the port-forwards the engine holds');
  const target = { envFile: '/e/build.envd', envName: 'e', runtime: 'k8s' };
  let asked: unknown;
  const report = { ok: true, exposures: [{ exposure: 'pf', verdict: 'answers' }], checks: [] };
  const r = await checkExposure(target, 'pf', listenersOf(status), async (o) => ((asked = o), report as never));
  assert.deepEqual(r, { ok: true, reason: 'Ready', message: 'answers', details: [] });
  assert.deepEqual((asked as { localListeners: unknown }).localListeners, listenersOf(status));
  assert.deepEqual(await checkExposure(target, 'pf', undefined, async () => { throw new UserError('build.envd: no such file'); }), { ok: false, reason: 'InvalidInput', message: 'envserve check failed: build.envd: no such file' });
  assert.equal((await checkExposure(target, 'pf', undefined, async () => { throw new Error('boom'); })).reason, 'Internal');
});
