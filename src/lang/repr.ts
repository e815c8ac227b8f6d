// Values as text: repr() and str(), string quoting and float formatting as starlark-go writes
// them. Part of the value model (values.ts re-exports them).

import { MAX_QUOTED, safeText } from '../errors.js';
import { EvalError } from './errors.js';
import { decodeRune, fromText, isAscii, toText } from './text.js';
import { Bytes } from './bytes.js';
import { Builtin, Range, StarDict, StarFunction, StarList, StarSet, StringIter, Struct, Tuple, spend, spendChars, typeName, type Value } from './values.js';

/**
 * Float text as starlark-go writes it (Go's %g with the shortest digits, always with a "." or an
 * exponent): "1.0", "0.1", "100000.0", "1e+06", "1.5e-07", "-0.0", "+inf", "nan".
 */
export function formatFloat(f: number): string {
  if (Number.isNaN(f)) return 'nan';
  if (!Number.isFinite(f)) return f > 0 ? '+inf' : '-inf';
  if (f === 0) return Object.is(f, -0) ? '-0.0' : '0.0';
  const [mant, e] = f.toExponential().split('e') as [string, string];
  const exp = Number(e);
  if (exp < -4 || exp >= 6) return `${mant}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  const s = String(f);
  return s.includes('.') ? s : s + '.0';
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;
const NOT_PRINTABLE = /[^\x20-\x7e\p{L}\p{M}\p{N}\p{P}\p{S}]/u;
const NAMED_ESCAPES: Record<number, string> = { 7: '\\a', 8: '\\b', 12: '\\f', 10: '\\n', 13: '\\r', 9: '\\t', 11: '\\v' };

/**
 * A byte string as a Starlark literal, as starlark-go's syntax.Quote: printable characters kept,
 * invalid UTF-8 bytes as \xNN, other non-printable characters escaped.
 */
export function quote(s: string): string {
  if (!isAscii(s)) {
    // Fast path (native code): valid UTF-8 whose characters are all printable keeps its bytes.
    // Decoding and re-encoding cost as much again as the scan its caller paid for.
    spendChars(s.length);
    const t = toText(s);
    if (!NOT_PRINTABLE.test(t) && fromText(t) === s) return '"' + s.replace(/["\\]/g, '\\$&') + '"';
    // The slow path decodes and escapes each character: charge for it.
    spend(2 * s.length);
  }
  let out = '"';
  let chunk = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 32 && c < 127 && c !== 34 && c !== 92) continue;
    let esc: string;
    let w = 1;
    if (c === 34) esc = '\\"';
    else if (c === 92) esc = '\\\\';
    else if (c < 128) esc = NAMED_ESCAPES[c] ?? '\\x' + c.toString(16).padStart(2, '0');
    else {
      const [cp, width] = decodeRune(s, i);
      if (cp < 0) esc = '\\x' + c.toString(16).padStart(2, '0');
      else {
        w = width;
        if (PRINTABLE.test(String.fromCodePoint(cp))) {
          i += w - 1;
          continue;
        }
        esc = cp < 0x10000 ? '\\u' + cp.toString(16).padStart(4, '0') : '\\U' + cp.toString(16).padStart(8, '0');
      }
    }
    out += s.slice(chunk, i) + esc;
    i += w - 1;
    chunk = i + 1;
  }
  return out + s.slice(chunk) + '"';
}

export function repr(v: Value): string {
  const parts: string[] = [];
  writeValue(parts, v, new Set(), 0);
  return parts.join('');
}

/** str(v): strings as themselves, everything else as repr. */
export function str(v: Value): string {
  return typeof v === 'string' ? v : repr(v);
}

function writeValue(out: string[], v: Value, seen: Set<object>, depth: number): void {
  switch (typeof v) {
    case 'string':
      spendChars(v.length);
      out.push(quote(v));
      return;
    case 'bigint': {
      // Decimal text of a big int is quadratic in its size.
      if (v > 1n << 1024n || v < -(1n << 1024n)) {
        const w = Math.ceil(v.toString(16).length / 16);
        spend(Math.ceil((w * w) / 64));
      }
      out.push(v.toString());
      return;
    }
    case 'number':
      out.push(formatFloat(v));
      return;
    case 'boolean':
      out.push(v ? 'True' : 'False');
      return;
  }
  if (v === null) {
    out.push('None');
    return;
  }
  if (depth > 200) throw new EvalError('value nested too deeply to print');
  if (v instanceof StarList || v instanceof Tuple) {
    const isList = v instanceof StarList;
    if (seen.has(v)) {
      out.push(isList ? '[...]' : '(...)');
      return;
    }
    seen.add(v);
    out.push(isList ? '[' : '(');
    const elems = v.elems;
    spend(elems.length * 3); // an element, its separator and its text
    for (let i = 0; i < elems.length; i++) {
      if (i > 0) out.push(', ');
      writeValue(out, elems[i]!, seen, depth + 1);
    }
    if (!isList && elems.length === 1) out.push(',');
    out.push(isList ? ']' : ')');
    seen.delete(v);
    return;
  }
  if (v instanceof StarDict) {
    if (seen.has(v)) {
      out.push('{...}');
      return;
    }
    seen.add(v);
    out.push('{');
    spend(v.size * 4);
    let first = true;
    for (const [k, val] of v.entries()) {
      if (!first) out.push(', ');
      first = false;
      writeValue(out, k, seen, depth + 1);
      out.push(': ');
      writeValue(out, val, seen, depth + 1);
    }
    out.push('}');
    seen.delete(v);
    return;
  }
  if (v instanceof StarSet) {
    if (seen.has(v)) {
      out.push('set(...)');
      return;
    }
    seen.add(v);
    out.push('set([');
    const elems = v.elems();
    spend(elems.length * 3);
    for (let i = 0; i < elems.length; i++) {
      if (i > 0) out.push(', ');
      writeValue(out, elems[i]!, seen, depth + 1);
    }
    out.push('])');
    seen.delete(v);
    return;
  }
  if (v instanceof Bytes) {
    spendChars(v.s.length);
    out.push('b' + quote(v.s));
    return;
  }
  if (v instanceof StringIter) {
    spendChars(v.s.length);
    out.push(`${v.bytes ? 'b' : ''}${quote(v.s)}.${v.method}()`);
    return;
  }
  if (v instanceof Range) {
    out.push(v.step === 1n ? (v.start === 0n ? `range(${v.stop})` : `range(${v.start}, ${v.stop})`) : `range(${v.start}, ${v.stop}, ${v.step})`);
    return;
  }
  if (v instanceof StarFunction) {
    out.push(`<function ${v.name}>`);
    return;
  }
  if (v instanceof Builtin) {
    out.push(v.recv !== undefined ? `<built-in method ${v.name} of ${typeName(v.recv)} value>` : `<built-in function ${v.name}>`);
    return;
  }
  if (v instanceof Struct) {
    out.push(`<struct ${v.name}>`);
    return;
  }
  out.push('<unknown>');
}

/** "<type> <repr>" with the repr shortened, for error messages: `string "8888"`. */
export function describeValue(v: Value): string {
  if (v === null) return 'None';
  return `${typeName(v)} ${quoted(v, 60)}`;
}

/** The repr of a value quoted in an error: secrets masked, then cut to `max` characters. */
export function quoted(v: Value, max = MAX_QUOTED): string {
  let r: string;
  try {
    r = repr(v);
  } catch {
    r = '...';
  }
  return safeText(r, max);
}
