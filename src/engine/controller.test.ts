// The controller's logic with a fake runtime and a fake prober: start-up, reload (added, changed,
// removed, refused), failures rolled back, cancellation during start-up, actions, reason codes,
// the state record it keeps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import type { EnvSpec, Exposure, HostExposure, Plan } from '../plan/types.js';
import type { TargetResult } from '../probe/index.js';
import type { ReasonCode } from '../reasons.js';
import type { ExposureHandle, HandleCondition, Runtime, StartOptions } from '../apply/types.js';
import { loadKubeClient } from '../apply/k8s/client.js';
import { K8sRuntime } from '../apply/k8s/runtime.js';
import type { EnvStatus } from '../status/types.js';
import { stopLine } from '../cli/stop-line.js';
import { EnvController, type ReloadEvent } from './controller.js';
import { StaticPlanSource, type RemoteExposures } from './plan-source.js';
import type { ProbeScheduler } from './scheduler.js';
import { StateStore } from './state.js';

const env = (): EnvSpec => ({
  name: 'demo', base: {}, services: [], packages: { python: [], apt: [], r: [], conda: [] }, daemons: [], commands: {}, environment: {}, extraPath: [], copies: [],
});
const host = (id: string, hostPort: number, extra: Partial<HostExposure> = {}): HostExposure => ({
  id, kind: 'host', envPort: 8000 + hostPort, protocol: 'tcp', position: `build.envd:${hostPort}:5`, declaredBy: 'host.bind', hostPort, listenAddress: '127.0.0.1', ...extra,
});
const plan = (...exposures: Exposure[]): Plan => ({ apiVersion: 'envserve/v1', kind: 'Plan', source: '/tmp/demo/build.envd', env: env(), exposures, warnings: [] });

/** A runtime that records every call; `gate` holds startEnvironment until released or aborted. */
class FakeRuntime extends EventEmitter implements Runtime {
  readonly name = 'local' as const;
  readonly kinds = ['host'] as const;
  log: string[] = [];
  failExpose = new Map<number, Error>();
  failPreflight?: (opts: StartOptions) => Error | undefined;
  gate?: Promise<void>;
  conditions = new Map<string, HandleCondition>();
  processCondition?: HandleCondition;
  details = new Map<string, ReturnType<NonNullable<ExposureHandle['details']>>>();
  owned = [{ kind: 'Service', namespace: 'ns', name: 'demo-a' }];
  /** As `serve` on Kubernetes: its objects stay after stopEnvironment, for `down`. */
  keepOwned = false;

  async preflight(_p: Plan, exposures: Exposure[], opts: StartOptions): Promise<void> {
    this.log.push(`preflight${opts.reload ? ` reload +${opts.reload.added.map((e) => e.id).join(',')}` : ` ${exposures.length}`}`);
    const e = this.failPreflight?.(opts);
    if (e) throw e;
  }
  async startEnvironment(_p: Plan, _e: Exposure[], opts: StartOptions): Promise<void> {
    this.log.push('startEnvironment');
    if (this.gate) {
      await Promise.race([this.gate, new Promise<void>((r) => opts.signal?.addEventListener('abort', () => r(), { once: true }))]);
    }
  }
  async expose(e: Exposure): Promise<ExposureHandle> {
    const h = e as HostExposure;
    const err = this.failExpose.get(h.hostPort);
    if (err) throw err;
    this.log.push(`expose ${e.id}:${h.hostPort}`);
    const self = this;
    return {
      spec: e,
      listen: { address: '127.0.0.1', port: h.hostPort },
      target: `127.0.0.1:${e.envPort}`,
      observed: () => ({ listener: { address: '127.0.0.1', port: h.hostPort }, backend: { address: '127.0.0.1', port: e.envPort } }),
      condition: () => self.conditions.get(e.id),
      details: () => self.details.get(e.id) ?? {},
      stop: async () => void this.log.push(`stop ${e.id}`),
    };
  }
  async prune(wanted: readonly Exposure[]): Promise<void> {
    this.log.push(`prune [${wanted.map((e) => e.id).join(',')}]`);
  }
  conditionFor(): HandleCondition | undefined {
    return this.processCondition;
  }
  async stopEnvironment(): Promise<void> {
    this.log.push('stopEnvironment');
    if (!this.keepOwned) this.owned = [];
  }
  resources() {
    return { processes: [], notes: [], cluster: { server: 'https://k:6443', context: 'ctx', namespace: 'ns', kubeconfig: '/k/config' }, owned: this.owned };
  }
}

/** Probes answer per backend port: `answering` holds the ports that answer. */
function fakeProber(answering: Set<number>) {
  return async (list: readonly { target: any; vantage: any }[]): Promise<TargetResult[]> =>
    list.map((t) => ({ ...t, result: answering.has(t.target.port) ? { ok: true, reason: 'Ready' as const } : { ok: false, reason: 'ConnectionRefused' as const, detail: 'connection refused' } }));
}

/** A scheduler that runs rounds only when poked (deterministic tests). */
class ManualScheduler implements ProbeScheduler {
  round?: (ids?: readonly string[]) => Promise<void>;
  /** The round the last poke started, for a test to await before it reads the outcome. */
  last?: Promise<void>;
  pokes = 0;
  run(round: (ids?: readonly string[]) => Promise<void>): void {
    this.round = round;
  }
  poke(ids?: readonly string[]): void {
    this.pokes++;
    this.last = this.round?.(ids);
  }
}

function setup(initial: Plan, o: { mode?: 'up' | 'serve'; store?: StateStore; remote?: RemoteExposures; rt?: FakeRuntime } = {}) {
  const rt = o.rt ?? new FakeRuntime();
  const source: StaticPlanSource & { remote?: RemoteExposures } = new StaticPlanSource(initial);
  if (o.remote) source.remote = o.remote;
  const answering = new Set<number>();
  const scheduler = new ManualScheduler();
  const c = new EnvController({ source, runtime: rt, mode: o.mode ?? 'serve', scheduler, probeTargets: fakeProber(answering), ...(o.store && { store: o.store, controlSocket: '/x.sock' }) });
  const ac = new AbortController();
  const events: string[] = [];
  const reloads: ReloadEvent[] = [];
  c.on('started', () => events.push('started'));
  c.on('stopped', () => events.push('stopped'));
  c.on('reload', (r) => reloads.push(r));
  return { rt, source, answering, scheduler, c, ac, events, reloads };
}

async function until(fn: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > deadline) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const byId = (s: EnvStatus, id: string) => s.exposures.find((e) => e.id === id)!;

test('controller: up starts the environment, exposes, probes, reports reasons; abort stops everything', async () => {
  const store = new StateStore('/tmp/demo/build.envd', mkdtempSync(join(tmpdir(), 'envserve-ctl-')));
  const t = setup(plan(host('a', 1), host('b', 2)), { mode: 'up', store });
  t.answering.add(8001);
  const run = t.c.run(t.ac.signal);
  await until(() => t.events.includes('started'));
  assert.deepEqual(t.rt.log, ['preflight 2', 'startEnvironment', 'expose a:1', 'expose b:2', 'prune [a,b]']);
  const s = t.c.status();
  assert.equal(byId(s, 'a').state, 'ready');
  assert.equal(byId(s, 'a').reason, 'Ready');
  assert.equal(byId(s, 'b').state, 'waiting');
  assert.equal(byId(s, 'b').reason, 'ConnectionRefused');
  assert.ok(byId(s, 'b').since <= new Date().toISOString());
  // the state record: identity, cluster (a path, no credentials), owned objects, forwards, status
  const rec = store.read()!;
  assert.equal(rec.kind, 'EnvState');
  assert.equal(rec.envId, store.envId);
  assert.deepEqual(rec.cluster, { server: 'https://k:6443', context: 'ctx', namespace: 'ns', kubeconfig: '/k/config' });
  assert.deepEqual(rec.owned, [{ kind: 'Service', namespace: 'ns', name: 'demo-a' }]);
  assert.deepEqual(rec.forwards.map((f) => f.id), ['a', 'b']);
  assert.equal(rec.controlSocket, '/x.sock');
  assert.equal(rec.status.exposures.length, 2);
  // since: unchanged while the state stays the same, new when it changes
  const sinceB = byId(s, 'b').since;
  await new Promise((r) => setTimeout(r, 5));
  t.scheduler.poke();
  assert.ok(t.scheduler.last, 'the poke started a round');
  await t.scheduler.last;
  assert.equal(byId(t.c.status(), 'b').since, sinceB);
  t.answering.add(8002);
  await t.c.probeNow('b');
  assert.equal(byId(t.c.status(), 'b').reason, 'Ready');
  assert.notEqual(byId(t.c.status(), 'b').since, sinceB);
  t.ac.abort();
  await run;
  assert.deepEqual(t.rt.log.slice(-3).sort(), ['stop a', 'stop b', 'stopEnvironment'].sort());
  assert.deepEqual(t.events, ['started', 'stopped']);
  assert.equal(store.read(), undefined, 'the record is removed once everything stopped');
});

test('controller: the state record it writes from a Kubernetes runtime holds the kubeconfig path, never its credentials', async () => {
  // A kubeconfig with every kind of secret a user's may hold; the record is written by the
  // controller from the real K8sRuntime's resources() (its client loaded from this file).
  const secrets = { token: 'tok-3b1f9c0e', key: 'KEY-5e2a7d41', cert: 'CERT-9c4b0f62', password: 'pw-71d3e8a0' };
  const dir = mkdtempSync(join(tmpdir(), 'envserve-kc-'));
  const kubeconfig = join(dir, 'config');
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  writeFileSync(kubeconfig, JSON.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'dev',
    clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443' } }],
    // (a token and basic auth on one user is refused, as kubectl does: the password is another user's)
    users: [{ name: 'u', user: { token: secrets.token, 'client-key-data': b64(secrets.key), 'client-certificate-data': b64(secrets.cert) } }, { name: 'basic', user: { username: 'admin', password: secrets.password } }],
    contexts: [{ name: 'dev', context: { cluster: 'c', user: 'u', namespace: 'team-a' } }],
  }));
  const k8s = new K8sRuntime();
  k8s.client = loadKubeClient({ kubeconfig });
  k8s.namespace = k8s.client.namespace;
  const rt = Object.assign(new FakeRuntime(), { resources: () => k8s.resources() });
  const store = new StateStore('/tmp/demo/build.envd', mkdtempSync(join(tmpdir(), 'envserve-ctl-')));
  const t = setup(plan(host('a', 1)), { store, rt });
  const run = t.c.run(t.ac.signal);
  await until(() => t.events.includes('started'));
  const text = JSON.stringify(store.read());
  assert.deepEqual(store.read()!.cluster, { server: 'https://10.0.0.1:6443', context: 'dev', namespace: 'team-a', kubeconfig });
  for (const [what, secret] of Object.entries(secrets)) {
    assert.ok(!text.includes(secret) && !text.includes(b64(secret)), `the record holds the kubeconfig's ${what}`);
  }
  t.ac.abort();
  await run;
});

test('controller: objects left on purpose (serve on Kubernetes) keep the record, marked stopped, for down', async () => {
  const store = new StateStore('/tmp/demo/build.envd', mkdtempSync(join(tmpdir(), 'envserve-ctl-')));
  const t = setup(plan(host('a', 1)), { store });
  t.rt.keepOwned = true;
  const run = t.c.run(t.ac.signal);
  await until(() => t.events.includes('started'));
  assert.equal(store.read()?.stoppedAt, undefined);
  t.ac.abort();
  await run;
  const rec = store.read()!;
  assert.ok(rec.stoppedAt, 'marked stopped');
  assert.deepEqual(rec.owned, [{ kind: 'Service', namespace: 'ns', name: 'demo-a' }]);
  assert.deepEqual(rec.forwards, [], 'no listener is held any more');
  assert.equal(rec.status.exposures[0]!.state, 'stopped');
  // what serve prints last, from that record
  assert.equal(stopLine(rec, 'build.envd', store.envId), `stopped; left in the cluster: service ns/demo-a (envserve down -f build.envd, or down --env ${store.envId}, removes them)`);
});

test('controller: a plan change is reconciled by id — added applied, changed replaced, gone removed and pruned', async () => {
  const t = setup(plan(host('keep', 1), host('moving', 2), host('gone', 3)));
  const run = t.c.run(t.ac.signal);
  await until(() => t.events.includes('started'));
  t.rt.log = [];
  t.source.set(plan(host('keep', 1), host('moving', 22), host('new', 4)));
  await until(() => t.reloads.length === 1);
  const r = t.reloads[0]!;
  assert.ok(r.ok);
  assert.deepEqual({ added: r.added, changed: r.changed, removed: r.removed, unchanged: r.unchanged }, { added: ['new'], changed: ['moving'], removed: ['gone'], unchanged: ['keep'] });
  // preflight checks only what is new (a held port is not "in use"), before anything changes
  assert.equal(t.rt.log[0], 'preflight reload +new');
  assert.deepEqual(t.rt.log.slice(1).sort(), ['expose moving:22', 'expose new:4', 'prune [keep,moving,new]', 'stop gone', 'stop moving'].sort());
  assert.deepEqual(t.c.status().exposures.map((e) => e.id), ['keep', 'moving', 'new']);
  t.ac.abort();
  await run;
});

test('controller: a broken or refused plan change keeps what runs', async () => {
  const t = setup(plan(host('a', 1)));
  const run = t.c.run(t.ac.signal);
  await until(() => t.events.includes('started'));
  // the source cannot produce a plan (a syntax error in the file)
  const load = t.source.load.bind(t.source);
  t.source.load = async () => {
    throw new UserError('build.envd:1:9: unexpected (');
  };
  t.source.set(plan(host('a', 1)));
  await until(() => t.reloads.length === 1);
  assert.equal(t.reloads[0]!.ok, false);
  t.source.load = load;
  // the runtime refuses the new exposure (its port is taken): nothing changes
  t.rt.failPreflight = (o) => (o.reload ? new UserError('host port 5 is already in use', undefined, 'PortInUse') : undefined);
  t.rt.log = [];
  t.source.set(plan(host('b', 5)));
  await until(() => t.reloads.length === 2);
  const r = t.reloads[1]!;
  assert.equal(r.ok, false);
  assert.equal(!r.ok && (r.error as UserError).reason, 'PortInUse');
  assert.deepEqual(t.rt.log, ['preflight reload +b']);
  assert.deepEqual(t.c.status().exposures.map((e) => e.id), ['a']);
  t.ac.abort();
  await run;
});

test('controller: a failure at start rolls everything back and rejects with its reason', async () => {
  const t = setup(plan(host('a', 1), host('b', 2)), { mode: 'up' });
  t.rt.failExpose.set(2, new UserError('host port 2 is already in use', undefined, 'PortInUse'));
  await assert.rejects(t.c.run(t.ac.signal), (e: Error & { reason?: ReasonCode }) => {
    assert.match(e.message, /could not expose:\nbuild\.envd:2:5: host port 2 is already in use\nnothing was left running/);
    assert.equal(e.reason, 'PortInUse');
    return true;
  });
  assert.deepEqual(t.rt.log, ['preflight 2', 'startEnvironment', 'expose a:1', 'stop a', 'stopEnvironment']);
  assert.deepEqual(t.events, ['stopped']);
});

test('controller: aborting during start-up stops promptly and exposes nothing', async () => {
  const t = setup(plan(host('a', 1)), { mode: 'up' });
  t.rt.gate = new Promise(() => {}); // an environment that never becomes ready
  const run = t.c.run(t.ac.signal);
  await until(() => t.rt.log.includes('startEnvironment'));
  const t0 = Date.now();
  t.ac.abort();
  await run;
  // The environment never becomes ready: without the abort, run() never ends. The bound is for
  // that, not a measure of speed on a loaded machine.
  assert.ok(Date.now() - t0 < 10_000, `stopped in ${Date.now() - t0} ms`);
  assert.deepEqual(t.rt.log, ['preflight 1', 'startEnvironment', 'stopEnvironment']);
  assert.deepEqual(t.events, ['stopped']);
});

test('controller: actions stop, start and restart one exposure; unknown ids are NotFound', async () => {
  const t = setup(plan(host('a', 1), host('b', 2)));
  t.answering.add(8001).add(8002);
  const run = t.c.run(t.ac.signal);
  await until(() => t.events.includes('started'));
  t.rt.log = [];
  let s = await t.c.stopExposure('a');
  assert.equal(byId(s, 'a').state, 'stopped');
  assert.equal(byId(s, 'a').reason, 'Stopped');
  assert.deepEqual(t.rt.log, ['stop a', 'prune [b]']);
  // a reload does not bring back what the user stopped
  t.source.set(plan(host('a', 1), host('b', 2), host('c', 3)));
  await until(() => t.reloads.length === 1);
  assert.equal(byId(t.c.status(), 'a').state, 'stopped');
  s = await t.c.startExposure('a');
  assert.equal(byId(s, 'a').reason, 'Ready');
  t.rt.log = [];
  await t.c.restartExposure('b');
  assert.deepEqual(t.rt.log, ['stop b', 'expose b:2']);
  await assert.rejects(t.c.restartExposure('nope'), (e: UserError) => e.reason === 'NotFound');
  await assert.rejects(t.c.probeNow('nope'), (e: UserError) => e.reason === 'NotFound');
  t.ac.abort();
  await run;
  await assert.rejects(t.c.probeNow(), (e: UserError) => e.reason === 'NotRunning');
});

test('controller: runtime conditions decide the reason; a runtime change triggers a probe round', async () => {
  const t = setup(plan(host('a', 1), host('b', 2)));
  const run = t.c.run(t.ac.signal);
  await until(() => t.events.includes('started'));
  // a blocking handle condition wins over the probe (a port-forward with no Ready pod)
  t.rt.conditions.set('a', { reason: 'PodNotReady', message: 'waiting for a Ready pod: pod x is ContainerCreating', blocking: true });
  // a process that exited explains a probe that fails
  t.rt.processCondition = { reason: 'ProcessExited', message: 'jupyter exited with code 1; last lines: Running as root is not recommended', blocking: true };
  const statuses: EnvStatus[] = [];
  t.c.on('status', (s) => statuses.push(s));
  const pokes = t.scheduler.pokes;
  t.rt.emit('change');
  assert.equal(t.scheduler.pokes, pokes + 1);
  await until(() => statuses.length > 0);
  const s = t.c.status();
  assert.equal(byId(s, 'a').state, 'waiting');
  assert.equal(byId(s, 'a').reason, 'PodNotReady');
  assert.equal(byId(s, 'b').state, 'failed');
  assert.equal(byId(s, 'b').reason, 'ProcessExited');
  assert.match(byId(s, 'b').message!, /exited with code 1; last lines: Running as root/);
  // while a restart is due it comes back by itself: waiting, with the same reason
  t.rt.processCondition = { reason: 'ProcessExited', message: 'jupyter exited with code 1; starting again in 2 s', blocking: true, transient: true };
  assert.equal(byId(t.c.status(), 'b').state, 'waiting');
  assert.equal(byId(t.c.status(), 'b').reason, 'ProcessExited');
  // the restarts of the process behind it show on its row; keys without a value are left out
  const lastExit = { code: 1, at: '2026-01-01T00:00:00.000Z' };
  t.rt.details.set('b', { restarts: 2, lastExit, pod: undefined });
  const b = byId(t.c.status(), 'b');
  assert.deepEqual([b.restarts, b.lastExit, 'pod' in b], [2, lastExit, false]);
  t.ac.abort();
  await run;
});

test('controller: status events come only when something changed; the iterator yields them', async () => {
  const t = setup(plan(host('a', 1)));
  const run = t.c.run(t.ac.signal);
  await until(() => t.events.includes('started'));
  const seen: EnvStatus[] = [];
  const it = new AbortController();
  const consumer = (async () => {
    for await (const s of t.c.iterate('status', it.signal)) seen.push(s);
  })();
  await t.c.probeNow();
  await t.c.probeNow();
  assert.equal(seen.length, 0, 'no change, no event');
  t.answering.add(8001);
  await t.c.probeNow();
  await until(() => seen.length === 1);
  assert.equal(byId(seen[0]!, 'a').reason, 'Ready');
  it.abort();
  await consumer;
  t.ac.abort();
  await run;
});

test('controller: exposures another system applies (the operator) are in the status and followed; what it holds is in the record; actions on them are refused', async () => {
  const store = new StateStore('/tmp/demo/build.envd', mkdtempSync(join(tmpdir(), 'envserve-ctl-')));
  let reason: 'Ready' | 'NoEndpoints' = 'Ready';
  let notify = () => {};
  const released: string[] = [];
  const remote: RemoteExposures = {
    status: () => [{ id: 'service-web', kind: 'k8s-service', protocol: 'http', envPort: 8080, state: reason === 'Ready' ? 'ready' : 'waiting', reason, urls: [] }],
    owned: () => [{ kind: 'ExposureSet', namespace: 'ns', name: 'demo' }],
    watch: (f) => (notify = f),
    release: async (mode) => void released.push(mode),
  };
  const t = setup(plan(host('a', 1)), { store, remote });
  const statuses: EnvStatus[] = [];
  t.c.on('status', (s) => statuses.push(s));
  const run = t.c.run(t.ac.signal);
  await until(() => t.events.includes('started'));
  assert.deepEqual(t.c.status().exposures.map((e) => `${e.id}:${e.reason}`), ['a:ConnectionRefused', 'service-web:Ready']);
  reason = 'NoEndpoints';
  notify();
  assert.equal(byId(statuses.at(-1)!, 'service-web').reason, 'NoEndpoints', 'a status event when the remote status changes');
  assert.deepEqual(store.read()!.owned, [{ kind: 'Service', namespace: 'ns', name: 'demo-a' }, { kind: 'ExposureSet', namespace: 'ns', name: 'demo' }], "the runtime's objects and the operator's resource");
  await assert.rejects(t.c.restartExposure('service-web'), (e: unknown) => e instanceof UserError && /applied in the cluster by the envserve operator/.test(e.message));
  t.ac.abort();
  await run;
  assert.deepEqual(released, ['serve']);
  assert.ok(store.read()!.stoppedAt, 'the ExposureSet is left for down: the record stays');
});
