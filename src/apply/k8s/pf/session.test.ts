// The multiplexed port-forward session against a fake kubelet on loopback that keeps moby/
// spdystream's rule: a DATA frame for a stream nobody reads blocks the session's frame handling
// until that stream is finished or reset — and frames are handled in order, so the RST behind it
// never gets there. That is what a refused port does to a real kubelet's session (the error text
// below is the one containerd's kubelet sent on the test cluster). The session must keep a
// refusal to its own connection.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { KubeClient } from '../client.js';
import { PortForwardSessions } from './pool.js';
import type { PortStream } from './tunnel.js';
import { isRefusal } from './errors.js';

/** What containerd's streaming server sent on the error stream on the test cluster (its log, 2026-12-06). */
const REFUSED_TEXT =
  'error forwarding port 9999 to pod ceedd248dda0ccadd43cdc88c5a50fc3827be987562b1bc552cf647512cd65fc, uid : failed to execute portforward ' +
  'in network namespace "/run/envserve-testenv/envserve-k8s/io.containerd.grpc.v1.cri/netns/cni-11f64d36-fd74-357a-dd64-080a4b923e9d": ' +
  'failed to connect to localhost:9999 inside namespace "ceedd248dda0ccadd43cdc88c5a50fc3827be987562b1bc552cf647512cd65fc", IPv4: dial tcp4 ' +
  '127.0.0.1:9999: connect: connection refused IPv6 dial tcp6: address localhost: no suitable address found ';

interface Frame { control: boolean; type: number; flags: number; id: number; payload: Buffer }

/** Splits a byte stream into SPDY frames. */
function frames(): (b: Buffer) => Frame[] {
  let buf = Buffer.alloc(0);
  return (b) => {
    buf = Buffer.concat([buf, b]);
    const out: Frame[] = [];
    while (buf.length >= 8) {
      const len = buf.readUInt32BE(4) & 0xffffff;
      if (buf.length < 8 + len) break;
      const control = (buf[0]! & 0x80) !== 0;
      const payload = buf.subarray(8, 8 + len);
      out.push({ control, type: control ? buf.readUInt16BE(2) : 0, flags: buf[4]!, id: control ? (len >= 4 ? payload.readUInt32BE(0) & 0x7fffffff : 0) : buf.readUInt32BE(0) & 0x7fffffff, payload });
      buf = buf.subarray(8 + len);
    }
    return out;
  };
}

/** The name/value pairs of our SYN_STREAM: stored deflate blocks (see frames.ts). */
function synHeaders(payload: Buffer): Map<string, string> {
  let at = 10;
  if (payload[at] === 0x78) at += 2; // zlib header, first block of the session
  at += 5; // stored block header
  const n = payload.readUInt32BE(at);
  at += 4;
  const h = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const kl = payload.readUInt32BE(at);
    const k = payload.toString('utf8', at + 4, at + 4 + kl);
    at += 4 + kl;
    const vl = payload.readUInt32BE(at);
    h.set(k, payload.toString('utf8', at + 4, at + 4 + vl));
    at += 4 + vl;
  }
  return h;
}

const data = (id: number, payload: Buffer, fin = false) => {
  const f = Buffer.alloc(8 + payload.length);
  f.writeUInt32BE(id, 0);
  f.writeUInt32BE(((fin ? 1 : 0) << 24) | payload.length, 4);
  payload.copy(f, 8);
  return f;
};

/**
 * A fake API server + kubelet: ports in `listening` echo, others are refused with REFUSED_TEXT.
 * `log` records what reached the kubelet; `stuck` says whether a session blocked for good.
 */
async function fakeKubelet(listening: Set<number>) {
  const log: { session: number; frame: string }[] = [];
  const sessions: { stuck: boolean }[] = [];
  const wss = new WebSocketServer({ noServer: true });
  wss.on('headers', (h) => h.push('Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io'));
  const server = http.createServer((_q, s) => s.writeHead(404).end());
  server.on('upgrade', (req, sock: net.Socket, head) => {
    delete req.headers['sec-websocket-protocol'];
    wss.handleUpgrade(req, sock, head, (ws: WebSocket) => {
      const me = { stuck: false };
      const n = sessions.push(me);
      const parse = frames();
      const streams = new Map<number, { type: string; port: number; req: string; unread: boolean; peer?: number }>();
      const send = (b: Buffer) => ws.send(b, { binary: true });
      ws.on('message', (raw: Buffer) => {
        for (const f of parse(raw)) {
          if (me.stuck) continue; // a worker waits on a stream nobody reads: nothing is handled any more
          if (f.control && f.type === 1) {
            const h = synHeaders(f.payload);
            const s = { type: h.get('streamtype')!, port: Number(h.get('port')), req: h.get('requestid')!, unread: false };
            streams.set(f.id, s);
            log.push({ session: n, frame: `SYN ${s.type} ${f.id}` });
            if (s.type !== 'data') continue;
            const errId = [...streams].find(([, x]) => x.type === 'error' && x.req === s.req)![0];
            if (listening.has(s.port)) continue;
            send(data(errId, Buffer.from(REFUSED_TEXT)));
            send(data(errId, Buffer.alloc(0), true));
            send(data(f.id, Buffer.alloc(0), true));
            s.unread = true;
          } else if (f.control && f.type === 6) {
            log.push({ session: n, frame: `PING ${f.id}` });
            send(Buffer.concat([Buffer.from([0x80, 3, 0, 6, 0, 0, 0, 4]), f.payload]));
          } else if (f.control && f.type === 3) {
            log.push({ session: n, frame: `RST ${f.id}` });
            streams.delete(f.id);
          } else if (!f.control) {
            const s = streams.get(f.id);
            if (!s || f.payload.length === 0) continue;
            log.push({ session: n, frame: `DATA ${f.id}` });
            if (s.unread) me.stuck = true;
            else if (s.type === 'data') send(data(f.id, f.payload)); // echo
          }
        }
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  const client = { server: `http://127.0.0.1:${port}`, settings: async () => ({ headers: {} }) } as unknown as KubeClient;
  const close = () => new Promise<void>((r) => {
    for (const c of wss.clients) c.terminate();
    server.closeAllConnections();
    server.close(() => r());
  });
  return { client, log, sessions, close };
}

/** Opens a stream, sends `payload`, resolves with what came back and how it ended. */
async function exchange(pool: PortForwardSessions, client: KubeClient, port: number, payload: string, timeoutMs = 3000) {
  let got = '';
  let s: PortStream | undefined;
  const ended = new Promise<{ error?: string; got: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`port ${port}: no answer and no end within ${timeoutMs} ms (session stuck?)`)), timeoutMs);
    void pool
      .openPortStream(client, { namespace: 'ns', pod: 'pod', port }, {
        data: (c) => {
          got += c.toString();
          if (got === payload) {
            clearTimeout(timer);
            s?.close();
            resolve({ got });
          }
        },
        close: (error) => {
          clearTimeout(timer);
          resolve({ ...(error !== undefined && { error }), got });
        },
      })
      .then((stream) => {
        s = stream;
        stream.write(Buffer.from(payload));
      }, reject);
  });
  return ended;
}

test('pf-spdy: a refused port ends its own stream with the kubelet\'s error, sends it no bytes, and the session goes on', async () => {
  const k = await fakeKubelet(new Set([8080]));
  const pool = new PortForwardSessions();
  try {
    assert.deepEqual(await exchange(pool, k.client, 8080, 'hello'), { got: 'hello' });
    const refused = await exchange(pool, k.client, 9999, 'GET / HTTP/1.1\r\n\r\n');
    assert.ok(isRefusal(refused.error), `the stream ends with the refusal: ${refused.error}`);
    assert.equal(refused.got, '');
    // The refused stream's bytes were held (never sent), and both its streams were reset.
    const [errId, dataId] = k.log.filter((l) => /^SYN/.test(l.frame)).slice(-2).map((l) => Number(l.frame.split(' ')[2]));
    assert.equal(k.log.some((l) => l.frame === `DATA ${dataId}`), false, 'no byte reached the stream nobody reads');
    const reset = () => k.log.some((l) => l.frame === `RST ${dataId}`) && k.log.some((l) => l.frame === `RST ${errId}`);
    for (let i = 0; i < 50 && !reset(); i++) await new Promise((r) => setTimeout(r, 20)); // the RSTs are on their way
    assert.ok(reset(), JSON.stringify(k.log));
    // The other port still answers on the same session, and so do ten more streams.
    for (let i = 0; i < 10; i++) assert.deepEqual(await exchange(pool, k.client, 8080, `again ${i}`), { got: `again ${i}` });
    assert.deepEqual([k.sessions.length, k.sessions[0]!.stuck], [1, false]);
  } finally {
    pool.close();
    await k.close();
  }
});

test('pf-spdy: a port known to accept sends at once; if it refuses later, the session is retired and the next stream gets a new one', async () => {
  const listening = new Set([8080, 9000]);
  const k = await fakeKubelet(listening);
  const pool = new PortForwardSessions();
  try {
    assert.deepEqual(await exchange(pool, k.client, 9000, 'first'), { got: 'first' });
    const pings = k.log.filter((l) => l.frame.startsWith('PING')).length;
    assert.deepEqual(await exchange(pool, k.client, 9000, 'second'), { got: 'second' });
    assert.equal(k.log.filter((l) => l.frame.startsWith('PING')).length, pings, 'no wait (PING) for a port that took a connection');
    // The app on 9000 stops listening: bytes go out before the refusal, and the fake kubelet's
    // session is stuck from then on, as a real one is.
    listening.delete(9000);
    const refused = await exchange(pool, k.client, 9000, 'third');
    assert.ok(isRefusal(refused.error), String(refused.error));
    assert.equal(k.sessions[0]!.stuck, true);
    // New connections, to either port, go over a new session and are answered.
    assert.deepEqual(await exchange(pool, k.client, 8080, 'fourth'), { got: 'fourth' });
    listening.add(9000);
    assert.deepEqual(await exchange(pool, k.client, 9000, 'fifth'), { got: 'fifth' });
    assert.deepEqual([k.sessions.length, k.sessions[1]!.stuck], [2, false]);
  } finally {
    pool.close();
    await k.close();
  }
});

test('pf-spdy: a session that stopped carrying bytes (a link down) is found by a PING, and new streams go over a new one', async () => {
  const k = await fakeKubelet(new Set([8080]));
  const pool = new PortForwardSessions();
  try {
    assert.deepEqual(await exchange(pool, k.client, 8080, 'before'), { got: 'before' });
    await new Promise((r) => setTimeout(r, 2200)); // silent long enough that the next stream checks
    k.sessions[0]!.stuck = true; // answers nothing from now on, closes nothing
    const t0 = Date.now();
    const cut = await exchange(pool, k.client, 8080, 'during', 6000);
    assert.match(String(cut.error), /stopped answering/);
    console.log(`# a silent session was given up ${Date.now() - t0} ms after the stream opened`);
    assert.deepEqual(await exchange(pool, k.client, 8080, 'after'), { got: 'after' });
    assert.equal(k.sessions.length, 2);
  } finally {
    pool.close();
    await k.close();
  }
});
