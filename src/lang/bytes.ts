// The bytes type of starlark-go: an immutable byte string, `b"..."`. It shares the string's
// representation (one JS char per byte, see text.ts), so length, indexing and slicing are the
// string code's; what differs is the type (bytes and strings never mix), the literal's escapes
// (\x and octal may be any byte), repr (`b"..."`), str() (UTF-8 decoded, invalid bytes as U+FFFD)
// and hash (32-bit FNV-1a). Here: the value class and the operations that are bytes-only.

import { EvalError } from './errors.js';
import { codePointsOf, encodeRune } from './text.js';
// values.ts imports this module too: the cycle is safe as neither uses the other at load time.
import { iterElems, quoted, typeName, type Value } from './values.js';

export class Bytes {
  constructor(readonly s: string) {}
}

/** Valid UTF-8 for `s`: each invalid byte becomes U+FFFD (str(bytes), bytes(string)). */
export function utf8Transcode(s: string): string {
  // The fast path: ASCII or already valid, as most text is.
  if (!/[\x80-\xff]/.test(s)) return s;
  let out = '';
  for (const r of codePointsOf(s)) out += r.end - r.start === 1 && r.cp === 0xfffd && s.charCodeAt(r.start) >= 0x80 ? encodeRune(0xfffd) : s.slice(r.start, r.end);
  return out;
}

/** hash(b): 32-bit FNV-1a over the bytes, as starlark-go. */
export function hashBytes(s: string): bigint {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return BigInt(h);
}

/** bytes(x): from a string (UTF-8, invalid bytes as U+FFFD), bytes, or an iterable of ints 0-255. */
export function toBytes(x: Value, maxLen: number): Bytes {
  if (x instanceof Bytes) return x;
  if (typeof x === 'string') return new Bytes(utf8Transcode(x));
  const elems = iterElems(x, maxLen);
  if (elems === undefined) throw new EvalError(`bytes: got ${typeName(x)}, want string, bytes, or iterable of ints`);
  let out = '';
  elems.forEach((e, i) => {
    if (typeof e !== 'bigint') throw new EvalError(`bytes: at index ${i}, got ${typeName(e)}, want int`);
    if (e < 0n || e > 255n) throw new EvalError(`bytes: at index ${i}, ${quoted(e)} out of range (want value in unsigned 8-bit range)`);
    out += String.fromCharCode(Number(e));
  });
  return new Bytes(out);
}

/** `needle in b`: a bytes substring, or an int byte value. */
export function bytesContains(b: Bytes, needle: Value): boolean {
  if (needle instanceof Bytes) return b.s.includes(needle.s);
  if (typeof needle === 'bigint') {
    if (needle < 0n || needle > 255n) throw new EvalError(`int in bytes: ${quoted(needle)} out of range`);
    return b.s.includes(String.fromCharCode(Number(needle)));
  }
  throw new EvalError(`'in bytes' requires bytes or int as left operand, not ${typeName(needle)}`);
}
