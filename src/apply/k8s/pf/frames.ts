// SPDY/3.1 frames as a port-forward client needs them, as a pure encoder and a streaming decoder
// (no sockets, no timers): SYN_STREAM, DATA, RST_STREAM, PING and GOAWAY are written; any frame
// is read, a DATA payload in the pieces it arrives in.
//
// Header blocks must be zlib streams shared across the session; ours are written as *stored*
// (uncompressed) deflate blocks, each followed by the empty block of a sync flush, which every
// inflater accepts, so no compressor state is needed (only whether the zlib header went out
// yet); the headers the kubelet sends back carry nothing we use and are left undecoded.

// SPDY/3 frame types and flags.
export const SYN_STREAM = 1;
export const SYN_REPLY = 2;
export const RST_STREAM = 3;
export const PING = 6;
export const GOAWAY = 7;
export const HEADERS = 8;
export const FLAG_FIN = 1;
export const RST_CANCEL = 5;
/** The largest DATA payload one frame can carry (a 24-bit length). */
export const MAX_DATA = 0xffffff;

const EMPTY = Buffer.alloc(0);

/** A control frame's 8-byte header: control bit, version 3, `type`, flags 0, `length`. */
function control(type: number, length: number): Buffer {
  const f = Buffer.alloc(8 + length);
  f.writeUInt16BE(0x8003, 0);
  f.writeUInt16BE(type, 2);
  f.writeUInt32BE(length, 4);
  return f;
}

/**
 * SYN_STREAM for stream `id` with its header block as a stored deflate block; `first` (the
 * session's first header block) puts the zlib header in front.
 */
export function synStreamFrame(id: number, headers: [string, string][], first: boolean): Buffer {
  let n = 4;
  for (const [k, v] of headers) n += 8 + Buffer.byteLength(k) + Buffer.byteLength(v);
  const zhead = first ? 2 : 0;
  const f = control(SYN_STREAM, 10 + zhead + 5 + n + 5); // flags 0
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

/** DATA on stream `id` (payload up to MAX_DATA bytes); `fin` ends our side of the stream. */
export function dataFrame(id: number, payload: Buffer = EMPTY, fin = false): Buffer {
  const f = Buffer.allocUnsafe(8 + payload.length);
  f.writeUInt32BE(id, 0);
  f.writeUInt32BE((((fin ? FLAG_FIN : 0) << 24) | payload.length) >>> 0, 4);
  payload.copy(f, 8);
  return f;
}

/**
 * The 8-byte header of a DATA frame of `length` payload bytes, to be written just ahead of the
 * payload (no copy of the payload into a frame).
 */
export function dataHeader(id: number, length: number, fin = false): Buffer {
  const f = Buffer.allocUnsafe(8);
  f.writeUInt32BE(id, 0);
  f.writeUInt32BE((((fin ? FLAG_FIN : 0) << 24) | length) >>> 0, 4);
  return f;
}

/** RST_STREAM of stream `id` with status CANCEL. */
export function rstFrame(id: number): Buffer {
  const f = control(RST_STREAM, 8);
  f.writeUInt32BE(id, 8);
  f.writeUInt32BE(RST_CANCEL, 12);
  return f;
}

/** PING with `id` (a client's are odd; a server's, echoed back, even). */
export function pingFrame(id: number): Buffer {
  const f = control(PING, 4);
  f.writeUInt32BE(id, 8);
  return f;
}

/** GOAWAY naming the last stream we took from the peer, status OK. */
export function goAwayFrame(lastId: number): Buffer {
  const f = control(GOAWAY, 8);
  f.writeUInt32BE(lastId, 8);
  return f;
}

/** What the decoder reads, in order. */
export type FrameItem =
  /** A piece of a DATA frame's payload, as it arrived. */
  | { kind: 'data'; id: number; piece: Buffer }
  /** A DATA frame is complete (after its pieces; a frame with no payload has none). */
  | { kind: 'data-end'; id: number; fin: boolean }
  /**
   * A complete control frame; `id` is its first word's 31 bits (the stream id for SYN_REPLY,
   * HEADERS and RST_STREAM, the id of a PING, the last stream of a GOAWAY) or 0 if it has none.
   * `head` is a copy of its 8-byte header.
   */
  | { kind: 'control'; type: number; flags: number; id: number; payload: Buffer; head: Buffer };

/** Reads frames from a byte stream that arrives in pieces of any size. */
export class FrameDecoder {
  // An 8-byte header collected in `head`, then `left` payload bytes.
  private readonly head = Buffer.alloc(8);
  private headHave = 0;
  private left = 0;
  private data?: { id: number; fin: boolean };
  private control?: { type: number; flags: number; buf: Buffer; at: number };

  /** The items `b` completes, in order. */
  push(b: Buffer): FrameItem[] {
    const out: FrameItem[] = [];
    let i = 0;
    while (i < b.length) {
      if (this.left === 0) {
        const n = Math.min(8 - this.headHave, b.length - i);
        b.copy(this.head, this.headHave, i, i + n);
        this.headHave += n;
        i += n;
        if (this.headHave < 8) break;
        this.headHave = 0;
        this.startFrame(out);
        continue;
      }
      const n = Math.min(this.left, b.length - i);
      const piece = b.subarray(i, i + n);
      i += n;
      this.left -= n;
      if (this.data) out.push({ kind: 'data', id: this.data.id, piece });
      else if (this.control) {
        piece.copy(this.control.buf, this.control.at);
        this.control.at += n;
      }
      if (this.left === 0) this.endFrame(out);
    }
    return out;
  }

  private startFrame(out: FrameItem[]): void {
    const h = this.head;
    const flags = h[4]!;
    const length = h.readUInt32BE(4) & 0xffffff;
    if (h[0]! & 0x80) {
      this.data = undefined;
      this.control = { type: h.readUInt16BE(2), flags, buf: Buffer.allocUnsafe(length), at: 0 };
    } else {
      this.control = undefined;
      this.data = { id: h.readUInt32BE(0) & 0x7fffffff, fin: (flags & FLAG_FIN) !== 0 };
    }
    this.left = length;
    if (length === 0) this.endFrame(out);
  }

  private endFrame(out: FrameItem[]): void {
    if (this.data) {
      out.push({ kind: 'data-end', ...this.data });
      this.data = undefined;
      return;
    }
    const c = this.control!;
    this.control = undefined;
    const id = c.buf.length >= 4 ? c.buf.readUInt32BE(0) & 0x7fffffff : 0;
    out.push({ kind: 'control', type: c.type, flags: c.flags, id, payload: c.buf, head: Buffer.from(this.head) });
  }
}
