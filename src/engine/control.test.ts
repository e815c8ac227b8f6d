// The control channel on a real unix socket: status, the event stream, the actions, stop; the
// socket's mode; a second server on a live socket is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExposureHandle, Runtime } from '../apply/types.js';
import type { EnvSpec, Exposure, HostExposure, Plan } from '../plan/types.js';
import { ControlClient, ControlError, ControlServer, type ControlEvent } from './control.js';
import { EnvController } from './controller.js';
import { StaticPlanSource } from './plan-source.js';

const env: EnvSpec = { name: 'demo', base: {}, services: [], packages: { python: [], apt: [], r: [], conda: [] }, daemons: [], commands: {}, environment: {}, extraPath: [], copies: [] };
const host = (id: string, hostPort: number): HostExposure => ({ id, kind: 'host', envPort: 9000 + hostPort, protocol: 'tcp', position: 'f:1:1', declaredBy: 'host.bind', hostPort, listenAddress: '127.0.0.1' });
const plan: Plan = { apiVersion: 'envserve/v1', kind: 'Plan', source: '/tmp/demo/build.envd', env, exposures: [host('a', 1), host('b', 2)], warnings: [] };

const runtime: Runtime = {
  name: 'local',
  kinds: ['host'],
  async preflight() {},
  async startEnvironment() {},
  async expose(e: Exposure): Promise<ExposureHandle> {
    return { spec: e, listen: { address: '127.0.0.1', port: (e as HostExposure).hostPort }, target: 'x', observed: () => ({ listener: { address: '127.0.0.1', port: (e as HostExposure).hostPort } }), stop: async () => {} };
  },
  async stopEnvironment() {},
  resources: () => ({ processes: [], notes: [] }),
};

test('control socket: status, events, actions and stop over HTTP on a 0600 unix socket', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'envserve-ctl-'));
  const path = join(dir, 'demo.sock');
  const c = new EnvController({ source: new StaticPlanSource(plan), runtime, mode: 'serve', probeIntervalMs: 60_000, probeTargets: async (l) => l.map((t) => ({ ...t, result: { ok: true, reason: 'Ready' } })) });
  const server = await ControlServer.listen(c, path);
  await assert.rejects(ControlServer.listen(c, path), /another envserve answers/);
  assert.equal(statSync(path).mode & 0o777, 0o600);
  const ac = new AbortController();
  const started = new Promise((r) => c.on('started', r));
  const run = c.run(ac.signal);
  await started;
  const client = new ControlClient(path);
  const s = await client.status();
  assert.deepEqual(s.exposures.map((e) => [e.id, e.state, e.reason]), [['a', 'ready', 'Ready'], ['b', 'ready', 'Ready']]);

  const events: ControlEvent[] = [];
  const streamEnded = client.events((ev) => events.push(ev));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(events[0]?.type, 'status', 'the stream starts with the current status');
  const stopped = await client.stopExposure('a');
  assert.equal(stopped.exposures[0]!.reason, 'Stopped');
  const probed = await client.probeNow();
  assert.equal(probed.exposures[1]!.reason, 'Ready');
  await client.startExposure('a');
  await client.restartExposure('b');
  await assert.rejects(client.stopExposure('zzz'), (e: ControlError) => e.reason === 'NotFound' && e.httpStatus === 404);

  assert.deepEqual(await client.stop(), { stopping: true });
  await run;
  await server.close();
  await streamEnded;
  const types = events.map((e) => e.type);
  assert.ok(types.filter((t) => t === 'status').length >= 3, types.join(','));
  assert.ok(types.includes('stopping') && types.at(-1) === 'stopped', types.join(','));
  assert.equal(existsSync(path), false, 'the socket is removed');
});
