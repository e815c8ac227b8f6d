// Unit tests of the port-forward's WebSocket opening against a fake API server on loopback (no
// cluster): resets at the wrong moment must settle, never hang or throw. The forward under resets
// on the real cluster: test/k8s/expose-portforward.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import type { KubeClient } from './client.js';
import { openWebSocket, TunnelRefused } from './pf-tunnel.js';

/** An HTTP server that answers every upgrade with `answer(socket)`, and a client for it. */
async function fakeApi(answer: (sock: net.Socket) => void): Promise<{ client: KubeClient; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (_req, sock: net.Socket) => {
    sock.on('error', () => undefined);
    answer(sock);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const client = { server: `http://127.0.0.1:${port}`, settings: async () => ({ headers: {} }) } as unknown as KubeClient;
  return { client, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: still pending after ${ms} ms`)), ms).unref())]);

for (const protocol of ['v4.channel.k8s.io', 'SPDY/3.1+portforward.k8s.io']) {
  for (const cut of ['a reset', 'a FIN'] as const) {
    test(`openWebSocket (${protocol}): a refusal cut off by ${cut} mid-body rejects instead of hanging`, async () => {
      const api = await fakeApi((sock) => {
        sock.write('HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: 500\r\n\r\n{"kind":"Status","mess');
        setTimeout(() => (cut === 'a reset' ? sock.resetAndDestroy() : sock.end()), 20);
      });
      try {
        await assert.rejects(within(openWebSocket(api.client, '/api/v1/namespaces/n/pods/p/portforward', protocol, 2000), 3000, 'openWebSocket'), /ECONNRESET|was cut off/);
      } finally {
        await api.close();
      }
    });
  }

  test(`openWebSocket (${protocol}): a whole refusal is a TunnelRefused with the API server's message`, async () => {
    const body = JSON.stringify({ kind: 'Status', message: 'pods "p" is forbidden' });
    const api = await fakeApi((sock) => sock.end(`HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    try {
      const e = await within(openWebSocket(api.client, '/x', protocol, 2000).then(() => undefined, (err: unknown) => err), 3000, 'openWebSocket');
      assert.ok(e instanceof TunnelRefused && e.code === 403 && /forbidden/.test(e.message), String(e));
    } finally {
      await api.close();
    }
  });

  test(`openWebSocket (${protocol}): a reset before any answer rejects`, async () => {
    const api = await fakeApi((sock) => sock.resetAndDestroy());
    try {
      await assert.rejects(within(openWebSocket(api.client, '/x', protocol, 2000), 3000, 'openWebSocket'));
    } finally {
      await api.close();
    }
  });
}
