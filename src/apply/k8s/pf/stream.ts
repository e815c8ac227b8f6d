// One forwarded connection on a multiplexed SPDY session: its data stream and its error stream.
// It holds the client's bytes until the refusal window passed (for a port not yet known to
// accept), resets both streams as soon as the kubelet ends one, and asks the session to retire
// when the kubelet reports an error on a stream we had sent bytes on (the rules: session.ts).
import { SendWindow, type PortStream, type TunnelEvents } from './tunnel.js';
import { dataFrame, dataHeader, MAX_DATA, rstFrame } from './frames.js';
import { headroom } from './readpool.js';

/** A local socket may hold this much of the pod's data before the session is paused for it. */
const PAUSE_AT = 1 << 20;
/** A held stream sends this long after its PING came back (the kubelet dials in a goroutine of its own). */
const HOLD_MARGIN_MS = 25;

/** What a stream needs of its session. */
export interface StreamSession {
  /** Queues a frame (in parts: header, payload) on the WebSocket; `done` runs once it is handed to the socket. */
  send(frame: Buffer | Buffer[], done?: () => void): void;
  /** A stream to `port` was taken by the pod: later streams to it need not wait. */
  accepted(port: number): void;
  /** The kubelet reported an error on a stream we had sent bytes on: no new streams here. */
  retire(): void;
  /** The stream pair is done with on our side. */
  forget(s: SpdyStream): void;
  setPaused(s: SpdyStream, paused: boolean): void;
}

export class SpdyStream implements PortStream {
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
  /** Client bytes (and a FIN) held until the refusal window passed; see session.ts. */
  private held?: { frames: Buffer[][]; done: (() => void)[]; fin: boolean };
  private holdTimer?: NodeJS.Timeout;
  /** The pod's side sent bytes. */
  private answered = false;

  constructor(
    private readonly session: StreamSession,
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
    if (held.fin) this.session.send(dataFrame(this.dataId, undefined, true));
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

  write(chunk: Buffer, release?: () => void): boolean {
    if (this.closed) {
      release?.();
      return false;
    }
    if (chunk.length <= MAX_DATA && headroom(chunk) >= 8) {
      // A pooled read (readpool.ts): the DATA header goes into the room in front of it, and the
      // frame is one buffer (the link may put its own header in front of that).
      const frame = Buffer.from(chunk.buffer, chunk.byteOffset - 8, chunk.length + 8);
      frame.writeUInt32BE(this.dataId, 0);
      frame.writeUInt32BE(chunk.length, 4);
      const done = this.window.add(frame.length);
      this.queue([frame], () => {
        done();
        release!();
      });
      return this.window.open;
    }
    for (let at = 0; at < chunk.length; at += MAX_DATA) {
      const payload = chunk.length <= MAX_DATA ? chunk : chunk.subarray(at, at + MAX_DATA);
      const done = this.window.add(8 + payload.length);
      const last = at + MAX_DATA >= chunk.length;
      this.queue([dataHeader(this.dataId, payload.length), payload], last && release ? () => (done(), release()) : done);
    }
    return this.window.open;
  }

  /** A DATA frame to send, or to hold while the stream is held. */
  private queue(frame: Buffer[], done: () => void): void {
    if (this.held) {
      this.held.frames.push(frame);
      this.held.done.push(done);
    } else {
      this.sentData = true;
      this.session.send(frame, done);
    }
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
    else this.session.send(dataFrame(this.dataId, undefined, true));
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
