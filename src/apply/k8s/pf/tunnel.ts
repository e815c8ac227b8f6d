// One port-forward stream through the API server to a pod's port: a WebSocket speaking
// v4.channel.k8s.io (the kubelet's port-forward protocol), channel 0 = data, channel 1 = error,
// each starting with the port number in two bytes. Our own client rather than client-node's
// PortForward because that one has no flow control (it writes whatever arrives, so a fast sender
// fills memory) and no way to tell "could not dial the pod" from "the pod closed the connection",
// which the listener needs to retry a connection transparently on the replacement pod.
import tls from 'node:tls';
import net from 'node:net';
import WebSocket from 'ws';
import type { KubeClient } from '../client.js';
import { Dialer } from '../dial.js';
import type { PooledReads } from './readpool.js';

export interface TunnelTarget {
  namespace: string;
  pod: string;
  port: number;
}

export interface TunnelEvents {
  /** Bytes from the pod. Return false to ask for a pause (the local socket is full). */
  data(chunk: Buffer): void;
  /** The pod side ended. `error` is set when the kubelet reported one (e.g. could not dial). */
  close(error?: string): void;
  /**
   * The pod's port took the connection, as far as the protocol can tell (neither says so outright:
   * the SPDY stream once its refusal window passed, a v4 tunnel once the pod sent bytes).
   */
  established?(): void;
}

/** One forwarded connection's stream to the pod, whichever protocol carries it. */
export interface PortStream {
  readonly isClosed: boolean;
  /**
   * How many bytes the local socket may hold unsent before the caller should `pause()` this
   * stream: 0 for a stream with its own WebSocket; more for a multiplexed one, where pausing
   * stops every stream of the session.
   */
  readonly pauseAt: number;
  /**
   * Sends bytes to the pod; returns false when the caller should wait for `onDrain`. `release`
   * runs once `chunk`'s memory is no longer needed (a pooled read: readpool.ts); a stream may
   * write frame headers into the room in front of such a chunk.
   */
  write(chunk: Buffer, release?: () => void): boolean;
  onDrain(f: () => void): void;
  /** Stop / resume delivering the pod's bytes (the local socket is full / drained). */
  pause(): void;
  resume(): void;
  /**
   * The local client is done sending (half-close), where the protocol can say so (SPDY: FIN on
   * the data stream): the pod sees EOF, answers and closes, and the stream ends instead of
   * lingering. Absent: v4.channel.k8s.io cannot carry a half-close.
   */
  end?(): void;
  close(): void;
}

const DATA = 0;
const ERROR = 1;
/** Pause reading from the local socket while this much is queued toward the API server. */
const HIGH_WATER = 1 << 20;

/**
 * The bytes of one connection handed to the API server's socket and not yet written, and who
 * waits for them to drain: the backpressure both port-forward protocols share.
 */
export class SendWindow {
  private queued = 0;
  private waiters: (() => void)[] = [];
  private closed = false;

  /** Counts `bytes` as queued; call the returned function once they are written. */
  add(bytes: number): () => void {
    this.queued += bytes;
    return () => {
      this.queued -= bytes;
      if (this.queued < HIGH_WATER / 2) this.wake();
    };
  }

  /** There is room for more: the caller may keep reading. */
  get open(): boolean {
    return this.queued < HIGH_WATER;
  }

  onDrain(f: () => void): void {
    if (this.queued < HIGH_WATER / 2 || this.closed) f();
    else this.waiters.push(f);
  }

  /** The stream ended: whoever waits to write stops waiting. */
  close(): void {
    this.closed = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}
const PING_EVERY_MS = 30_000;

/** TLS sessions per API server, so each new WebSocket resumes instead of a full handshake. */
const sessions = new Map<string, Buffer>();

/** A stream on its own WebSocket (v4.channel.k8s.io): one per forwarded connection. */
export class Tunnel implements PortStream {
  readonly pauseAt = 0;
  private portBytesLeft = [2, 2];
  private errorText = '';
  private closed = false;
  /** close() was called: what follows is our doing, not an error. */
  private closing = false;
  private pinger?: NodeJS.Timeout;
  private readonly window = new SendWindow();
  private answered = false;

  private constructor(private readonly ws: WebSocket, private readonly ev: TunnelEvents) {
    ws.on('message', (raw: Buffer, isBinary: boolean) => this.onMessage(raw, isBinary));
    // 1006: the connection to the API server ended without a closing handshake (reset, cut): an
    // error, so that it is recorded, and retried if the pod had not answered yet (a pod that
    // closes its side ends the WebSocket with a close frame).
    ws.on('close', (code: number) => {
      if (code === 1006 && !this.closing && !this.errorText) this.errorText = 'the WebSocket to the API server was cut';
      this.finish();
    });
    ws.on('error', (e) => {
      if (!this.errorText) this.errorText = e.message;
      this.finish();
    });
    this.pinger = setInterval(() => {
      if (ws.readyState === WebSocket.OPEN) ws.ping();
    }, PING_EVERY_MS);
    this.pinger.unref();
    ws.resume(); // openWebSocket left it paused until these listeners were on
  }

  /** Opens the WebSocket; rejects with the API server's answer when the upgrade is refused. */
  static async open(client: KubeClient, t: TunnelTarget, ev: TunnelEvents, timeoutMs = 10_000): Promise<Tunnel> {
    const path = `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.pod)}/portforward?ports=${t.port}`;
    return new Tunnel((await openWebSocket(client, path, 'v4.channel.k8s.io', timeoutMs)).ws, ev);
  }

  private onMessage(raw: Buffer, isBinary: boolean): void {
    if (!isBinary || raw.length < 1) return;
    const channel = raw[0]!;
    let data = raw.subarray(1);
    if (channel > ERROR) return;
    const skip = Math.min(this.portBytesLeft[channel]!, data.length);
    if (skip > 0) {
      this.portBytesLeft[channel]! -= skip;
      data = data.subarray(skip);
    }
    if (data.length === 0) return;
    if (channel === DATA && !this.answered) {
      this.answered = true;
      this.ev.established?.();
    }
    if (channel === DATA) this.ev.data(data);
    else this.errorText += data.toString('utf8');
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pinger);
    this.window.close();
    this.ev.close(this.errorText || undefined);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends bytes to the pod; returns false when the caller should wait for `onDrain`. */
  write(chunk: Buffer, release?: () => void): boolean {
    if (this.closed) {
      release?.();
      return false;
    }
    const frame = Buffer.allocUnsafe(chunk.length + 1);
    frame[0] = DATA;
    chunk.copy(frame, 1);
    release?.();
    this.ws.send(frame, { binary: true }, this.window.add(frame.length));
    return this.window.open;
  }

  onDrain(f: () => void): void {
    this.window.onDrain(f);
  }

  /** Stop / resume reading from the API server (the local socket is full / drained). */
  pause(): void {
    this.ws.pause();
  }
  resume(): void {
    this.ws.resume();
  }

  close(): void {
    this.closing = true;
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    else this.ws.terminate();
    // Do not wait for the closing handshake: the pod side is done for us.
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }
}

/**
 * A WebSocket to the API server at `path` speaking `protocol`, with the client's TLS material and
 * auth headers; rejects with TunnelRefused (the API server's status and message) when the upgrade
 * is refused. Resolves with the subprotocol the server chose, and the WebSocket PAUSED: the
 * caller resumes it once its listeners are on. `reads`: the TLS socket reads into pooled buffers
 * (readpool.ts; a socket through a proxy reads as usual).
 */
export function openWebSocket(client: KubeClient, path: string, protocol: string, timeoutMs = 10_000, reads?: PooledReads): Promise<{ ws: WebSocket; protocol: string; socket: net.Socket }> {
  const url = client.server.replace(/^http/, 'ws') + path;
  const key = client.server;
  // ws only accepts RFC 7230 tokens as subprotocols, and "SPDY/3.1+portforward.k8s.io" has a '/':
  // such a protocol is asked for in the request header directly, and the server's answer is taken
  // off the response before ws sees it (ws would refuse a protocol it did not ask for).
  const token = /^[!#$%&'*+\-.0-9A-Z^_`|a-z~]+$/.test(protocol);
  let chosen = '';
  let socket: net.Socket | undefined; // the connection ws upgrades (a SPDY session takes it over: wslink.ts)
  return client.settings().then((s) => new Promise<{ ws: WebSocket; protocol: string; socket: net.Socket }>((resolve, reject) => {
    const ws = new WebSocket(url, token ? [protocol] : [], {
      ...(!token && {
        finishRequest: (req: import('node:http').ClientRequest) => {
          req.setHeader('Sec-WebSocket-Protocol', protocol);
          req.prependListener('upgrade', (res: import('node:http').IncomingMessage) => {
            chosen = String(res.headers['sec-websocket-protocol'] ?? '');
            delete res.headers['sec-websocket-protocol'];
          });
          req.end();
        },
      }),
      headers: s.headers,
      ca: s.ca,
      cert: s.cert,
      key: s.key,
      ...(s.rejectUnauthorized !== undefined && { rejectUnauthorized: s.rejectUnauthorized }),
      ...(s.servername !== undefined && { servername: s.servername }),
      perMessageDeflate: false,
      skipUTF8Validation: true,
      handshakeTimeout: timeoutMs,
      maxPayload: 64 << 20,
      // A zero mask is a valid mask and lets ws skip XOR-ing every byte we send (so the optional
      // native `bufferutil` would buy nothing: server frames are not masked either).
      generateMask: (mask: Buffer) => mask.fill(0),
      // Dialled by the client's Dialer (proxy-url, HTTPS_PROXY, tls-server-name), like every
      // other connection to the API server.
      createConnection: ((_opts: unknown, done: (e: Error | null, sock?: net.Socket) => void) => {
        dialerOf(client).connect({ ca: s.ca, cert: s.cert, key: s.key, ...(s.rejectUnauthorized !== undefined && { rejectUnauthorized: s.rejectUnauthorized }), ...(s.servername !== undefined && { servername: s.servername }), session: sessions.get(key), ...(reads && { onread: reads.onread }) }, (e, sock) => {
          if (sock instanceof tls.TLSSocket) sock.on('session', (sess: Buffer) => sessions.set(key, sess));
          if (reads) reads.socket = sock;
          socket = sock;
          done(e, sock);
        }, timeoutMs);
        return undefined;
      }) as never,
    });
    let settled = false;
    ws.once('open', () => {
      settled = true;
      ws.removeAllListeners('unexpected-response');
      // Paused until the caller has its listeners on: bytes that came with the upgrade answer
      // (a real kubelet sends the v4 port prefix at once) are emitted before an awaiting caller
      // runs, and would be lost. The caller resumes.
      ws.pause();
      resolve({ ws, protocol: token ? ws.protocol : chosen, socket: socket! });
    });
    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      // The connection closing (FIN) while the refusal's body comes in ends `res` without 'end',
      // and neither the request nor ws reports an error (a reset does, through ws): without this
      // the promise never settled, and a multiplexed session being opened (pool.ts's session map)
      // held every new connection to the pod (forwarder.test.ts).
      res.on('error', () => undefined); // 'close' follows
      res.on('close', () => {
        if (settled) return;
        settled = true;
        reject(new Error(`the API server's answer (HTTP ${res.statusCode}) to the port-forward upgrade was cut off`));
        ws.terminate();
      });
      res.on('end', () => {
        if (settled) return;
        settled = true;
        let msg = Buffer.concat(chunks).toString().trim();
        try {
          msg = (JSON.parse(msg) as { message?: string }).message ?? msg;
        } catch {
          // plain text
        }
        // creds: a refused credential (exec plugin, oidc) is fetched anew for the next dial.
        if (res.statusCode === 401) client.credentials?.unauthorized();
        reject(new TunnelRefused(res.statusCode ?? 0, msg || `HTTP ${res.statusCode}`));
        ws.terminate();
      });
    });
    // `on`, not `once`: ws may report a second error (e.g. the terminate() above aborting the
    // handshake), and an 'error' with no listener would throw out of the event loop.
    ws.on('error', (e) => {
      if (!settled) {
        settled = true;
        reject(e);
      }
    });
  }));
}

/** The client's Dialer; a stand-in client without one (unit tests) gets one for its server. */
function dialerOf(client: KubeClient): Dialer {
  return client.dialer ?? new Dialer(new URL(client.server));
}

/** The API server refused the upgrade (pod gone: 404; forbidden: 403; container not running: 500). */
export class TunnelRefused extends Error {
  constructor(readonly code: number, message: string) {
    super(`port-forward refused (${code}): ${message}`);
    this.name = 'TunnelRefused';
  }
}
