// KubeClient.requestRaw against a local HTTP server standing in for the API server: any status
// comes back as bytes (never parsed), the body is read only up to its bound, and a silent server
// or an abort ends the request. check's proxy probe goes through it end to end.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { KubeClient, KubeUnreachableError } from './client.js';
import { probeThroughApiServer as probeViaApiServer } from '../../check/probes.js';

let server: http.Server;
let client: KubeClient;
let sent = 0; // bytes the big answer managed to write before the client went away
const sockets = new Set<Socket>();

before(async () => {
  server = http.createServer((req, res) => {
    const path = req.url!.split('?')[0]!;
    if (path === '/text') return res.writeHead(200, { 'content-type': 'text/plain', 'x-app': 'yes' }).end('bar13-df55 is not JSON\n');
    if (path === '/html') return res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>hi</title>');
    if (path === '/json') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"a":1}');
    if (path === '/empty') return res.writeHead(204).end();
    if (path === '/accept') return res.writeHead(200, { 'content-type': 'text/plain' }).end(String(req.headers.accept));
    if (path === '/big') {
      // 64 MiB in 64 KiB writes; stops writing when the client is gone.
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const write = (n: number) => {
        while (n > 0 && !res.destroyed) {
          n--;
          sent += chunk.length;
          if (!res.write(chunk)) return res.once('drain', () => write(n));
        }
        res.end();
      };
      return write(1024);
    }
    if (path === '/stall-body') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      return res.write('first bytes'); // and never ends
    }
    if (path === '/silent' || path.endsWith('/proxy/silent')) return; // accepts, never answers
    if (path.startsWith('/api/v1/namespaces/n/services/web:80/proxy/')) return res.writeHead(200, { 'content-type': 'text/html' }).end(`<html><body>${'page '.repeat(100)}</body></html>`);
    if (path.startsWith('/api/v1/namespaces/n/services/none:80/proxy/')) {
      return res.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', status: 'Failure', message: 'no endpoints available for service "none"', reason: 'ServiceUnavailable', code: 503 }));
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('404 page not found');
  });
  server.on('connection', (s) => (sockets.add(s), s.on('close', () => sockets.delete(s))));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  client = new KubeClient({
    cluster: { name: 'c', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, insecureSkipTlsVerify: false, disableCompression: false },
    user: { name: 'u' },
    contextName: 'x',
    namespace: 'n',
    source: 'test',
    paths: [],
  });
});

after(() => {
  client.close();
  for (const s of sockets) s.destroy();
  server.close();
});

test('any status comes back with its headers and bytes; nothing is parsed', async () => {
  const text = await client.requestRaw('/text');
  assert.deepEqual([text.status, text.headers['x-app'], text.body.toString(), text.truncated], [200, 'yes', 'bar13-df55 is not JSON\n', false]);
  assert.equal((await client.requestRaw('/html')).body.toString(), '<!doctype html><title>hi</title>');
  assert.equal((await client.requestRaw('/json')).body.toString(), '{"a":1}', 'JSON stays bytes too');
  const missing = await client.requestRaw('/nothing-here');
  assert.deepEqual([missing.status, missing.body.toString()], [404, '404 page not found'], 'an error status is an answer, not a throw');
  assert.deepEqual([(await client.requestRaw('/empty')).status, (await client.requestRaw('/empty')).body.length], [204, 0]);
  assert.equal((await client.requestRaw('/accept')).body.toString(), '*/*', 'any content type is asked for');
  // The JSON request of the same page fails to parse: what the probes used to do.
  await assert.rejects(client.request('/text'), SyntaxError);
});

test('the body is read up to its bound and no further', async () => {
  sent = 0;
  const big = await client.requestRaw('/big', { maxBytes: 64 * 1024 });
  assert.deepEqual([big.status, big.body.length, big.truncated], [200, 64 * 1024, true]);
  assert.ok(sent < 64 * 1024 * 1024, `the client went away before the server wrote all 64 MiB (${sent} bytes written)`);
  const small = await client.requestRaw('/big', { maxBytes: 10 });
  assert.deepEqual([small.body.toString(), small.truncated], ['aaaaaaaaaa', true]);
  const whole = await client.requestRaw('/text', { maxBytes: 'bar13-df55 is not JSON\n'.length });
  assert.equal(whole.truncated, false, 'a body exactly as long as the bound is whole');
});

test('no answer: a silent server times out, an abort ends it; a body that stalls keeps its status', async () => {
  await assert.rejects(client.requestRaw('/silent', { timeoutMs: 300 }), (e: Error) => e instanceof KubeUnreachableError && /no answer within 300 ms/.test(e.message));
  const ac = new AbortController();
  const pending = client.requestRaw('/silent', { timeoutMs: 60_000, signal: ac.signal });
  ac.abort(new Error('probe round over'));
  await assert.rejects(pending, (e: Error) => e instanceof KubeUnreachableError && /probe round over/.test(e.message));
  const stalled = await client.requestRaw('/stall-body', { timeoutMs: 300 });
  assert.deepEqual([stalled.status, stalled.body.toString(), stalled.truncated], [200, 'first bytes', true]);
});

test("check's proxy probe: an HTML page answers with its status and an excerpt; the API server's own 503 is NoEndpoints", async () => {
  const page = await probeViaApiServer(client, { id: 'a', namespace: 'n', resource: 'services', name: 'web', port: 80 });
  assert.deepEqual([page.ok, page.reason, page.httpStatus], [true, 'Answers', 200]);
  assert.match(page.detail, /^services\/web:80 through the API server: answers HTTP 200: "<html><body>page page /);
  assert.ok(page.detail.length < 300, page.detail);
  const none = await probeViaApiServer(client, { id: 'b', namespace: 'n', resource: 'services', name: 'none', port: 80 });
  assert.deepEqual([none.ok, none.reason, none.httpStatus], [false, 'NoEndpoints', 503]);
  const silent = await probeViaApiServer(client, { id: 'c', namespace: 'n', resource: 'services', name: 'silent', port: 80, path: '/silent', timeoutMs: 300 });
  assert.deepEqual([silent.ok, silent.reason], [false, 'Timeout'], silent.detail);
});
