// The Docker Engine API client against a fake engine on a unix socket: the framings the real
// engines use (chunked JSON, multiplexed log and exec streams, JSON-lines events and pull
// progress, a hijacked exec connection), split across writes at awkward places, and the errors.
// test/docker/cli-docker.test.ts runs the same client against Podman.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { DockerEngine, EngineError, pingEngine, removeContainer, repositoryTag } from './client.js';
import { connectionFor, Demuxer } from './engine-api.js';
import { RuntimeFailure } from '../../errors.js';

const dir = mkdtempSync(join(tmpdir(), 'envserve-engine-'));
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => unknown;
const routes = new Map<string, Handler>();
const seen: string[] = [];
const server = http.createServer(async (req, res) => {
  let body = '';
  for await (const c of req) body += c;
  seen.push(`${req.method} ${req.url}`);
  const h = routes.get(`${req.method} ${req.url!.split('?')[0]}`);
  if (h) return h(req, res, body);
  res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `no such thing: ${req.url}`, cause: 'x' }));
});
const sock = join(dir, 'engine.sock');
server.listen(sock);
await once(server, 'listening');
after(() => server.close());
const engine = new DockerEngine(`unix://${sock}`);

const tick = () => new Promise((r) => setTimeout(r, 5));
/** Writes the parts one by one, each reaching the client on its own. */
async function writeInParts(res: http.ServerResponse, parts: (string | Buffer)[]): Promise<void> {
  for (const p of parts) {
    res.write(p);
    await tick();
  }
  res.end();
}
function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

test('a chunked JSON answer split mid-token is parsed; filters go as JSON in the query', async () => {
  routes.set('GET /containers/json', async (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json' }); // no length: chunked
    const text = JSON.stringify([{ Id: 'abc', Names: ['/one'], State: 'running' }]);
    await writeInParts(res, [text.slice(0, 7), text.slice(7, 20), text.slice(20)]);
  });
  const list = await engine.listContainers({ all: true, filters: { label: ['io.envserve.env-file=/a b/build.envd'] } });
  assert.deepEqual(list, [{ Id: 'abc', Names: ['/one'], State: 'running' }]);
  const url = new URL(seen.at(-1)!.split(' ')[1]!, 'http://x');
  assert.equal(url.searchParams.get('all'), 'true');
  assert.deepEqual(JSON.parse(url.searchParams.get('filters')!), { label: ['io.envserve.env-file=/a b/build.envd'] });
});

test('logs: the multiplexed stream is demultiplexed, whatever the chunk boundaries (inside a header, inside a payload)', async () => {
  const bytes = Buffer.concat([frame(2, 'envserve: jupyter is not installed in this image\n'), frame(1, 'out\n'), frame(2, 'second\n')]);
  routes.set('GET /containers/c1/logs', async (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
    await writeInParts(res, [bytes.subarray(0, 3), bytes.subarray(3, 20), bytes.subarray(20, 61), bytes.subarray(61)]);
  });
  const stderr = await engine.getContainer('c1').logs({ stdout: false, stderr: true, tail: 50 });
  // (this fake sends both streams whatever was asked: stdout's frames come first, then stderr's)
  assert.equal(stderr.toString(), 'out\nenvserve: jupyter is not installed in this image\nsecond\n');
  assert.match(seen.at(-1)!, /stdout=false&stderr=true&tail=50/);
  // The byte-level demuxer, one byte at a time.
  const got: string[] = [];
  const d = new Demuxer((s, p) => got.push(`${s}:${p}`));
  for (const b of bytes) d.push(Buffer.from([b]));
  assert.deepEqual(got, ['stderr:envserve: jupyter is not installed in this image\n', 'stdout:out\n', 'stderr:second\n']);
  assert.equal(d.leftover, 0);
});

test('exec: the hijacked connection (raw HTTP, no length, closed at the end) carries the output; the exit code comes from inspect', async () => {
  routes.set('POST /containers/c1/exec', (_req, res, body) => {
    assert.deepEqual(JSON.parse(body), { Cmd: ['sh', '-c', 'echo hi; echo oops >&2; exit 3'], AttachStdout: true, AttachStderr: true });
    res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"Id":"e1"}');
  });
  routes.set('POST /exec/e1/start', async (req) => {
    const s = req.socket;
    s.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
    const b = Buffer.concat([frame(1, 'hi\n'), frame(2, 'oops\n')]);
    s.write(b.subarray(0, 5));
    await tick();
    s.end(b.subarray(5));
  });
  routes.set('GET /exec/e1/json', (_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ExitCode":3}'));
  assert.deepEqual(await engine.getContainer('c1').exec(['sh', '-c', 'echo hi; echo oops >&2; exit 3']), { exitCode: 3, stdout: 'hi\n', stderr: 'oops\n' });
});

test('events: JSON lines split and joined across chunks reach the callback one by one; stopping closes the connection', async () => {
  let closed!: Promise<unknown>;
  routes.set('GET /events', async (req, res) => {
    closed = once(req.socket, 'close');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const a = JSON.stringify({ Action: 'start' });
    const b = JSON.stringify({ Action: 'die', Actor: { Attributes: { exitCode: '137' } }, timeNano: 1e18 });
    res.write(`${a}\n${b.slice(0, 10)}`);
    await tick();
    res.write(`${b.slice(10)}\n{"Action":"di`);
    await tick();
    res.write('e"}\nnot json\n');
  });
  const events: unknown[] = [];
  const stop = await engine.events({ container: ['c1'] }, (e) => events.push(e));
  for (let i = 0; i < 100 && events.length < 3; i++) await tick();
  assert.deepEqual(events.map((e) => (e as { Action: string }).Action), ['start', 'die', 'die']);
  assert.equal((events[1] as { Actor: { Attributes: { exitCode: string } } }).Actor.Attributes.exitCode, '137');
  stop();
  await closed;
});

test('pull: the image is split into fromImage and tag; an error inside the progress stream is returned, an HTTP error thrown', async () => {
  routes.set('POST /images/create', async (req, res) => {
    const q = new URL(req.url!, 'http://x').searchParams;
    if (q.get('fromImage') === 'gone') return void res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"message":"pull access denied for gone"}');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    const ok = q.get('fromImage') === 'registry.local:5000/team/img' && q.get('tag') === '1.2';
    await writeInParts(res, ['{"status":"Pulling"}\n{"sta', 'tus":"x"}\n', ok ? '' : '{"error":"short","errorDetail":{"message":"manifest unknown"}}\n']);
  });
  assert.equal(await engine.pull('registry.local:5000/team/img:1.2'), undefined);
  assert.equal(await engine.pull('registry.local:5000/team/other'), 'manifest unknown');
  await assert.rejects(engine.pull('gone'), (e: unknown) => e instanceof EngineError && e.statusCode === 404 && e.message === 'pull access denied for gone');
  assert.deepEqual(repositoryTag('python:3.11-slim'), { fromImage: 'python', tag: '3.11-slim' });
  assert.deepEqual(repositoryTag('localhost:5000/x'), { fromImage: 'localhost:5000/x', tag: 'latest' });
  assert.deepEqual(repositoryTag('x@sha256:abc'), { fromImage: 'x', tag: 'sha256:abc' });
});

test("errors: the engine's message and status; stop of a stopped container (304) and removal of a gone one", async () => {
  await assert.rejects(engine.getContainer('nope').inspect(), (e: unknown) => e instanceof EngineError && e.statusCode === 404 && e.message === 'no such thing: /containers/nope/json');
  routes.set('POST /containers/c2/stop', (_req, res) => res.writeHead(304).end());
  routes.set('DELETE /containers/c2', (_req, res) => res.writeHead(204).end());
  assert.equal(await engine.getContainer('c2').stop({ t: 2 }), false);
  assert.equal(await removeContainer('c2', `unix://${sock}`), true);
  assert.match(seen.at(-1)!, /^DELETE \/containers\/c2\?force=true&v=true$/);
  assert.equal(await removeContainer('gone', `unix://${sock}`), false);
  routes.set('POST /containers/create', (req, res, body) => {
    assert.match(req.url!, /\?name=envserve-x$/);
    assert.equal(JSON.parse(body).Image, 'img');
    res.writeHead(500, { 'Content-Type': 'text/plain' }).end('boom\n');
  });
  await assert.rejects(engine.createContainer({ name: 'envserve-x', Image: 'img' }), (e: unknown) => e instanceof EngineError && e.statusCode === 500 && e.message === 'boom');
});

test('no engine at the address: the runtime failure that names it and says what to start', async () => {
  const missing = `unix://${join(dir, 'missing.sock')}`;
  await assert.rejects(pingEngine(new DockerEngine(missing), missing), (e: unknown) => {
    assert.ok(e instanceof RuntimeFailure);
    assert.equal(e.reason, 'ApplyFailed');
    assert.match(e.message, new RegExp(`^cannot reach the Docker engine at ${missing}: connect ENOENT `));
    assert.match(e.hint!, /podman system service/);
    return true;
  });
  routes.set('GET /_ping', (_req, res) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end('OK'));
  await pingEngine(engine, `unix://${sock}`);
});

test('addresses: unix, npipe and tcp (port 2375 by default, IPv6 brackets dropped)', () => {
  assert.deepEqual(connectionFor('unix:///var/run/docker.sock'), { socketPath: '/var/run/docker.sock' });
  assert.deepEqual(connectionFor('npipe:////./pipe/docker_engine'), { socketPath: '//./pipe/docker_engine' });
  assert.deepEqual(connectionFor('tcp://10.0.0.5'), { host: '10.0.0.5', port: 2375 });
  assert.deepEqual(connectionFor('tcp://[::1]:2376'), { host: '::1', port: 2376 });
});
