// Port-forward streams multiplexed over one WebSocket per pod, as `kubectl port-forward` does since
// Kubernetes 1.31 (KEP-4006, feature gate PortForwardWebsockets, beta and on by default): asking
// for the WebSocket subprotocol "SPDY/3.1+portforward.k8s.io" makes the API server open a SPDY/3.1
// connection to the kubelet and carry its bytes, unchanged, in binary WebSocket messages. Each
// forwarded connection is then a pair of SPDY streams in that session (an error stream and a data
// stream, tied by a `requestid` header) — no WebSocket, TLS, authentication or kubelet connection
// per connection, only two SYN_STREAM frames, which go out together with the client's first bytes.
//
// What we implement of SPDY/3.1 is what a port-forward client needs: SYN_STREAM (sent), DATA (both
// ways), RST_STREAM, PING (answered), GOAWAY, FIN flags; SYN_REPLY, HEADERS, SETTINGS and
// WINDOW_UPDATE are read and ignored. Header blocks must be zlib streams shared across the
// session; ours are written as *stored* (uncompressed) deflate blocks, each followed by the empty
// block of a sync flush, which every inflater accepts, so no compressor state is needed; the
// headers the kubelet sends back carry nothing we use and are skipped undecoded.
//
// A stream the kubelet stops reading blocks the whole session: moby/spdystream hands each DATA
// frame to its stream's reader and waits for it, in one of five workers that the session's
// streams share by id, until we finish or reset that stream — and our RST_STREAM queues behind
// the blocked frame. So bytes sent to a pod port where nothing listens (the kubelet reports
// "connection refused" and never reads) stall a fifth of the session at once and, as frames
// pile up, every other forward to that pod (kubectl exits on such an error for this reason).
// Three rules keep a refusal to its own connection:
// - until a port of this pod has taken a connection on this session, a new stream holds the
//   client's bytes until the refusal would have come: a PING sent behind the SYN_STREAMs has
//   come back, plus a margin (once per pod port; later streams to it send at once);
// - a stream the kubelet ends is reset on our side at once, so nothing we send later can reach
//   a stream nobody reads;
// - if the kubelet still reports an error on a stream we had sent bytes on (the app stopped
//   listening since, or reset the connection), the session is retired: no new streams on it,
//   closed once its streams end; the next connection opens a fresh one.
// A session can also stop carrying bytes without closing (the link to the cluster went down, the
// laptop slept; TCP then retransmits at ever longer intervals): a new stream on a session that
// has been silent a while sends a PING first, and a PING not answered in time retires the
// session and ends its streams that got nothing back yet — their connections are retried on a
// new session with the bytes they had sent (port-forward.ts).
//
// Flow control: the kubelet's SPDY implementation (moby/spdystream) has no per-stream windows, so
// a local socket that stops reading can only be answered by pausing the whole session (kubectl
// behaves the same). To make that rare, a multiplexed stream lets its local socket buffer up to
// PAUSE_AT bytes before it pauses the session.
//
// Where the API server does not offer the tunnel (older than 1.30, gate off, a proxy in between
// that does not pass the subprotocol), `openPortStream` falls back to one v4.channel.k8s.io
// WebSocket per connection (pf-tunnel.ts). ENVSERVE_PF_PROTOCOL=v4 forces that.
import WebSocket from 'ws';
import type { KubeClient } from './client.js';
import { openWebSocket, SendWindow, Tunnel, TunnelRefused, type PortStream, type TunnelEvents, type TunnelTarget } from './pf-tunnel.js';

const PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
/** A local socket may hold this much of the pod's data before the session is paused for it. */
const PAUSE_AT = 1 << 20;
/**
 * A session with no stream is closed after this long: longer than the slowest probe schedule
 * (30 s, probe/scheduler.ts), so an idle forward's probes reuse the session instead of opening a
 * new WebSocket through the API server each time.
 */
const IDLE_MS = 45_000;
const PING_EVERY_MS = 30_000;
/** A held stream sends this long after its PING came back (the kubelet dials in a goroutine of its own). */
const HOLD_MARGIN_MS = 25;
/** A PING of ours not answered within this long: the session stopped carrying bytes. */
const PING_TIMEOUT_MS = 2000;
/** A new stream on a session that has heard nothing for this long checks it with a PING. */
const SILENT_MS = 2000;
/** After the tunnel was refused where a v4 WebSocket worked, do not ask again for this long. */
const UNSUPPORTED_MS = 5 * 60_000;

// SPDY/3 frame types and flags.
const SYN_STREAM = 1;
const SYN_REPLY = 2;
const RST_STREAM = 3;
const PING = 6;
const GOAWAY = 7;
const HEADERS = 8;
const FLAG_FIN = 1;
const RST_CANCEL = 5;

const forced = process.env.ENVSERVE_PF_PROTOCOL;

/**
 * The port-forward sessions of one owner (a K8sRuntime, or a PortForwarder on its own): one SPDY
 * session per API server + namespace + pod, shared by every forward to that pod, all closed by
 * close() when the owner stops (no session outlives it, so a stopping envserve exits at once).
 */
export class PortForwardSessions {
  /** Open sessions by API server + namespace + pod. */
  private readonly sessions = new Map<string, Promise<SpdySession>>();
  /** API servers where the tunnel was refused but a v4 WebSocket worked, and until when. */
  private readonly unsupported = new Map<string, number>();
  private closed = false;

  /**
   * A stream to `t.port` of pod `t.pod`: on the pod's multiplexed session when the API server offers
   * it, else on a WebSocket of its own. Rejects like Tunnel.open (TunnelRefused for 401/403/404...).
   */
  async openPortStream(client: KubeClient, t: TunnelTarget, ev: TunnelEvents): Promise<PortStream> {
    if (!this.spdyWanted(client)) return Tunnel.open(client, t, ev);
    let session: SpdySession;
    try {
      session = await this.sessionFor(client, t);
    } catch (e) {
      // Refusals that would refuse a v4 WebSocket alike (auth, no such pod): report as they are.
      if (forced === 'spdy' || (e instanceof TunnelRefused && [401, 403, 404].includes(e.code))) throw e;
      const s = await Tunnel.open(client, t, ev);
      this.unsupported.set(client.server, Date.now() + UNSUPPORTED_MS);
      return s;
    }
    if (session.isEnded) return this.openPortStream(client, t, ev); // went away meanwhile: next session
    return session.stream(t.port, ev);
  }

  /**
   * Opens the session to a pod ahead of its first connection (the forward calls this when its
   * workload moves to a new pod), so that connection does not wait for the WebSocket handshake.
   * Nothing reaches the pod until a stream is opened.
   */
  warm(client: KubeClient, t: { namespace: string; pod: string }): void {
    if (this.spdyWanted(client)) this.sessionFor(client, t).catch(() => undefined);
  }

  /** Closes every session; their open streams end. Later streams get sessions of their own again. */
  close(): void {
    this.closed = true;
    for (const p of this.sessions.values()) p.then((s) => s.shutdown(), () => undefined);
    this.sessions.clear();
  }

  private spdyWanted(client: KubeClient): boolean {
    return !this.closed && forced !== 'v4' && (this.unsupported.get(client.server) ?? 0) <= Date.now();
  }

  private sessionFor(client: KubeClient, t: { namespace: string; pod: string }): Promise<SpdySession> {
    const key = `${client.server} ${t.namespace} ${t.pod}`;
    let p = this.sessions.get(key);
    if (!p) {
      const q = SpdySession.open(client, t);
      q.then(
        (s) => s.onEnd(() => this.sessions.get(key) === q && this.sessions.delete(key)),
        () => this.sessions.get(key) === q && this.sessions.delete(key),
      );
      this.sessions.set(key, q);
      p = q;
    }
    return p;
  }
}

/** One SPDY session (one WebSocket) to one pod. */
class SpdySession {
  private nextId = 1; // client streams are odd
  private nextRequest = 0;
  private headerBlockStarted = false;
  /** Open streams by SPDY stream id (each pair is there twice: data id and error id). */
  private readonly streams = new Map<number, { s: SpdyStream; error: boolean }>();
  private readonly pausedBy = new Set<SpdyStream>();
  /** Ports of this pod that took a connection on this session: their new streams send at once. */
  private readonly accepting = new Set<number>();
  private nextPing = 1; // client PING ids are odd
  private readonly pings = new Map<number, { answered: () => void; timer: NodeJS.Timeout }>();
  private lastHeard = Date.now();
  private checking = false;
  private stalled = false;
  private ended = false;
  private goneAway = false;
  private readonly endWaiters: (() => void)[] = [];
  private idle?: NodeJS.Timeout;
  private readonly pinger: NodeJS.Timeout;
  // Frame parser state: 8-byte header collected in `head`, then `left` payload bytes.
  private readonly head = Buffer.alloc(8);
  private headHave = 0;
  private left = 0;
  private data?: { half?: { s: SpdyStream; error: boolean }; fin: boolean };
  private control?: { type: number; flags: number; buf: Buffer; at: number };

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (raw: Buffer) => this.onBytes(raw));
    ws.on('close', () => this.end('the port-forward session to the API server closed'));
    ws.on('error', (e) => this.end(`port-forward session: ${e.message}`));
    this.pinger = setInterval(() => ws.readyState === WebSocket.OPEN && ws.ping(), PING_EVERY_MS);
    this.pinger.unref();
    this.armIdle();
    ws.resume(); // openWebSocket left it paused until these listeners were on
  }

  static async open(client: KubeClient, t: { namespace: string; pod: string }): Promise<SpdySession> {
    const path = `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.pod)}/portforward`;
    const { ws, protocol } = await openWebSocket(client, path, PROTOCOL);
    if (protocol !== PROTOCOL) {
      ws.terminate();
      throw new Error(`the API server answered the port-forward tunnel with subprotocol "${protocol}"`);
    }
    return new SpdySession(ws);
  }

  get isEnded(): boolean {
    return this.ended || this.goneAway;
  }

  onEnd(f: () => void): void {
    if (this.isEnded) f();
    else this.endWaiters.push(f);
  }

  /** A new stream pair to `port`; the SYN_STREAMs are sent now, the pod is dialed by the kubelet. */
  stream(port: number, ev: TunnelEvents): SpdyStream {
    clearTimeout(this.idle);
    const errorId = this.nextId;
    const dataId = errorId + 2;
    this.nextId += 4;
    if (this.nextId > 0x7ffffff0) this.goAway(); // stream ids run out: the next stream opens a new session
    const req = String(this.nextRequest++);
    const hold = !this.accepting.has(port);
    const s = new SpdyStream(this, dataId, errorId, port, ev, hold);
    this.streams.set(errorId, { s, error: true });
    this.streams.set(dataId, { s, error: false });
    // As kubectl: the error stream is only read, so it is half-closed (empty DATA with FIN) at once.
    const frames = [
      this.synStream(errorId, [['streamtype', 'error'], ['port', String(port)], ['requestid', req]]),
      dataFrame(errorId, FLAG_FIN, EMPTY),
      this.synStream(dataId, [['streamtype', 'data'], ['port', String(port)], ['requestid', req]]),
    ];
    if (hold) frames.push(this.ping(() => s.pingAnswered()));
    else if (!this.checking && Date.now() - this.lastHeard > SILENT_MS) {
      this.checking = true;
      frames.push(this.ping(() => (this.checking = false)));
    }
    this.send(Buffer.concat(frames));
    if (!hold) queueMicrotask(() => s.released());
    return s;
  }

  /** A stream to `port` was taken by the pod: later streams to it need not wait. */
  accepted(port: number): void {
    if (!this.isEnded) this.accepting.add(port);
  }

  /**
   * The kubelet reported an error on a stream we had sent bytes on: one of its workers may be
   * blocked on them for good. No new streams here; closed once the open ones end.
   */
  retire(): void {
    if (this.ended) return;
    this.accepting.clear();
    this.goneAway = true;
    for (const f of this.endWaiters.splice(0)) f();
    if (this.streams.size === 0) this.closeIfIdle();
  }

  /** The session stopped answering: no new streams, and those that got nothing back end (and are retried). */
  private stall(): void {
    if (this.ended || this.stalled) return;
    this.stalled = true;
    this.retire();
    for (const { s } of [...this.streams.values()]) s.stalled('the port-forward session to the API server stopped answering');
  }

  /** A PING frame; `answered` runs when it comes back, and the session stalls if it does not in time. */
  private ping(answered: () => void): Buffer {
    const id = this.nextPing;
    this.nextPing = this.nextPing >= 0x7ffffffd ? 1 : this.nextPing + 2;
    const timer = setTimeout(() => this.stall(), PING_TIMEOUT_MS);
    timer.unref();
    this.pings.set(id, { answered, timer });
    const f = Buffer.alloc(12);
    f.writeUInt16BE(0x8003, 0);
    f.writeUInt16BE(PING, 2);
    f.writeUInt32BE(4, 4);
    f.writeUInt32BE(id, 8);
    return f;
  }

  /** Queues bytes on the WebSocket; `done` runs once they are handed to the socket. */
  send(frame: Buffer, done?: () => void): void {
    if (this.ended) return done?.();
    // Not coalesced with other streams' frames of the same event-loop turn: measured, the wait
    // for the end of the turn cost more requests/s than the fewer writes gained.
    this.ws.send(frame, { binary: true }, done);
  }

  /** The stream pair is done with on our side (finished, or closed locally). */
  forget(s: SpdyStream): void {
    this.streams.delete(s.dataId);
    this.streams.delete(s.errorId);
    this.setPaused(s, false);
    if (this.streams.size > 0) return;
    if (this.goneAway) this.closeIfIdle();
    else this.armIdle();
  }

  setPaused(s: SpdyStream, paused: boolean): void {
    const was = this.pausedBy.size > 0;
    if (paused) this.pausedBy.add(s);
    else this.pausedBy.delete(s);
    const now = this.pausedBy.size > 0;
    if (now && !was) this.ws.pause();
    else if (!now && was) this.ws.resume();
  }

  /** No new streams here (existing ones go on); the next connection opens a new session. */
  private goAway(): void {
    this.goneAway = true;
    for (const f of this.endWaiters.splice(0)) f();
    if (this.streams.size === 0) this.armIdle();
  }

  /** The owner stops: close the WebSocket now (open streams end with it). */
  shutdown(): void {
    this.goneAway = true;
    this.ws.close(1000);
    setTimeout(() => this.ws.terminate(), 2000).unref();
    this.end('envserve stopped the port-forward');
  }

  private armIdle(): void {
    clearTimeout(this.idle);
    this.idle = setTimeout(() => this.closeIfIdle(), IDLE_MS);
    this.idle.unref();
  }

  private closeIfIdle(): void {
    if (this.streams.size > 0 || this.ended) return;
    clearTimeout(this.idle);
    this.goneAway = true; // no new streams here (out of the session map first), then close
    for (const f of this.endWaiters.splice(0)) f();
    this.ws.close(1000);
    setTimeout(() => this.ws.terminate(), 2000).unref();
  }

  private end(why: string): void {
    if (this.ended) return;
    this.ended = true;
    clearInterval(this.pinger);
    clearTimeout(this.idle);
    for (const p of this.pings.values()) clearTimeout(p.timer);
    this.pings.clear();
    for (const { s } of [...this.streams.values()]) s.finish(why);
    this.streams.clear();
    for (const f of this.endWaiters.splice(0)) f();
  }

  /** SYN_STREAM with its header block as a stored deflate block (after the zlib header, first time). */
  private synStream(id: number, headers: [string, string][]): Buffer {
    let n = 4;
    for (const [k, v] of headers) n += 8 + Buffer.byteLength(k) + Buffer.byteLength(v);
    const zhead = this.headerBlockStarted ? 0 : 2;
    this.headerBlockStarted = true;
    const f = Buffer.alloc(8 + 10 + zhead + 5 + n + 5);
    f.writeUInt16BE(0x8003, 0); // control frame, version 3
    f.writeUInt16BE(SYN_STREAM, 2);
    f.writeUInt32BE(f.length - 8, 4); // flags 0, length
    f.writeUInt32BE(id, 8);
    // associated stream 0, priority 0, slot 0: bytes 12..17 are zero
    let at = 18;
    if (zhead) {
      f[at++] = 0x78; // zlib header: deflate, 32K window, no preset dictionary
      f[at++] = 0x01;
    }
    f[at++] = 0x00; // stored block, not final
    f.writeUInt16LE(n, at);
    f.writeUInt16LE(~n & 0xffff, at + 2);
    at += 4;
    f.writeUInt32BE(headers.length, at);
    at += 4;
    for (const [k, v] of headers) {
      at = f.writeUInt32BE(Buffer.byteLength(k), at);
      at += f.write(k, at);
      at = f.writeUInt32BE(Buffer.byteLength(v), at);
      at += f.write(v, at);
    }
    // Then an empty stored block, as a zlib sync flush ends with: inflaters (Go's flate) read the
    // next block header before they hand out what they have, and this one ends the header block.
    f.set([0x00, 0x00, 0x00, 0xff, 0xff], at);
    return f;
  }

  /** Parses frames from the byte stream; a DATA payload is passed on in the pieces it arrives in. */
  private onBytes(b: Buffer): void {
    this.lastHeard = Date.now();
    let i = 0;
    while (i < b.length) {
      if (this.left === 0) {
        const n = Math.min(8 - this.headHave, b.length - i);
        b.copy(this.head, this.headHave, i, i + n);
        this.headHave += n;
        i += n;
        if (this.headHave < 8) return;
        this.headHave = 0;
        this.startFrame();
        continue;
      }
      const n = Math.min(this.left, b.length - i);
      const piece = b.subarray(i, i + n);
      i += n;
      this.left -= n;
      if (this.data) this.data.half?.s.onData(this.data.half.error, piece);
      else if (this.control) {
        piece.copy(this.control.buf, this.control.at);
        this.control.at += n;
      }
      if (this.left === 0) this.endFrame();
    }
  }

  private startFrame(): void {
    const h = this.head;
    const flags = h[4]!;
    const length = h.readUInt32BE(4) & 0xffffff;
    if (h[0]! & 0x80) {
      this.data = undefined;
      this.control = { type: h.readUInt16BE(2), flags, buf: Buffer.allocUnsafe(length), at: 0 };
    } else {
      this.control = undefined;
      this.data = { half: this.streams.get(h.readUInt32BE(0) & 0x7fffffff), fin: (flags & FLAG_FIN) !== 0 };
    }
    this.left = length;
    if (length === 0) this.endFrame();
  }

  private endFrame(): void {
    if (this.data) {
      const { half, fin } = this.data;
      this.data = undefined;
      if (fin && half) half.s.remoteDone(half.error);
      return;
    }
    const c = this.control!;
    this.control = undefined;
    const id = c.buf.length >= 4 ? c.buf.readUInt32BE(0) & 0x7fffffff : 0;
    switch (c.type) {
      case SYN_REPLY:
      case HEADERS: {
        const half = this.streams.get(id);
        if (half && c.flags & FLAG_FIN) half.s.remoteDone(half.error);
        break;
      }
      case RST_STREAM: {
        const half = this.streams.get(id);
        if (half) half.s.remoteDone(half.error, true);
        break;
      }
      case PING:
        if (id % 2 === 0) this.send(Buffer.concat([this.head.subarray(0, 8), c.buf])); // the server's: echo
        else {
          const p = this.pings.get(id);
          this.pings.delete(id);
          clearTimeout(p?.timer);
          p?.answered();
        }
        break;
      case GOAWAY:
        this.goAway();
        break;
      default: // SETTINGS, WINDOW_UPDATE, ...: nothing to do
    }
  }
}

const EMPTY = Buffer.alloc(0);

function rstFrame(id: number): Buffer {
  const f = Buffer.alloc(16);
  f.writeUInt16BE(0x8003, 0);
  f.writeUInt16BE(RST_STREAM, 2);
  f.writeUInt32BE(8, 4);
  f.writeUInt32BE(id, 8);
  f.writeUInt32BE(RST_CANCEL, 12);
  return f;
}

function dataFrame(id: number, flags: number, payload: Buffer): Buffer {
  const f = Buffer.allocUnsafe(8 + payload.length);
  f.writeUInt32BE(id, 0);
  f.writeUInt32BE(((flags << 24) | payload.length) >>> 0, 4);
  payload.copy(f, 8);
  return f;
}

/** One forwarded connection on a session: the data stream and its error stream. */
class SpdyStream implements PortStream {
  readonly pauseAt = PAUSE_AT;
  private closed = false;
  private dataDone = false;
  private errorDone = false;
  private reset = false;
  private sentFin = false;
  private sentRst = false;
  /** Bytes went out on the data stream (the kubelet may be blocked on them if it stopped reading). */
  private sentData = false;
  private errorText = '';
  private readonly window = new SendWindow();
  /** Client bytes (and a FIN) held until the refusal window passed; see the top of this file. */
  private held?: { frames: Buffer[]; done: (() => void)[]; fin: boolean };
  private holdTimer?: NodeJS.Timeout;
  /** The pod's side sent bytes. */
  private answered = false;

  constructor(
    private readonly session: SpdySession,
    readonly dataId: number,
    readonly errorId: number,
    private readonly port: number,
    private readonly ev: TunnelEvents,
    hold: boolean,
  ) {
    if (hold) this.held = { frames: [], done: [], fin: false };
  }

  /** The session stopped answering: a stream that got nothing back ends with `why` (its connection is retried). */
  stalled(why: string): void {
    if (!this.answered) this.finish(why);
  }

  /** Our PING, sent behind this stream's SYN_STREAMs, came back: the refusal would be here soon. */
  pingAnswered(): void {
    if (!this.held || this.closed) return;
    clearTimeout(this.holdTimer);
    this.holdTimer = setTimeout(() => this.released(), HOLD_MARGIN_MS);
    this.holdTimer.unref();
  }

  /** No refusal came: the port took the connection. Held bytes go out. */
  released(): void {
    if (this.closed) return;
    clearTimeout(this.holdTimer);
    const held = this.held;
    this.held = undefined;
    this.session.accepted(this.port);
    this.ev.established?.();
    if (!held) return;
    for (let i = 0; i < held.frames.length; i++) {
      this.sentData = true;
      this.session.send(held.frames[i]!, held.done[i]);
    }
    if (held.fin) this.session.send(dataFrame(this.dataId, FLAG_FIN, EMPTY));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onData(error: boolean, piece: Buffer): void {
    if (this.closed) return;
    if (error) this.errorText += piece.toString('utf8');
    else {
      this.answered = true;
      if (this.held) this.released(); // the pod spoke first: it took the connection
      this.ev.data(piece);
    }
  }

  /** The kubelet finished (FIN) or reset one of the two streams; the pair ends when both have. */
  remoteDone(error: boolean, reset = false): void {
    if (error) this.errorDone = true;
    else this.dataDone = true;
    if (reset) this.reset = true;
    // A reset data stream means the pod side is gone: do not wait for the error stream's FIN.
    if ((this.dataDone && this.errorDone) || (reset && !error)) this.finish(this.errorText || undefined);
  }

  finish(error?: string): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.holdTimer);
    for (const done of this.held?.done ?? []) done();
    this.held = undefined;
    // Ended on the kubelet's side: reset ours at once, so nothing we send later reaches a stream
    // that nobody reads (a no-op once the session has ended).
    if (!this.sentRst) this.sendRst();
    if (error?.trim() && this.sentData) this.session.retire();
    this.session.forget(this);
    this.window.close();
    this.ev.close(error?.trim() ? error : this.reset && !this.dataDone ? 'the kubelet reset the stream' : undefined);
  }

  write(chunk: Buffer): boolean {
    if (this.closed) return false;
    for (let at = 0; at < chunk.length; at += 0xffffff) {
      const frame = dataFrame(this.dataId, 0, chunk.subarray(at, at + 0xffffff));
      const done = this.window.add(frame.length);
      if (this.held) {
        this.held.frames.push(frame);
        this.held.done.push(done);
      } else {
        this.sentData = true;
        this.session.send(frame, done);
      }
    }
    return this.window.open;
  }

  onDrain(f: () => void): void {
    this.window.onDrain(f);
  }

  pause(): void {
    if (!this.closed) this.session.setPaused(this, true);
  }

  resume(): void {
    this.session.setPaused(this, false);
  }

  /** The client half-closed: FIN on our data stream (the kubelet closes its write side to the pod). */
  end(): void {
    if (this.closed || this.sentFin) return;
    this.sentFin = true;
    if (this.held) this.held.fin = true;
    else this.session.send(dataFrame(this.dataId, FLAG_FIN, EMPTY));
  }

  /** Our side is done: reset both streams (the kubelet closes its connection to the pod). */
  close(): void {
    if (this.closed) return;
    this.sendRst();
    this.finish();
  }

  private sendRst(): void {
    this.sentRst = true;
    this.session.send(Buffer.concat([rstFrame(this.dataId), rstFrame(this.errorId)]));
  }
}
