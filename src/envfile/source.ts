// Reading env-file text safely: only regular files (never a FIFO, a device or /proc), at most
// MAX_SOURCE_BYTES, strict UTF-8 (a BOM is skipped). No byte of a refused file is ever returned
// or put in a message: a hostile load() must learn nothing about files it may not read.
import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** Env files are small programs; anything bigger is a mistake or an attack. */
export const MAX_SOURCE_BYTES = 2 * 1024 * 1024;

/** Why a file could not be read; `why` is safe to print (it never holds file content). */
export class SourceReadError extends Error {
  constructor(
    readonly why: string,
    readonly code: 'missing' | 'not-regular' | 'too-large' | 'unreadable',
  ) {
    super(why);
    this.name = 'SourceReadError';
  }
}

/** Undecodable bytes: `offset` is the byte offset of the first bad byte in the file. */
export class InvalidUtf8Error extends Error {
  constructor(
    readonly offset: number,
    /** The text decoded before the bad byte, to compute a line and column. */
    readonly before: string,
  ) {
    super(`invalid UTF-8 at byte offset ${offset}`);
    this.name = 'InvalidUtf8Error';
  }
}

function kindOf(st: import('node:fs').Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads `path` as env-file text. The file is opened without blocking (a FIFO never hangs) and
 * checked through its descriptor, so it cannot be swapped between the check and the read.
 */
export function readSourceFile(path: string): string {
  // Kernel pseudo-files look regular but hold the state of processes and devices.
  if (/^\/(proc|sys|dev)(\/|$)/.test(path)) throw new SourceReadError('is a kernel pseudo-file, not an env file', 'not-regular');
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | (constants.O_NOCTTY ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new SourceReadError('no such file', 'missing');
    if (code === 'EISDIR') throw new SourceReadError('is a directory', 'not-regular');
    if (code === 'EACCES' || code === 'EPERM') throw new SourceReadError('permission denied', 'unreadable');
    if (code === 'ENXIO') throw new SourceReadError('is a socket or a device', 'not-regular');
    throw new SourceReadError(`cannot open (${code ?? 'error'})`, 'unreadable');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SourceReadError(`is ${kindOf(st)}, not a regular file`, 'not-regular');
    if (st.size > MAX_SOURCE_BYTES) throw tooLarge();
    // Read to the end, but never more than the cap (the size can change while reading).
    const buf = Buffer.allocUnsafe(Math.min(MAX_SOURCE_BYTES + 1, Math.max(st.size, 4096) + 1));
    let n = 0;
    for (;;) {
      if (n === buf.length) {
        if (n > MAX_SOURCE_BYTES) throw tooLarge();
        break;
      }
      let r: number;
      try {
        r = readSync(fd, buf, n, buf.length - n, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') break;
        throw new SourceReadError(`cannot read (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'unreadable');
      }
      if (r === 0) break;
      n += r;
    }
    if (n > MAX_SOURCE_BYTES) throw tooLarge();
    const bytes = buf.subarray(0, n);
    // Text has no NUL bytes; a file with one is binary (or /proc/self/environ): show none of it.
    const nul = bytes.indexOf(0);
    if (nul >= 0) throw new SourceReadError(`is not a text file (a NUL byte at byte offset ${nul})`, 'not-regular');
    return decodeSource(bytes);
  } finally {
    closeSync(fd);
  }
}

function tooLarge(): SourceReadError {
  return new SourceReadError(`is larger than ${MAX_SOURCE_BYTES / (1024 * 1024)} MiB, the limit for an env file`, 'too-large');
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Strict UTF-8 → text; a leading BOM is skipped. Throws InvalidUtf8Error naming the first bad byte. */
export function decodeSource(bytes: Uint8Array): string {
  let start = 0;
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  const body = bytes.subarray(start);
  try {
    return decoder.decode(body);
  } catch {
    const bad = firstInvalidUtf8(body);
    throw new InvalidUtf8Error(start + bad, new TextDecoder().decode(body.subarray(0, bad)));
  }
}

/** The offset of the first byte that does not start or continue a valid UTF-8 sequence. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let len: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) (len = 2), (min = 0x80);
    else if (c >= 0xe0 && c <= 0xef) (len = 3), (min = 0x800);
    else if (c >= 0xf0 && c <= 0xf4) (len = 4), (min = 0x10000);
    else return i;
    if (i + len > n) return i;
    let cp = c & (0xff >> (len + 1));
    for (let k = 1; k < len; k++) {
      const d = b[i + k]!;
      if ((d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += len;
  }
  return n;
}
