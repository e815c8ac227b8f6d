// Every path of KubeClient goes through the Dialer: a plain request, a watch and a port-forward
// WebSocket reach a stand-in API server whose name resolves only through the test proxy (HTTP
// CONNECT and SOCKS5), each on a tunnel of its own; the tokenFile is sent, and read again when it
// rotates; a failing exec plugin is named. The real cluster runs the same forms in
// test/k8s/kubeconfig-forms.test.ts.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import YAML from 'yaml';
import { loadKubeClient, KubeApiError } from './client.js';
import { openWebSocket } from './pf/tunnel.js';
import { TunnelProxy } from '../../../test/helpers/tunnel-proxy.js';
import { RuntimeFailure } from '../../errors.js';
import { selfSigned } from '../../../test/helpers/self-signed.js';

const NAME = 'api.envserve.test';
const cert = selfSigned([NAME, '127.0.0.1']);
let server: https.Server;
let port = 0;
const dir = mkdtempSync(join(tmpdir(), 'envserve-dial-'));

before(async () => {
  // TLS: over plain http no credential is sent (as kubectl).
  server = https.createServer(cert, (req, res) => {
    const auth = String(req.headers.authorization ?? '');
    if (auth !== 'Bearer token-1' && auth !== 'Bearer token-2') return res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', code: 401, reason: 'Unauthorized', message: 'Unauthorized' }));
    if (req.url!.includes('watch=1')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 'ADDED', object: { metadata: { name: 'a' } } }) + '\n');
      return setTimeout(() => res.end(), 50);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ auth, host: req.headers.host }));
  });
  const wss = new WebSocketServer({ server, handleProtocols: (p) => [...p][0] ?? false });
  wss.on('connection', (ws) => ws.send(Buffer.from([0, 1, 2])));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  port = (server.address() as AddressInfo).port;
});
after(() => server.close());

function kubeconfig(name: string, cluster: Record<string, unknown>, user: Record<string, unknown>): string {
  const file = join(dir, `${name}.kubeconfig`);
  writeFileSync(file, YAML.stringify({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'c',
    clusters: [{ name: 'c', cluster: { server: `https://${NAME}:${port}`, 'certificate-authority-data': cert.caData, ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u', namespace: 'n' } }],
  }));
  return file;
}

for (const kind of ['http', 'socks5'] as const) {
  test(`proxy-url ${kind}://: a request, a watch and a WebSocket upgrade each open a tunnel; the name resolves only there`, async () => {
    const proxy = await new TunnelProxy(kind, { [`${NAME}:${port}`]: { host: '127.0.0.1', port } }).start();
    writeFileSync(join(dir, 'token'), 'token-1\n');
    const client = loadKubeClient({ kubeconfig: kubeconfig(`p-${kind}`, { 'proxy-url': proxy.url }, { tokenFile: 'token' }) });
    try {
      assert.equal(client.dialer.proxy?.href.replace(/\/$/, ''), proxy.url);
      const r = await client.request<{ auth: string; host: string }>('/api/v1/x');
      assert.deepEqual(r, { auth: 'Bearer token-1', host: `${NAME}:${port}` }, 'the tokenFile (relative to the kubeconfig) is sent');
      assert.equal(proxy.tunnels, 1);
      const events: string[] = [];
      await client.watch('/api/v1/pods', {}, (e) => events.push(e.type), new AbortController().signal);
      assert.deepEqual(events, ['ADDED']);
      const { ws } = await openWebSocket(client, '/api/v1/namespaces/n/pods/p/portforward?ports=1', 'v4.channel.k8s.io');
      const first = once(ws, 'message');
      ws.resume();
      assert.deepEqual([...(await first)[0] as Buffer], [0, 1, 2]);
      ws.terminate();
      assert.ok(proxy.tunnels >= 2, `the watch or request and the WebSocket took tunnels (${proxy.tunnels})`);
      assert.ok(proxy.targets.every((t) => t === `${NAME}:${port}`));
    } finally {
      client.close();
      await proxy.close();
    }
  });
}

test('the proxy refusing the target: the error names the proxy, not a DNS failure', async () => {
  const proxy = await new TunnelProxy('http', {}).start();
  const client = loadKubeClient({ kubeconfig: kubeconfig('refused', { 'proxy-url': `http://user:secret@127.0.0.1:${proxy.port}` }, { token: 'token-1' }) });
  try {
    await assert.rejects(client.request('/api/v1/x'), (e: Error) => {
      assert.match(e.message, new RegExp(`through the proxy http://127\\.0\\.0\\.1:${proxy.port}: the proxy refused CONNECT ${NAME.replace(/\./g, '\\.')}:${port}: 502`));
      assert.doesNotMatch(e.message, /secret/, 'the proxy password is never printed');
      return true;
    });
  } finally {
    client.close();
    await proxy.close();
  }
});

test('tokenFile rotates: the next request sends the new token; an invalid one gets 401', async () => {
  const tf = join(dir, 'rotating');
  writeFileSync(tf, 'token-1');
  const proxy = await new TunnelProxy('http', { [`${NAME}:${port}`]: { host: '127.0.0.1', port } }).start();
  const client = loadKubeClient({ kubeconfig: kubeconfig('rot', { 'proxy-url': proxy.url }, { token: 'ignored-when-tokenFile-is-set', tokenFile: tf }) });
  try {
    assert.equal((await client.request<{ auth: string }>('/x')).auth, 'Bearer token-1');
    // replaced the way kubelet rotates projected tokens: a new file renamed over the old one
    writeFileSync(`${tf}.new`, 'token-2\n');
    renameSync(`${tf}.new`, tf);
    assert.equal((await client.request<{ auth: string }>('/x')).auth, 'Bearer token-2');
    writeFileSync(tf, 'not-a-valid-token');
    await assert.rejects(client.request('/x'), (e: unknown) => e instanceof KubeApiError && e.code === 401);
  } finally {
    client.close();
    await proxy.close();
  }
});

test('an exec plugin that fails: a RuntimeFailure naming the command and what it printed', async () => {
  const plugin = join(dir, 'login-plugin');
  writeFileSync(plugin, '#!/bin/sh\necho "you must log in first" >&2\nexit 3\n', { mode: 0o755 });
  const client = loadKubeClient({ kubeconfig: kubeconfig('exec', {}, { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: plugin, interactiveMode: 'Never' } }) });
  try {
    await assert.rejects(client.request('/x'), (e: unknown) => {
      assert.ok(e instanceof RuntimeFailure, String(e));
      assert.equal(e.reason, 'CredentialPluginFailed');
      assert.match(e.message, new RegExp(`credential plugin "${plugin}" of user "u" .* failed: you must log in first`));
      return true;
    });
  } finally {
    client.close();
  }
});
