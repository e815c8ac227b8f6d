// Unit tests of the port-forward's WebSocket opening against a fake API server on loopback (no
// cluster): resets at the wrong moment must settle, never hang or throw; and of the forward's
// accounting of streams that end cleanly, with a fake pod tracker and session pool. The forward
// under resets on the real cluster: test/k8s/expose-portforward.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import type { KubeClient } from '../client.js';
import type { PortForwardSessions } from './pool.js';
import { openWebSocket, TunnelRefused } from './tunnel.js';
import { openSpdyUpgrade } from './upgrade.js';
import type { PodTracker } from '../pod-tracker.js';
import { PortForwarder, recentFailure, type PortForwardStats } from './forwarder.js';

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
      // The reset itself, not the 2 s handshake timeout or the 3 s wrapper: a hang passes neither.
      await assert.rejects(within(openWebSocket(api.client, '/x', protocol, 2000), 3000, 'openWebSocket'), (e: NodeJS.ErrnoException) => {
        assert.match(`${e.code} ${e.message}`, /ECONNRESET|socket hang up/);
        return true;
      });
    } finally {
      await api.close();
    }
  });
}

// The forward's accounting of a stream that ends without an error (a killed container's socket may
// close with a FIN, and the kubelet then reports nothing): a failure only if its pod is going away.
/** A tracker with one pod, `p1`, Ready until told otherwise; a session pool whose streams echo. */
function fakeCluster() {
  let ready = true;
  let gone = false;
  const tracker = Object.assign(new EventEmitter(), {
    waitReady: async () => ({ metadata: { name: 'p1' } }),
    isReady: (name: string) => name === 'p1' && ready,
    isGone: (name: string) => name === 'p1' && gone,
  });
  let endStream: (() => void) | undefined;
  const sessions = {
    warm: () => undefined,
    close: () => undefined,
    openPortStream: async (_c: unknown, _t: unknown, ev: { data(b: Buffer): void; close(error?: string): void }) => {
      let closed = false;
      endStream = () => { closed = true; ev.close(); }; // a clean end: no error from the kubelet
      return { get isClosed() { return closed; }, pauseAt: 0, write: (b: Buffer) => (ev.data(b), true), onDrain: () => undefined, pause: () => undefined, resume: () => undefined, close: () => { closed = true; } };
    },
  };
  return {
    podGoes: () => { ready = false; tracker.emit('change'); },
    podDeleted: () => { ready = false; gone = true; tracker.emit('change'); },
    endStream: () => endStream!(),
    forward: new PortForwarder({ client: {} as KubeClient, tracker: tracker as unknown as PodTracker, namespace: 'n', remotePort: 80, listenAddress: '127.0.0.1', localPort: 0, sessions: sessions as unknown as PortForwardSessions }),
  };
}

/** A connection through the forward that has had its echo back (so the pod answered). */
async function answeredConnection(port: number): Promise<net.Socket> {
  const sock = net.connect(port, '127.0.0.1');
  await once(sock, 'connect');
  sock.write('ping');
  const [echo] = await once(sock, 'data');
  assert.equal(String(echo), 'ping');
  return sock;
}

test('port-forward: a stream that ends cleanly from a pod that is going away is a recorded failure', async () => {
  const c = fakeCluster();
  const { port } = await c.forward.start();
  try {
    const sock = await answeredConnection(port);
    c.podGoes();
    c.endStream();
    await once(sock, 'end');
    assert.equal(c.forward.stats.failed, 1);
    assert.match(c.forward.stats.lastError ?? '', /p1: the connection ended as the pod went away/);
    assert.ok(c.forward.stats.lastAnsweredAt! <= c.forward.stats.lastErrorAt!, 'the connection was answered before it was cut');
    assert.match(recentFailure(c.forward.stats) ?? '', /went away/, 'the status shows the failure');
    sock.destroy();
  } finally {
    await c.forward.stop();
  }
});

test('port-forward: a stream that ends cleanly while its pod stays Ready is a normal close, even if the pod goes later', async () => {
  const c = fakeCluster();
  const { port } = await c.forward.start();
  try {
    const sock = await answeredConnection(port);
    c.endStream();
    await once(sock, 'end');
    c.podGoes();
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(c.forward.stats.failed, 0);
    assert.equal(c.forward.stats.lastError, undefined);
    sock.destroy();
  } finally {
    await c.forward.stop();
  }
});

test('port-forward: an answered connection whose pod is deleted for good and whose stream never ends is reset (after 2 s), not left hanging; a terminating pod keeps it', async () => {
  const c = fakeCluster();
  const { port } = await c.forward.start();
  try {
    const sock = await answeredConnection(port);
    const ended = new Promise<string>((r) => (sock.on('error', (e: NodeJS.ErrnoException) => r(e.code ?? e.message)), sock.on('end', () => r('end'))));
    c.podGoes(); // terminating: it may still finish its answer
    await new Promise((r) => setTimeout(r, 2300));
    assert.equal(sock.destroyed, false, 'kept while the pod terminates');
    const t0 = Date.now();
    c.podDeleted(); // gone from the watch; the kubelet never ends the stream
    assert.equal(await within(ended, 5000, 'the client\'s end'), 'ECONNRESET');
    assert.ok(Date.now() - t0 >= 1900, 'after the grace for bytes in flight');
    assert.equal(c.forward.stats.failed, 1);
    assert.match(c.forward.stats.lastError ?? '', /p1: the pod was deleted and its stream never ended/);
  } finally {
    await c.forward.stop();
  }
});

test('port-forward status: a failure shows for 10 s, unless a later connection got the pod\'s answer', () => {
  const s: PortForwardStats = { active: 0, total: 3, failed: 1, retried: 0, clientErrors: 0, refused: 0, refusing: false, lastError: 'p1: cut', lastErrorAt: 1000 };
  assert.equal(recentFailure(s, 1000 + 9_999), 'p1: cut');
  assert.equal(recentFailure(s, 1000 + 10_000), undefined, 'old news');
  assert.equal(recentFailure({ ...s, lastAnsweredAt: 999 }, 2000), 'p1: cut', 'answered before the failure: still the latest word');
  assert.equal(recentFailure({ ...s, lastAnsweredAt: 1500 }, 2000), undefined, 'a later connection was answered: the forward works');
  assert.equal(recentFailure({ ...s, lastError: undefined }, 2000), undefined);
});

// A credential the API server no longer takes (a plugin's token revoked or rotated, an id-token):
// tunnel.ts drops it on the 401, so one more try gets fresh ones, as client.ts does for requests.
function refusingCluster(refusals: number, refreshable: boolean) {
  const tracker = Object.assign(new EventEmitter(), { waitReady: async () => ({ metadata: { name: 'p1' } }), isReady: () => true });
  let opened = 0;
  const sessions = {
    warm: () => undefined,
    close: () => undefined,
    openPortStream: async (_c: unknown, _t: unknown, ev: { data(b: Buffer): void; close(error?: string): void }) => {
      if (opened++ < refusals) throw new TunnelRefused(401, 'Unauthorized');
      let closed = false;
      return { get isClosed() { return closed; }, pauseAt: 0, write: (b: Buffer) => (ev.data(b), true), onDrain: () => undefined, pause: () => undefined, resume: () => undefined, close: () => { closed = true; } };
    },
  };
  const client = { credentials: { refreshable } } as unknown as KubeClient;
  const forward = new PortForwarder({ client, tracker: tracker as unknown as PodTracker, namespace: 'n', remotePort: 80, listenAddress: '127.0.0.1', localPort: 0, sessions: sessions as unknown as PortForwardSessions });
  return { forward, opened: () => opened };
}

/** How a connection that sends 'ping' ends: 'ping' (echoed), or its error code. */
async function pingOutcome(port: number): Promise<string> {
  const sock = net.connect(port, '127.0.0.1');
  sock.write('ping');
  return new Promise((resolve) => {
    sock.on('data', (d) => (resolve(String(d)), sock.destroy()));
    sock.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    sock.on('end', () => resolve('closed'));
  });
}

test('port-forward: a 401 with credentials that can be fetched anew is tried once more with fresh ones; the client never sees it', async () => {
  const c = refusingCluster(1, true);
  const { port } = await c.forward.start();
  try {
    assert.equal(await pingOutcome(port), 'ping');
    assert.equal(c.opened(), 2);
    assert.equal(c.forward.stats.failed, 0);
  } finally {
    await c.forward.stop();
  }
});

test('port-forward: a 401 again with fresh credentials, or with credentials that cannot change: the client is reset, the forward Forbidden', async () => {
  for (const [refusals, refreshable, tries] of [[2, true, 2], [1, false, 1]] as const) {
    const c = refusingCluster(refusals, refreshable);
    const { port } = await c.forward.start();
    try {
      assert.equal(await pingOutcome(port), 'ECONNRESET');
      assert.equal(c.opened(), tries, `refreshable: ${refreshable}`);
      assert.equal(c.forward.stats.failed, 1);
      assert.equal(c.forward.stats.lastErrorForbidden, true);
    } finally {
      await c.forward.stop();
    }
  }
});

test('a 401 to a port-forward, by either path (WebSocket tunnel, SPDY upgrade), drops the refused credential so the next dial gets fresh ones', async () => {
  const body = JSON.stringify({ kind: 'Status', message: 'Unauthorized' });
  const api = await fakeApi((sock) => sock.end(`HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
  let dropped = 0;
  const client = Object.assign(Object.create(api.client) as KubeClient, { server: api.client.server, settings: api.client.settings, credentials: { refreshable: true, unauthorized: () => dropped++ } });
  try {
    for (const open of [() => openWebSocket(client, '/x', 'SPDY/3.1+portforward.k8s.io', 2000), () => openSpdyUpgrade(client, '/x', 2000)]) {
      const before = dropped;
      const e = await within(open().then(() => undefined, (err: unknown) => err), 3000, 'open');
      assert.ok(e instanceof TunnelRefused && e.code === 401, String(e));
      assert.equal(dropped, before + 1, String(open));
    }
  } finally {
    await api.close();
  }
});
