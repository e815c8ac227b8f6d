// The forward's reads into reused buffers, on both sides: the local sockets (each read with room
// in front for the frame headers) and the API server's TLS socket.
//
// Measured (bench:k8s, bulk rows, docs/performance.md): Node gives every socket read a new
// ArrayBuffer (64 KiB from a local socket, 16 KiB per TLS record), which V8 counts as external
// memory; they drove 29-35 full mark-compacts per bulk bench on a 20 MB heap (2 with this pool),
// and half of the forward's CPU per GB. And a header written ahead of a payload made Node's TLS
// socket copy both into one new buffer (a write of several buffers is copied whole before it is
// encrypted). Here a local read lands at HEADROOM in a pooled buffer: the SPDY and WebSocket
// headers are written into the room in front of it, the frame goes out as one buffer, and the
// buffer comes back to the pool once it was written. A TLS read is handed on uncopied and reused
// once every local write holding part of it completed (retainRead).
//
// Node lets a socket read into buffers of our choosing (`onread`) only on a socket it creates:
// an accepted connection is moved onto such a socket (adopt), and tls.connect takes `onread`.
import net from 'node:net';

/** Room in front of each read: a WebSocket client frame header (at most 14) + a SPDY DATA header (8). */
export const HEADROOM = 24;
/** What one read may fill (what Node reads at a time anyway). */
const READ = 64 * 1024;
/** Read areas kept for reuse (beyond these, returned ones are left to the garbage collector). */
const KEEP = 64;

/** Buffers allocated so far, of each kind (bench:k8s prints them: the pool should stop growing). */
export const allocated = { areas: 0, records: 0 };
const free: Buffer[] = [];
/** The pool's memory: only a buffer of these has room that may be written in front of it. */
const ours = new WeakSet<ArrayBuffer>();

/** A read area: READ bytes, with HEADROOM bytes before it in the same memory. */
function take(): Buffer {
  const b = free.pop();
  if (b) return b;
  allocated.areas++;
  const whole = Buffer.allocUnsafeSlow(HEADROOM + READ);
  ours.add(whole.buffer as ArrayBuffer);
  return whole.subarray(HEADROOM);
}

function give(area: Buffer): void {
  if (free.length < KEEP) free.push(area);
}

/** Read areas of the API server's TLS sockets: one TLS record (16 KiB) is one read. */
const RECORD = 16 * 1024;
/**
 * Kept for reuse: a local socket may hold 1 MiB unsent before its session pauses (stream.ts's
 * PAUSE_AT), 64 records; measured, a bulk run had up to 69 out at once.
 */
const KEEP_RECORDS = 128;
const freeRecords: Buffer[] = [];

/** A pooled read being handed on, and how many holders its bytes have (it is reused at 0). */
interface Lent {
  area: Buffer;
  refs: number;
}
/** The read whose bytes are being handed on right now (synchronously, from its read callback). */
let dispatching: Lent | undefined;

function unref(l: Lent): void {
  if (--l.refs === 0 && freeRecords.length < KEEP_RECORDS) freeRecords.push(l.area);
}

/**
 * For a consumer that keeps bytes it was handed past the call (a socket write): if they are a
 * pooled read's, that read is not reused until the returned function is called. Undefined for
 * bytes that are not pooled (nothing to do).
 */
export function retainRead(): (() => void) | undefined {
  const l = dispatching;
  if (!l) return undefined;
  l.refs++;
  let done = false;
  return () => {
    if (done) return;
    done = true;
    unref(l);
  };
}

/**
 * Reads of a socket we dial (tls.connect's `onread`) into pooled buffers. Until `sink` is set,
 * copies of the bytes go the socket's ordinary way ('data' events: what the HTTP client of the
 * WebSocket upgrade reads); then `sink` gets them, uncopied: what it keeps past its call it
 * must retainRead().
 */
export class PooledReads {
  socket?: net.Socket;
  sink?: (b: Buffer) => void;
  readonly onread: net.OnReadOpts = {
    buffer: (): Buffer => freeRecords.pop() ?? (allocated.records++, Buffer.allocUnsafeSlow(RECORD)),
    callback: (n: number, area: Uint8Array): boolean => {
      const b = (area as Buffer).subarray(0, n);
      if (!this.sink) {
        // As Node would: buffered while the socket is paused (the upgrade's answer is read, the
        // WebSocket is paused until its owner takes over), emitted as 'data' while it flows.
        this.socket?.push(Buffer.from(b));
        if (freeRecords.length < KEEP_RECORDS) freeRecords.push(area as Buffer);
        return true;
      }
      const l: Lent = { area: area as Buffer, refs: 1 };
      dispatching = l;
      try {
        this.sink(b);
      } finally {
        dispatching = undefined;
        unref(l);
      }
      return true;
    },
  };
}

/**
 * How many bytes in front of `b` a writer may overwrite: the room of a read area when `b` starts
 * within it (a chunk of a read, or a frame built in that room), else 0.
 */
export function headroom(b: Buffer): number {
  return b.byteOffset <= HEADROOM && ours.has(b.buffer as ArrayBuffer) ? b.byteOffset : 0;
}

/**
 * Moves the accepted connection `shell` (from a server with `pauseOnConnect`) onto a socket that
 * reads into pooled buffers, and returns it. `onChunk` gets each read and a `release` to call
 * once nothing needs its bytes any more (they are not copied: until then the buffer is not
 * reused); returning false pauses the socket. Where Node's internals are not as expected, the
 * connection stays as it was (reads arrive as 'data' events).
 */
export function adopt(shell: net.Socket, onChunk: (chunk: Buffer, release: () => void) => boolean | void): net.Socket {
  const handle = (shell as unknown as { _handle?: { readStart?: unknown } })._handle;
  if (!handle || typeof handle.readStart !== 'function') {
    shell.resume();
    return shell;
  }
  // The shell lets go of the handle: destroying it then closes nothing (and the server's count
  // of connections goes down with it; the forwarder keeps its own).
  (shell as unknown as { _handle: unknown })._handle = null;
  shell.destroy();
  let current: Buffer | undefined;
  const sock = new net.Socket({
    handle,
    allowHalfOpen: true,
    readable: true,
    writable: true,
    onread: {
      // Called for the first read and again after each one: the next read's area.
      buffer: () => (current = take()),
      callback: (n: number, area: Uint8Array) => {
        const a = area as Buffer;
        current = undefined;
        return onChunk(a.subarray(0, n), () => give(a));
      },
    },
  } as net.SocketConstructorOpts);
  sock.once('close', () => {
    if (current) give(current);
    current = undefined;
  });
  return sock;
}
