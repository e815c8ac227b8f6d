// One SPDY/3.1 session to one pod, over one WebSocket: the stream pairs of every forwarded
// connection to that pod, the PINGs that tell a stalled session, the idle close.
//
// Kubernetes 1.31 (KEP-4006, feature gate PortForwardWebsockets, beta and on by default) carries
// a port-forward as `kubectl port-forward` does: asking for the WebSocket subprotocol
// "SPDY/3.1+portforward.k8s.io" makes the API server open a SPDY/3.1 connection to the kubelet and
// carry its bytes, unchanged, in binary WebSocket messages. Each forwarded connection is then a
// pair of SPDY streams in that session (an error stream and a data stream, tied by a `requestid`
// header) — no WebSocket, TLS, authentication or kubelet connection per connection, only two
// SYN_STREAM frames, which go out together with the client's first bytes.
//
// What we implement of SPDY/3.1 is what a port-forward client needs (frames.ts): SYN_STREAM
// (sent), DATA (both ways), RST_STREAM, PING (answered), GOAWAY, FIN flags; SYN_REPLY, HEADERS,
// SETTINGS and WINDOW_UPDATE are read and ignored.
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
// new session with the bytes they had sent (connection.ts).
//
// Flow control: the kubelet's SPDY implementation (moby/spdystream) has no per-stream windows, so
// a local socket that stops reading can only be answered by pausing the whole session (kubectl
// behaves the same). To make that rare, a multiplexed stream lets its local socket buffer up to
// PAUSE_AT bytes before it pauses the session (stream.ts).
import type { KubeClient } from '../client.js';
import { openWebSocket, type TunnelEvents } from './tunnel.js';
import { WsLink, type WsLinkEvents } from './wslink.js';
import { PooledReads } from './readpool.js';
import { openSpdyUpgrade, RawLink } from './upgrade.js';

/** What carries a session's frames: a WebSocket (the tunnel) or the upgraded connection itself. */
type Link = Pick<WsLink, 'send' | 'ping' | 'pause' | 'resume' | 'close'>;
import { dataFrame, FLAG_FIN, FrameDecoder, GOAWAY, HEADERS, PING, pingFrame, RST_STREAM, SYN_REPLY, synStreamFrame, type FrameItem } from './frames.js';
import { SpdyStream, type StreamSession } from './stream.js';

export const PROTOCOL = 'SPDY/3.1+portforward.k8s.io';
/**
 * A session with no stream is closed after this long: longer than the slowest probe schedule
 * (30 s, probe/scheduler.ts), so an idle forward's probes reuse the session instead of opening a
 * new WebSocket through the API server each time.
 */
const IDLE_MS = 45_000;
const PING_EVERY_MS = 30_000;
/** A PING of ours not answered within this long: the session stopped carrying bytes. */
const PING_TIMEOUT_MS = 2000;
/** A new stream on a session that has heard nothing for this long checks it with a PING. */
const SILENT_MS = 2000;

/** One SPDY session (one WebSocket) to one pod. */
export class SpdySession implements StreamSession {
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
  private readonly decoder = new FrameDecoder();

  private readonly link: Link;

  /** `direct`: on an upgraded SPDY connection, not the WebSocket tunnel. */
  private constructor(makeLink: (ev: WsLinkEvents) => Link, readonly direct = false) {
    this.link = makeLink({
      bytes: (b) => this.onBytes(b),
      closed: (why) => this.end(why ? `port-forward session: ${why}` : 'the port-forward session to the API server closed'),
    });
    this.pinger = setInterval(() => this.link.ping(), PING_EVERY_MS);
    this.pinger.unref();
    this.armIdle();
  }

  /**
   * A session over the WebSocket tunnel, or `direct`ly on an upgraded SPDY connection (servers
   * without the tunnel: upgrade.ts).
   */
  static async open(client: KubeClient, t: { namespace: string; pod: string }, direct = false): Promise<SpdySession> {
    const path = `/api/v1/namespaces/${encodeURIComponent(t.namespace)}/pods/${encodeURIComponent(t.pod)}/portforward`;
    if (direct) {
      const reads = new PooledReads();
      const sock = await openSpdyUpgrade(client, path, undefined, reads);
      return new SpdySession((ev) => new RawLink(sock, ev, reads), true);
    }
    const reads = new PooledReads();
    const opened = await openWebSocket(client, path, PROTOCOL, undefined, reads);
    if (opened.protocol !== PROTOCOL) {
      opened.ws.terminate();
      throw new Error(`the API server answered the port-forward tunnel with subprotocol "${opened.protocol}"`);
    }
    return new SpdySession((ev) => new WsLink(opened.socket, opened.ws, ev, reads));
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
      dataFrame(errorId, undefined, true),
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
    return pingFrame(id);
  }

  send(frame: Buffer | Buffer[], done?: () => void): void {
    if (this.ended) return done?.();
    // Not coalesced with other streams' frames of the same event-loop turn: measured, the wait
    // for the end of the turn cost more requests/s than the fewer writes gained.
    this.link.send(Array.isArray(frame) ? frame : [frame], done);
  }

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
    if (now && !was) this.link.pause();
    else if (!now && was) this.link.resume();
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
    this.closeSocket();
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
    this.closeSocket();
  }

  private closeSocket(): void {
    this.link.close();
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

  /** SYN_STREAM; the session's first header block starts the shared zlib stream. */
  private synStream(id: number, headers: [string, string][]): Buffer {
    const first = !this.headerBlockStarted;
    this.headerBlockStarted = true;
    return synStreamFrame(id, headers, first);
  }

  /** Frames from the byte stream; a DATA payload is passed on in the pieces it arrives in. */
  private onBytes(b: Buffer): void {
    this.lastHeard = Date.now();
    for (const item of this.decoder.push(b)) this.onItem(item);
  }

  private onItem(f: FrameItem): void {
    const half = this.streams.get(f.id);
    if (f.kind === 'data') {
      half?.s.onData(half.error, f.piece);
      return;
    }
    if (f.kind === 'data-end') {
      if (f.fin && half) half.s.remoteDone(half.error);
      return;
    }
    switch (f.type) {
      case SYN_REPLY:
      case HEADERS:
        if (half && f.flags & FLAG_FIN) half.s.remoteDone(half.error);
        break;
      case RST_STREAM:
        if (half) half.s.remoteDone(half.error, true);
        break;
      case PING:
        if (f.id % 2 === 0) this.send(Buffer.concat([f.head, f.payload])); // the server's: echo
        else {
          const p = this.pings.get(f.id);
          this.pings.delete(f.id);
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
