// Pure parts: the reconciler's diff, /proc/net parsing and port owners, URLs, image mapping, container command.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetResolver } from '../../src/apply/local/runtime.js';
import { diffExposures, Reconciler } from '../../src/apply/reconcile.js';
import { describePortHolder, ListenerTable, listTcpListeners, listTcpListenersAsync, LOOK_INTERVAL_MS, type TcpListener } from '../../src/apply/local/proc-net.js';
import { urlFor } from '../../src/apply/local/ports.js';
import { imageFor } from '../../src/apply/docker/image.js';
import { containerCommand, environmentProcesses } from '../../src/plan/env-commands.js';
import { planEnvFile } from '../../src/envfile/from-file.js';
import { evaluateEnvSource } from '../../src/envfile/load.js';
import { stopLine } from '../../src/cli/stop-line.js';
import type { StateRecord } from '../../src/engine/state.js';
import type { EnvSpec, HostExposure } from '../../src/plan/types.js';
import type { ExposureHandle, Runtime } from '../../src/apply/types.js';
import { FIXTURES } from './cli-helpers.js';

const host = (id: string, hostPort: number, extra: Partial<Omit<HostExposure, 'declaredBy'>> = {}): HostExposure => ({
  id, kind: 'host', envPort: 8888, protocol: 'http', position: 'f:1:1', declaredBy: 'host.bind', hostPort, listenAddress: '127.0.0.1', ...extra,
});

test('diff: same spec → nothing, changed → stop + start, gone → stop, new → start; positions do not matter', () => {
  const running = new Map([['a', host('a', 1)], ['b', host('b', 2)], ['c', host('c', 3)]]);
  const d = diffExposures([host('a', 1, { position: 'f:9:9' }), host('b', 20), host('d', 4)], running);
  assert.deepEqual(d.unchanged, ['a']);
  assert.deepEqual(d.stop.sort(), ['b', 'c']);
  assert.deepEqual(d.start.map((e) => e.id).sort(), ['b', 'd']);
});

test('reconciler drives a runtime and records failures instead of throwing', async () => {
  const log: string[] = [];
  const runtime = {
    name: 'local', kinds: ['host'],
    async expose(e: HostExposure): Promise<ExposureHandle> {
      if (e.hostPort === 666) throw new Error('cannot');
      log.push(`start ${e.id}:${e.hostPort}`);
      return { spec: e, listen: { address: '127.0.0.1', port: e.hostPort }, target: 'x', observed: () => ({}), stop: async () => void log.push(`stop ${e.id}`) };
    },
  } as unknown as Runtime;
  const r = new Reconciler(runtime);
  await r.apply([host('a', 1), host('b', 666)]);
  assert.deepEqual(log, ['start a:1']);
  assert.equal(r.failures.get('b')?.message, 'cannot');
  await r.apply([host('a', 1), host('b', 2)]);
  await r.apply([host('a', 5)]);
  assert.deepEqual(log, ['start a:1', 'start b:2', 'stop a', 'stop b', 'start a:5']);
  await r.stopAll();
  assert.equal(r.handles.size, 0);
});

test('/proc/net/tcp{,6}: listeners and the process holding a port', async () => {
  const root = join(FIXTURES, 'proc', 'linux');
  assert.deepEqual(await listTcpListenersAsync(root), listTcpListeners(root));
  assert.deepEqual(await listTcpListenersAsync(join(root, 'missing')), []);
  assert.deepEqual(listTcpListeners(root), [
    { address: '127.0.0.1', port: 8888, inode: 4242 },
    { address: '0.0.0.0', port: 1234, inode: 4343 },
    { address: '::1', port: 8080, inode: 5151 },
    { address: '::', port: 8081, inode: 5252 },
  ]);
  assert.equal(describePortHolder(1234, root), 'pid 777 (python3 -m http.server 1234)');
  assert.equal(describePortHolder(8888, root), undefined);
});

test('the local target: where the env port listens, read again after a refusal without blocking the forwarding thread', async () => {
  const root = mkdtempSync(join(tmpdir(), 'envserve-proc-'));
  mkdirSync(join(root, 'net'));
  const header = '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n';
  const row = (addr: string, inode: number) => `   0: ${addr}:1F90 ${addr.replace(/./g, '0')}:0000 0A 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;
  const write = (v4: string, v6: string) => (writeFileSync(join(root, 'net', 'tcp'), header + v4), writeFileSync(join(root, 'net', 'tcp6'), header + v6));
  write('', row('00000000000000000000000001000000', 11)); // the app on [::1]:8080 only
  const target = new TargetResolver(8080, new ListenerTable(root));
  assert.deepEqual(target.current(), { address: '::1', port: 8080 });
  write(row('0100007F', 12), ''); // it restarted on 127.0.0.1
  assert.equal(target.current().address, '::1', 'cached until a connection is refused');
  const looked = target.invalidate();
  assert.equal(target.invalidate(), looked, 'refusals meanwhile share one look');
  assert.equal(target.current().address, '::1', 'the look is not done on this thread');
  await looked;
  assert.deepEqual(target.current(), { address: '127.0.0.1', port: 8080 });
  write('', ''); // stopped: the two loopbacks in turn
  await target.invalidate();
  const first = target.current().address;
  await target.invalidate();
  assert.deepEqual([first, target.current().address].sort(), ['127.0.0.1', '::1']);
  // the proxy's own listener on that port (host port = env port) is never the target
  write(row('0100007F', 13), row('00000000000000000000000001000000', 14));
  const own = new TargetResolver(8080, new ListenerTable(root));
  assert.deepEqual(own.current({ address: '127.0.0.1', port: 8080 }), { address: '::1', port: 8080 });
  await own.invalidate();
  assert.deepEqual(own.current(), { address: '::1', port: 8080 }, 'remembered for the look after a refusal');
});

test('the listener table: exposures share its reads, at most one every LOOK_INTERVAL_MS, each starting after it was asked for', async () => {
  let reads = 0;
  let content: TcpListener[] = [];
  const table = new ListenerTable(join(FIXTURES, 'proc', 'linux'), async () => (reads++, content));
  const a = new TargetResolver(8080, table);
  const b = new TargetResolver(8080, table);
  const t0 = Date.now();
  await Promise.all([a.invalidate(), b.invalidate(), a.invalidate()]);
  assert.equal(reads, 1, 'refusals of two exposures share one read');
  content = [{ address: '::1', port: 8080, inode: 1 }];
  const later = b.invalidate();
  const again = table.fresh();
  await Promise.all([later, again]);
  assert.equal(reads, 2);
  assert.ok(Date.now() - t0 >= LOOK_INTERVAL_MS - 5, 'the second read waits out the interval');
  assert.deepEqual(b.current(), { address: '::1', port: 8080 }, 'and sees what changed before it was asked for');
  assert.deepEqual(table.recent(), content, 'the first look of a new exposure takes a recent read');
  assert.equal(reads, 2);
  // a caller who comes while a read is under way gets the next one, not that one
  let release!: () => void;
  const tables = new ListenerTable('/nonexistent', () => new Promise((r) => (release = () => r([]))));
  const first = tables.fresh();
  await new Promise((r) => setTimeout(r, 20));
  assert.notEqual(tables.fresh(), first);
  release();
  await first;
});

test('URLs: http presets get http://, wildcard listeners are opened on loopback', () => {
  assert.equal(urlFor('http', '127.0.0.1', 1234), 'http://127.0.0.1:1234/');
  assert.equal(urlFor('http', '0.0.0.0', 1234, '/lab'), 'http://127.0.0.1:1234/lab');
  assert.equal(urlFor('tcp', '::', 22), 'tcp://[::1]:22');
});

const spec = (over: Partial<EnvSpec>): EnvSpec => ({
  name: 'e', base: {}, services: [], packages: { python: [], apt: [], r: [], conda: [] }, daemons: [], commands: {}, environment: {}, extraPath: [], copies: [], ...over,
});

test('image mapping from base(os=, language=), base(image=) and --image', () => {
  assert.equal(imageFor(spec({ base: { os: 'ubuntu20.04', language: 'python' }, jupyter: { port: 8888 } })), 'quay.io/jupyter/base-notebook:latest');
  assert.equal(imageFor(spec({ base: { os: 'ubuntu20.04', language: 'python3.9' } })), 'python:3.9-slim');
  assert.equal(imageFor(spec({ base: { os: 'ubuntu22.04' } })), 'ubuntu:22.04');
  assert.equal(imageFor(spec({ base: { image: 'my/img:1' } })), 'my/img:1');
  assert.equal(imageFor(spec({ base: { image: 'my/img:1' } }), 'other:2'), 'other:2');
});

test('container command: jupyter with the hash only, daemons, a trap for SIGTERM', () => {
  const [sh, c, script] = containerCommand(spec({ jupyter: { port: 8888, passwordHash: 'sha1:ab:cd' }, daemons: [['tensorboard', '--logdir', 'my logs']] }));
  assert.deepEqual([sh, c], ['/bin/sh', '-c']);
  assert.match(script!, /^trap 'kill \$pids 2>\/dev\/null; exit 0' TERM INT/);
  assert.match(script!, /jupyter lab --no-browser --ip=0\.0\.0\.0 --port=8888 --PasswordIdentityProvider\.hashed_password=sha1:ab:cd .*--allow-root &/);
  assert.match(script!, /tensorboard --logdir 'my logs' &/);
});

test('runtime.daemon(restart=False): those commands are left down (plan, processes, container command); a non-bool is an error', () => {
  const plan = (src: string) => planEnvFile(evaluateEnvSource('r/build.envd', src, { print: () => {} }), 'r');
  const p = plan(`
def build():
    runtime.daemon(commands=[["a"]])
    runtime.daemon(commands=[["b"], ["c"]], restart=False)
    runtime.daemon(commands=[["d"]], restart=True)
`);
  assert.deepEqual(p.env.noRestart, [1, 2]);
  assert.deepEqual(environmentProcesses(p.env, { listenAddress: '0.0.0.0' }).map((x) => `${x.name}:${x.restart}`), ['daemon-1:true', 'daemon-2:false', 'daemon-3:false', 'daemon-4:true']);
  assert.equal(plan('def build():\n    runtime.daemon(commands=[["a"]])\n').env.noRestart, undefined, 'absent unless asked for');
  assert.throws(() => plan('def build():\n    runtime.daemon(commands=[["a"]], restart="no")\n'), /runtime\.daemon: restart/);
  // docker up: the script ends with the first restartable process (daemons a and d), so the engine restarts the container
  const [, , script] = containerCommand(p.env, { restart: true });
  assert.match(script!, /then a & pids="\$pids \$!"; watch="\$watch \$!"; else/);
  assert.match(script!, /then b & pids="\$pids \$!"; else/);
  assert.match(script!, /then d & pids="\$pids \$!"; watch="\$watch \$!"; else/);
  assert.match(script!, /kill -0 \$p 2>\/dev\/null \|\| \{ wait \$p; exit \$\?; \}/);
  // without restart (Kubernetes, --no-restart) the script is as it was: it waits and stays up
  assert.doesNotMatch(containerCommand(p.env)[2]!, /watch/);
});

test("the last line: up and serve that leave nothing say so; serve that leaves Services says which and how to remove them", () => {
  const rec = (owned: StateRecord['owned'], stoppedAt?: string) => ({ owned, ...(stoppedAt && { stoppedAt }) }) as StateRecord;
  assert.equal(stopLine(undefined, 'build.envd', 'x-1'), 'stopped; nothing left running');
  assert.equal(stopLine(rec([], 'now'), 'build.envd', 'x-1'), 'stopped; nothing left running');
  const svc = (n: number) => ({ kind: 'Service', namespace: 'dev', name: `s${n}` });
  assert.equal(
    stopLine(rec([svc(1), { kind: 'Ingress', namespace: 'dev', name: 'i1' }], 'now'), 'envs/build.envd', 'envs-0123456789ab'),
    'stopped; left in the cluster: service dev/s1, ingress dev/i1 (envserve down -f envs/build.envd, or down --env envs-0123456789ab, removes them)',
  );
  assert.match(stopLine(rec([1, 2, 3, 4, 5, 6, 7].map(svc), 'now'), 'f', 'e'), /service dev\/s5, 2 more \(/);
});
