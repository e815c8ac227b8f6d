// The WebSocket framing of a SPDY session's connection (RFC 6455, client side), on the socket `ws`
// upgraded. The SPDY tunnel needs no message boundaries — its WebSocket messages carry a byte
// stream — so what arrives is handed on in the pieces the socket reads, with no copy: ws's
// receiver joins a message that spans two reads (most of them: the API server's messages are TLS
// record sized, and the frame header shifts them) into a new buffer, and its sender wants the SPDY
// header and the payload in one buffer, another copy. Measured on the test cluster, those copies
// and the garbage they made were a third of the forward's CPU time per byte.
import type net from 'node:net';
import type WebSocket from 'ws';
import { headroom, type PooledReads } from './readpool.js';

const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;
const OP_PONG = 0xa;
/** Messages up to this size are written as one buffer (copied: cheaper than a corked write of several). */
const SMALL = 4096;

export interface WsLinkEvents {
  /** Bytes of the data messages, in order, in the pieces they arrived in. */
  bytes(b: Buffer): void;
  /** The connection ended; `why` unless it ended with a normal closing handshake. */
  closed(why?: string): void;
}

/** A client frame header for `len` payload bytes; the mask is zero (valid, and no XOR). */
function header(op: number, len: number, extra = 0): Buffer {
  const n = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const h = Buffer.allocUnsafe(n + 4 + extra);
  writeHeader(h, op, len);
  return h;
}

/** Writes the header of a final frame with `len` payload bytes at the start of `h`. */
function writeHeader(h: Buffer, op: number, len: number): void {
  const n = len < 126 ? 2 : len < 65536 ? 4 : 10;
  h[0] = 0x80 | op;
  if (n === 2) h[1] = 0x80 | len;
  else if (n === 4) {
    h[1] = 0x80 | 126;
    h.writeUInt16BE(len, 2);
  } else {
    h[1] = 0x80 | 127;
    h.writeUInt32BE(Math.floor(len / 2 ** 32), 2);
    h.writeUInt32BE(len >>> 0, 6);
  }
  h.writeUInt32BE(0, n); // the mask
}

export class WsLink {
  // Frame parsing state: the header collected in `head`, then `left` payload bytes.
  private readonly head = Buffer.alloc(14);
  private headHave = 0;
  private headNeed = 2;
  private left = 0;
  private op = 0;
  private control?: { buf: Buffer; at: number };
  private ended = false;
  private closeSent = false;
  private why?: string;

  /**
   * Takes `socket` over from `ws`, which did the upgrade and was left paused with nothing read
   * past the handshake (openWebSocket): ws's listeners come off, and `ws` is not used again.
   * `reads`: the socket's pooled reads, if it has them.
   */
  constructor(private readonly socket: net.Socket, ws: WebSocket, private readonly ev: WsLinkEvents, reads?: PooledReads) {
    for (const e of ['data', 'end', 'close', 'error'] as const) socket.removeAllListeners(e);
    ws.removeAllListeners();
    // What the upgrade read past the answer comes as 'data'; then, on a socket that reads into
    // pooled buffers, the reads themselves (their bytes are passed on uncopied: readpool.ts).
    socket.on('data', (b: Buffer) => this.onData(b));
    if (reads) reads.sink = (b) => this.onData(b);
    socket.on('end', () => this.socket.end());
    socket.on('error', (e) => {
      this.why ??= e.message;
      socket.destroy();
    });
    socket.on('close', () => this.finish());
    socket.resume();
  }

  get isOpen(): boolean {
    return !this.ended && !this.closeSent;
  }

  /**
   * One binary message of `parts` (written together: one TLS record run, one syscall); `done`
   * runs once they are handed to the socket.
   */
  send(parts: Buffer[], done?: () => void): void {
    if (!this.isOpen) return done?.();
    let len = 0;
    for (const p of parts) len += p.length;
    const s = this.socket;
    const only = parts.length === 1 ? parts[0]! : undefined;
    const hlen = len < 126 ? 6 : len < 65536 ? 8 : 14;
    if (only && len > SMALL && headroom(only) >= hlen) {
      // A frame built in a pooled read's room (readpool.ts): our header goes in front of it,
      // and the message is one buffer (a write of several is copied whole by Node's TLS socket).
      const m = Buffer.from(only.buffer, only.byteOffset - hlen, len + hlen);
      writeHeader(m, OP_BINARY, len);
      s.write(m, done && (() => done()));
      return;
    }
    // A small message (a request, the SPDY control frames) is copied into the header's buffer:
    // one write. Of a big one only the first part when it is small (a SPDY DATA header).
    const first = parts[0]!;
    const merged = len <= SMALL ? parts.length : first.length <= 64 ? 1 : 0;
    const h = header(OP_BINARY, len, merged === parts.length ? len : merged ? first.length : 0);
    let at = h.length - (merged === parts.length ? len : merged ? first.length : 0);
    for (let i = 0; i < merged; i++) at += parts[i]!.copy(h, at);
    if (merged === parts.length) {
      s.write(h, done && (() => done()));
      return;
    }
    const rest = merged;
    s.cork();
    s.write(h);
    for (let i = rest; i < parts.length - 1; i++) s.write(parts[i]!);
    s.write(parts[parts.length - 1]!, done && (() => done()));
    s.uncork();
  }

  ping(): void {
    if (this.isOpen) this.socket.write(header(OP_PING, 0));
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  /** Closing handshake (1000); the socket is destroyed if the server does not end it in 2 s. */
  close(): void {
    if (this.ended) return;
    this.sendClose(1000);
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private sendClose(code: number): void {
    if (this.closeSent) return;
    this.closeSent = true;
    const h = header(OP_CLOSE, 2, 2);
    h.writeUInt16BE(code, h.length - 2);
    this.socket.end(h);
  }

  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.ev.closed(this.why);
  }

  private fail(why: string): void {
    this.why ??= why;
    this.socket.destroy();
  }

  private onData(b: Buffer): void {
    let i = 0;
    while (i < b.length && !this.ended) {
      if (this.left === 0 && !this.control) {
        // Collect the header: 2 bytes, then the extended length.
        while (this.headHave < this.headNeed && i < b.length) {
          this.head[this.headHave++] = b[i++]!;
          if (this.headHave === 2) {
            if (this.head[1]! & 0x80) return this.fail('the API server sent a masked WebSocket frame');
            const l7 = this.head[1]! & 0x7f;
            this.headNeed = l7 === 126 ? 4 : l7 === 127 ? 10 : 2;
          }
        }
        if (this.headHave < this.headNeed) return;
        if (!this.startFrame()) return;
        continue;
      }
      if (this.control) {
        const c = this.control;
        const n = Math.min(c.buf.length - c.at, b.length - i);
        b.copy(c.buf, c.at, i, i + n);
        c.at += n;
        i += n;
        if (c.at === c.buf.length) {
          this.control = undefined;
          this.onControl(c.buf);
        }
        continue;
      }
      const n = Math.min(this.left, b.length - i);
      const piece = i === 0 && n === b.length ? b : b.subarray(i, i + n);
      i += n;
      this.left -= n;
      this.ev.bytes(piece);
    }
  }

  /** A frame header is complete; false when the connection is being failed. */
  private startFrame(): boolean {
    const h = this.head;
    const op = h[0]! & 0x0f;
    const l7 = h[1]! & 0x7f;
    const len = l7 === 126 ? h.readUInt16BE(2) : l7 === 127 ? h.readUInt32BE(2) * 2 ** 32 + h.readUInt32BE(6) : l7;
    this.headHave = 0;
    this.headNeed = 2;
    this.op = op;
    if (op >= 0x8) {
      if (len > 125) {
        this.fail('the API server sent an over-long WebSocket control frame');
        return false;
      }
      this.control = { buf: Buffer.allocUnsafe(len), at: 0 };
      if (len === 0) {
        this.control = undefined;
        this.onControl(Buffer.alloc(0));
      }
      return true;
    }
    if (op !== OP_BINARY && op !== OP_CONT && op !== OP_TEXT) {
      this.fail(`the API server sent a WebSocket frame with opcode ${op}`);
      return false;
    }
    this.left = len;
    return true;
  }

  private onControl(payload: Buffer): void {
    if (this.op === OP_PING) {
      if (this.isOpen) {
        const h = header(OP_PONG, payload.length, payload.length);
        payload.copy(h, h.length - payload.length);
        this.socket.write(h);
      }
    } else if (this.op === OP_CLOSE) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      if (code !== 1000 && code !== 1005) this.why ??= `the API server closed the WebSocket (${code}${payload.length > 2 ? `: ${payload.toString('utf8', 2)}` : ''})`;
      this.sendClose(code === 1005 ? 1000 : code);
    } // OP_PONG: nothing to do
  }
}
