// The forward's pooled reads (readpool.ts) on loopback: an accepted connection moved onto a socket
// that reads into pooled buffers delivers its bytes unchanged with writable room in front of each
// read; a TLS WebSocket whose socket reads into pooled buffers reads the upgrade's answer the
// ordinary way, then hands its reads on uncopied, and a read kept by retainRead() is not reused
// (its bytes do not change) until it is released.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import net from 'node:net';
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import { WebSocketServer } from 'ws';
import type { KubeClient } from '../client.js';
import { openWebSocket } from './tunnel.js';
import { WsLink } from './wslink.js';
import { adopt, headroom, HEADROOM, PooledReads, retainRead } from './readpool.js';
import { selfSigned } from '../../../../test/helpers/self-signed.js';

test('readpool: an adopted connection reads byte-exact into pooled buffers, with room in front of each read', async () => {
  const sent = randomBytes(4 << 20);
  const got: Buffer[] = [];
  let rooms = 0;
  let done!: () => void;
  const ended = new Promise<void>((r) => (done = r));
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (shell) => {
    const sock = adopt(shell, (chunk, release) => {
      if (headroom(chunk) === HEADROOM) rooms++;
      // What a stream does with the room: writes headers there; the read's bytes stay as they are.
      Buffer.from(chunk.buffer, chunk.byteOffset - HEADROOM, HEADROOM).fill(0xee);
      got.push(Buffer.from(chunk));
      release();
    });
    sock.on('end', () => {
      sock.end();
      done();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await once(c, 'connect');
  c.end(sent);
  await ended;
  server.close();
  assert.ok(Buffer.concat(got).equals(sent), 'byte-exact');
  assert.equal(rooms, got.length, 'every read had its room in front');
  assert.equal(headroom(Buffer.alloc(100)), 0, 'a buffer not from the pool has none');
});

test('readpool: a TLS WebSocket on pooled reads: the upgrade is read as usual, then reads go on uncopied, and a retained read is not reused until released', async () => {
  const { key, cert } = selfSigned();
  const srv = https.createServer({ key, cert });
  const wss = new WebSocketServer({ server: srv });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const client = { server: `https://127.0.0.1:${(srv.address() as net.AddressInfo).port}`, settings: async () => ({ headers: {}, ca: cert }) } as unknown as KubeClient;
  const stop = () => {
    wss.close();
    srv.closeAllConnections();
    srv.close();
  };
  try {
    await pooledTls(client, wss);
  } finally {
    stop();
  }
});

async function pooledTls(client: KubeClient, wss: WebSocketServer): Promise<void> {
  const serverSide = new Promise<import('ws').WebSocket>((r) => wss.once('connection', r));
  const reads = new PooledReads();
  const opened = await openWebSocket(client, '/x', 'x.test', 5000, reads);
  const server = await serverSide;
  // Held pieces: each kept (not copied) with its read retained, released later; its hash taken now.
  const held: { piece: Buffer; hash: string; release: () => void }[] = [];
  const got: Buffer[] = [];
  let uncopied = 0;
  const link = new WsLink(opened.socket, opened.ws, {
    bytes: (b) => {
      got.push(Buffer.from(b));
      const release = retainRead();
      if (!release) return; // bytes that came with the upgrade's answer: not pooled
      uncopied++;
      held.push({ piece: b, hash: createHash('sha256').update(b).digest('hex'), release });
    },
    closed: () => undefined,
  }, reads);
  const messages = Array.from({ length: 200 }, (_, i) => randomBytes(1000 + i * 500));
  for (const m of messages) server.send(m);
  const total = messages.reduce((t, m) => t + m.length, 0);
  for (let i = 0; i < 500 && got.reduce((t, b) => t + b.length, 0) < total; i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(Buffer.concat(got).equals(Buffer.concat(messages)), 'byte-exact');
  assert.ok(uncopied > 10, `reads handed on uncopied (${uncopied})`);
  // More traffic while every read so far is still held: none of them may be reused meanwhile.
  for (const m of messages.slice(0, 50)) server.send(m);
  const more = messages.slice(0, 50).reduce((t, m) => t + m.length, 0);
  for (let i = 0; i < 500 && got.reduce((t, b) => t + b.length, 0) < total + more; i++) await new Promise((r) => setTimeout(r, 10));
  const first = held.splice(0);
  for (const h of first) assert.equal(createHash('sha256').update(h.piece).digest('hex'), h.hash, 'a held read kept its bytes');
  for (const h of first) h.release();
  link.close();
}
