// The `%` string formatting (`"%d items" % n`, `"%s=%r" % (k, v)`), as starlark-go has it,
// and float → int truncation (shared with int()).

import { EvalError } from './errors.js';
import { codePointsOf, encodeRune } from './text.js';
import {
  quoted, formatFloat, repr, spend, StarDict, str, Tuple, typeName, type Value,
} from './values.js';
import { checkSize, type Budget } from './ops.js';

/** The int of a float, as starlark-go's int(): truncated; infinities and NaN are errors. */
export function floatToInt(f: number): bigint {
  if (Number.isNaN(f)) throw new EvalError('cannot convert float NaN to integer');
  if (!Number.isFinite(f)) throw new EvalError('cannot convert float infinity to integer');
  return BigInt(Math.trunc(f));
}

/** A float's exact decimal digits with `p` after the point (toFixed gives exponents from 1e21). */
function fixed(f: number, p: number): string {
  if (Math.abs(f) < 1e21) return f.toFixed(p);
  return BigInt(f).toString() + (p > 0 ? '.' + '0'.repeat(p) : '');
}

function formatNumber(conv: string, v: Value, prec: number | undefined): string {
  switch (conv) {
    case 'd':
    case 'i':
    case 'x':
    case 'X':
    case 'o': {
      // Floats are truncated, as starlark-go; bools are not numbers here.
      if (typeof v === 'boolean') throw new EvalError(`%${conv} format requires integer: cannot convert bool to int`);
      if (typeof v !== 'bigint' && typeof v !== 'number') break;
      const n = typeof v === 'number' ? floatToInt(v) : v;
      if (conv === 'd' || conv === 'i') return n.toString();
      const s = (n < 0n ? -n : n).toString(conv === 'o' ? 8 : 16);
      return (n < 0n ? '-' : '') + (conv === 'X' ? s.toUpperCase() : s);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      if (typeof v !== 'bigint' && typeof v !== 'number') break;
      const f = Number(v);
      if (!Number.isFinite(f)) return Number.isNaN(f) ? 'nan' : f > 0 ? '+inf' : '-inf';
      // %g without a precision: the shortest form, always a float (as str() and starlark-go).
      if ((conv === 'g' || conv === 'G') && prec === undefined) return conv === 'G' ? formatFloat(f).toUpperCase() : formatFloat(f);
      const p = Math.min(prec ?? 6, 100);
      let s: string;
      if (conv === 'f' || conv === 'F') s = fixed(f, p);
      else if (conv === 'e' || conv === 'E') s = expo(f.toExponential(p));
      else {
        const P = p === 0 ? 1 : p;
        const exp = f === 0 ? 0 : Math.floor(Math.log10(Math.abs(f)));
        if (exp < -4 || exp >= P) s = expo(f.toExponential(P - 1)).replace(/\.?0+e/, 'e');
        else s = f.toFixed(Math.max(0, P - 1 - exp)).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');
      }
      // JS drops the sign of -0 (Go keeps it).
      if (Object.is(f, -0) && !s.startsWith('-')) s = '-' + s;
      return conv === 'E' || conv === 'G' ? s.toUpperCase() : s;
    }
  }
  throw new EvalError(`%${conv} format requires ${'eEfFgG'.includes(conv) ? 'float' : 'integer'}, not ${typeName(v)}`);
}

function expo(s: string): string {
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** Python-style `format % args`. */
export function percentFormat(b: Budget, format: string, arg: Value): string {
  const args = arg instanceof Tuple ? arg.elems : [arg];
  let argi = 0;
  let out = '';
  let i = 0;
  const n = format.length;
  while (i < n) {
    const pct = format.indexOf('%', i);
    if (pct < 0) {
      out += format.slice(i);
      break;
    }
    out += format.slice(i, pct);
    i = pct + 1;
    if (i >= n) throw new EvalError('incomplete format');
    let value: Value | undefined;
    if (format[i] === '(') {
      const close = format.indexOf(')', i);
      if (close < 0) throw new EvalError('incomplete format key');
      if (!(arg instanceof StarDict)) throw new EvalError('format requires a mapping');
      const key = format.slice(i + 1, close);
      value = arg.get(key);
      if (value === undefined) throw new EvalError(`key ${quoted(key)} not in dict`);
      i = close + 1;
    }
    let flags = '';
    let width = 0;
    let prec: number | undefined;
    const c0 = format.charCodeAt(i);
    if (!(c0 >= 97 && c0 <= 122) && c0 !== 37) {
      // flags, width, precision (rare)
      const m = /^([-+ 0#]*)(\d*)(?:\.(\d+))?/.exec(format.slice(i, i + 20))!;
      flags = m[1]!;
      width = m[2] ? Math.min(Number(m[2]), 1000) : 0;
      prec = m[3] !== undefined ? Number(m[3]) : undefined;
      i += m[0].length;
    }
    if (i >= n) throw new EvalError('incomplete format');
    const conv = format[i++]!;
    if (conv === '%') {
      out += '%';
      continue;
    }
    if (value === undefined) {
      if (argi >= args.length) throw new EvalError('not enough arguments for format string');
      value = args[argi++]!;
    }
    let s: string;
    spend(2); // a conversion
    switch (conv) {
      case 's':
        s = str(value);
        if (prec !== undefined) s = s.slice(0, prec);
        break;
      case 'r':
        s = repr(value);
        if (prec !== undefined) s = s.slice(0, prec);
        break;
      case 'c':
        if (typeof value === 'string' && value.length <= 4 && codePointsOf(value).length === 1) s = value;
        else if (typeof value === 'bigint' && value >= 0n && value <= 0x10ffffn) s = encodeRune(Number(value));
        else if (typeof value === 'bigint') throw new EvalError(`%c requires a valid Unicode code point, got ${quoted(value)}`);
        else if (typeof value === 'string') throw new EvalError('%c format requires a single-character string');
        else throw new EvalError(`%c format requires int or single-character string, not ${typeName(value)}`);
        break;
      case 'd': case 'i': case 'x': case 'X': case 'o': case 'e': case 'E': case 'f': case 'F': case 'g': case 'G':
        s = formatNumber(conv, value, prec);
        if (flags.includes('+') && !s.startsWith('-')) s = '+' + s;
        else if (flags.includes(' ') && !s.startsWith('-')) s = ' ' + s;
        break;
      default:
        throw new EvalError(`unsupported format character ${JSON.stringify(conv)}`);
    }
    if (s.length < width) {
      if (flags.includes('-')) s = s.padEnd(width);
      else if (flags.includes('0') && conv !== 's' && conv !== 'r' && conv !== 'c') {
        const sign = /^[-+ ]/.test(s) ? s[0]! : '';
        s = sign + s.slice(sign.length).padStart(width - sign.length, '0');
      } else s = s.padStart(width);
    }
    out += s;
    if (out.length > b.maxAlloc) checkSize(b, out.length, 'formatted string');
  }
  if (out.length > 1024) checkSize(b, out.length, 'formatted string');
  if (argi < args.length && !(arg instanceof StarDict)) throw new EvalError('too many arguments for format string (not all arguments converted)');
  return out;
}
