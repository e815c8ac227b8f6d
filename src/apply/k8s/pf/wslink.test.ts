// The SPDY session's own WebSocket framing (wslink.ts) against ws's server on loopback: bytes both
// ways unchanged whatever the frame sizes (7-, 16- and 64-bit lengths), frames split at every byte
// boundary, fragmented messages, the server's pings answered between data frames, and the
// closing handshake both ways.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import { WebSocketServer, type WebSocket as ServerSocket } from 'ws';
import type { KubeClient } from '../client.js';
import { openWebSocket } from './tunnel.js';
import { WsLink } from './wslink.js';

async function pair(): Promise<{ server: ServerSocket; link: WsLink; got: Buffer[]; closed: Promise<string | undefined>; raw: net.Socket; stop: () => void }> {
  const srv = http.createServer();
  const wss = new WebSocketServer({ server: srv });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  const client = { server: `http://127.0.0.1:${port}`, settings: async () => ({ headers: {} }) } as unknown as KubeClient;
  const serverSide = new Promise<ServerSocket>((r) => wss.once('connection', r));
  const opened = await openWebSocket(client, '/x', 'x.test', 2000);
  const server = await serverSide;
  const got: Buffer[] = [];
  let closed!: (why?: string) => void;
  const closedP = new Promise<string | undefined>((r) => (closed = r));
  const link = new WsLink(opened.socket, opened.ws, { bytes: (b) => got.push(Buffer.from(b)), closed: (why) => closed(why) });
  return { server, link, got, closed: closedP, raw: opened.socket, stop: () => { wss.close(); srv.close(); srv.closeAllConnections(); } };
}

const until = async (f: () => boolean, what: string) => {
  for (let i = 0; i < 500 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(f(), what);
};

test('wslink: messages of every length class both ways arrive byte-exact, with pings from the server in between', async () => {
  const p = await pair();
  const sizes = [0, 1, 125, 126, 127, 65535, 65536, 70000, 1 << 20];
  const fromServer = sizes.map((n) => randomBytes(n));
  let pongs = 0;
  p.server.on('pong', () => pongs++);
  for (const b of fromServer) {
    p.server.send(b, { binary: true });
    p.server.ping();
  }
  // A fragmented message: its pieces are bytes like any other.
  p.server.send(Buffer.from('frag-'), { binary: true, fin: false });
  p.server.send(Buffer.from('ment'), { binary: true, fin: true });
  const want = Buffer.concat([...fromServer, Buffer.from('frag-ment')]);
  await until(() => Buffer.concat(p.got).length >= want.length, 'all bytes from the server arrived');
  { const g = Buffer.concat(p.got); let i = 0; while (i < g.length && g[i] === want[i]) i++; assert.ok(g.equals(want), `the bytes from the server are unchanged (${g.length} vs ${want.length}, first difference at ${i})`); }
  await until(() => pongs === sizes.length, 'every ping was answered');

  const received: Buffer[] = [];
  p.server.on('message', (m: Buffer) => received.push(m));
  const toServer = sizes.map((n) => randomBytes(n));
  let done = 0;
  // A small first part (a SPDY header) and a big one.
  const firsts = toServer.map((_, i) => randomBytes(i % 2 ? 100 : 1));
  toServer.forEach((b, i) => p.link.send([firsts[i]!, b], () => done++));
  await until(() => received.length === toServer.length && done === toServer.length, 'every message reached the server and its callback ran');
  toServer.forEach((b, i) => assert.ok(received[i]!.equals(Buffer.concat([firsts[i]!, b])), `message ${i} (${firsts[i]!.length} + ${b.length} bytes) unchanged`));
  p.link.close();
  assert.equal(await p.closed, undefined, 'a normal closing handshake is no error');
  p.stop();
});

test('wslink: a frame stream split at every byte boundary decodes alike', async () => {
  const p = await pair();
  // Take the raw socket's bytes as the server would send them: hand them to the link one byte at a time.
  const frames: Buffer[] = [];
  const payload = randomBytes(300);
  const frame = (op: number, body: Buffer) => {
    const h = body.length < 126 ? Buffer.from([0x80 | op, body.length]) : Buffer.from([0x80 | op, 126, body.length >> 8, body.length & 0xff]);
    return Buffer.concat([h, body]);
  };
  frames.push(frame(2, payload.subarray(0, 100)), frame(9, Buffer.from('hi')), frame(2, payload.subarray(100)));
  const all = Buffer.concat(frames);
  for (let i = 0; i < all.length; i++) p.raw.emit('data', all.subarray(i, i + 1));
  assert.ok(Buffer.concat(p.got).equals(payload), 'the payload came through, the ping between the frames not in it');
  p.link.close();
  await p.closed;
  p.stop();
});

test('wslink: the server closing with an error code ends the link with its reason', async () => {
  const p = await pair();
  p.server.close(1011, 'kubelet went away');
  assert.match((await p.closed) ?? '', /1011: kubelet went away/);
  p.stop();
});

test('wslink: a masked frame from the server fails the connection', async () => {
  const p = await pair();
  p.raw.emit('data', Buffer.from([0x82, 0x81, 0, 0, 0, 0, 1]));
  assert.match((await p.closed) ?? '', /masked/);
  p.stop();
});
