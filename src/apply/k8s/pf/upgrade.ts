// A SPDY session straight on an upgraded HTTP connection (`Upgrade: SPDY/3.1`, what kubectl did
// before Kubernetes 1.31, and the only multiplexed port-forward an older API server offers): the
// API server passes the connection through to the kubelet, and the SPDY frames (frames.ts) are
// the connection's bytes, with no WebSocket around them. Without it an old server left envserve
// one v4.channel.k8s.io WebSocket per connection, which the kubelet's streaming server carries at
// a quarter of the speed (measured on the test cluster).
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { KubeClient } from '../client.js';
import { Dialer } from '../dial.js';
import { TunnelRefused } from './tunnel.js';
import type { WsLinkEvents } from './wslink.js';
import type { PooledReads } from './readpool.js';

const STREAM_PROTOCOL = 'portforward.k8s.io';

/**
 * Upgrades `path` to SPDY/3.1; resolves with the connection, paused, at its first SPDY byte.
 * `reads`: the TLS socket reads into pooled buffers (readpool.ts; not through a proxy).
 */
export function openSpdyUpgrade(client: KubeClient, path: string, timeoutMs = 10_000, reads?: PooledReads): Promise<net.Socket> {
  const url = new URL(client.server + path);
  const secure = url.protocol === 'https:';
  return client.settings().then((s) => new Promise<net.Socket>((resolve, reject) => {
    let settled = false;
    const settle = (e: Error | undefined, sock?: net.Socket) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(sock!);
    };
    const tlsOpts = { ca: s.ca, cert: s.cert, key: s.key, ...(s.rejectUnauthorized !== undefined && { rejectUnauthorized: s.rejectUnauthorized }), ...(s.servername !== undefined && { servername: s.servername }) };
    const req = (secure ? https : http).request(url, {
      method: 'POST',
      headers: { ...s.headers, Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': STREAM_PROTOCOL },
      // Dialled like every other connection to the API server (proxy-url, HTTPS_PROXY, tls-server-name).
      createConnection: ((_o: unknown, done: (e: Error | null, sock?: net.Socket) => void) => {
        (client.dialer ?? new Dialer(new URL(client.server))).connect({ ...tlsOpts, ...(reads && { onread: reads.onread }) }, (e, sock) => {
          if (reads && sock) reads.socket = sock;
          done(e, sock);
        }, timeoutMs);
        return undefined;
      }) as never,
    });
    const timer = setTimeout(() => {
      settle(new Error(`no answer to the SPDY port-forward upgrade within ${timeoutMs} ms`));
      req.destroy();
    }, timeoutMs);
    req.on('upgrade', (res, sock, head) => {
      const proto = String(res.headers['x-stream-protocol-version'] ?? '');
      if (proto !== STREAM_PROTOCOL) {
        sock.destroy();
        return settle(new Error(`the API server answered the SPDY port-forward upgrade with stream protocol "${proto}"`));
      }
      sock.pause();
      if (head.length) sock.unshift(head);
      settle(undefined, sock as net.Socket);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => undefined); // 'close' follows
      res.on('close', () => {
        let msg = Buffer.concat(chunks).toString().trim();
        try {
          msg = (JSON.parse(msg) as { message?: string }).message ?? msg;
        } catch {
          // plain text
        }
        // As tunnel.ts: a refused credential (exec plugin, oidc) is fetched anew for the next dial.
        if (res.statusCode === 401) client.credentials?.unauthorized();
        settle(new TunnelRefused(res.statusCode ?? 0, msg || `HTTP ${res.statusCode}`));
      });
    });
    req.on('error', (e) => settle(e));
    req.end();
  }));
}

/** The session's frames straight on the upgraded connection: the same surface as WsLink. */
export class RawLink {
  private ended = false;
  private closing = false;
  private why?: string;

  /** `reads`: the socket's pooled reads (readpool.ts), if it has them: their bytes go to `ev` uncopied. */
  constructor(private readonly socket: net.Socket, ev: WsLinkEvents, reads?: PooledReads) {
    socket.setNoDelay(true);
    // No WebSocket pings to keep the connection's NAT entries: TCP keep-alive instead (the
    // session's own PINGs still tell a stalled connection).
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (b: Buffer) => ev.bytes(b));
    if (reads) reads.sink = (b) => ev.bytes(b);
    socket.on('end', () => socket.end());
    socket.on('error', (e) => {
      this.why ??= e.message;
      socket.destroy();
    });
    socket.on('close', () => {
      if (this.ended) return;
      this.ended = true;
      ev.closed(this.why);
    });
    socket.resume();
  }

  get isOpen(): boolean {
    return !this.ended && !this.closing;
  }

  send(parts: Buffer[], done?: () => void): void {
    if (!this.isOpen) return done?.();
    const s = this.socket;
    if (parts.length === 1) {
      s.write(parts[0]!, done && (() => done()));
      return;
    }
    s.cork();
    for (let i = 0; i < parts.length - 1; i++) s.write(parts[i]!);
    s.write(parts[parts.length - 1]!, done && (() => done()));
    s.uncork();
  }

  ping(): void {
    // TCP keep-alive does it (see the constructor).
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(): void {
    if (this.ended || this.closing) return;
    this.closing = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}
