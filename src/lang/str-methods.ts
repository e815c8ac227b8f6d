// The string methods (find, split, strip, format, ...), on byte strings as starlark-go has them.

import { EvalError } from './errors.js';
import { checkSize } from './ops.js';
import { codePointsOf, fromText, isAscii, toText } from './text.js';
import { noArgs, unpackArgs } from './unpack.js';
import {
  iterElems, repr, spend, spendChars, StarList, str, StringIter, Tuple, typeName, type CallInfo, type Value,
} from './values.js';
import { strArg, optStrArg, intArg, table, type KW, type MethodImpl } from './method-table.js';

/** Resolves optional start/end arguments like Python's str.find. */
function span(fn: string, s: string, start: Value | undefined, end: Value | undefined): [number, number] {
  const n = s.length;
  let a = intArg(fn, 'start', start, 0);
  let b = intArg(fn, 'end', end, n);
  if (a < 0) a = Math.max(0, a + n);
  if (b < 0) b = Math.max(0, b + n);
  return [Math.min(a, n), Math.min(b, n)];
}

const WS = ' \t\n\r\v\f';

/** ASCII whitespace: in a byte string, chars 0x80-0xFF are parts of UTF-8 sequences. */
function isWS(c: string): boolean {
  return c === ' ' || (c >= '\t' && c <= '\r');
}

/** Unicode whitespace, as Go's unicode.IsSpace (JS's \s less U+FEFF, plus U+0085), for JS text. */
function isUniWS(c: string): boolean {
  return c !== '\ufeff' && /[\s\u0085]/.test(c);
}

/** A non-ASCII byte string that is valid UTF-8 is handled as text for Unicode whitespace. */
function asText(s: string): boolean {
  if (isAscii(s)) return false;
  // Decoding, checking and re-encoding: charged as scans of the string.
  spendChars(4 * s.length);
  return fromText(toText(s)) === s;
}

function stripChars(s: string, chars: string | undefined, left: boolean, right: boolean, ws = isWS): string {
  // As in starlark-go, strip("") strips whitespace, like strip().
  if (chars === '') chars = undefined;
  if (chars === undefined && ws === isWS && asText(s)) return fromText(stripChars(toText(s), undefined, left, right, isUniWS));
  if (chars !== undefined && !isAscii(chars)) {
    // A cut set with non-ASCII characters is a set of code points, not of bytes.
    const cut = new Set(codePointsOf(chars).map((r) => r.cp));
    const runes = codePointsOf(s);
    let a = 0;
    let b = runes.length;
    if (left) while (a < b && cut.has(runes[a]!.cp)) a++;
    if (right) while (b > a && cut.has(runes[b - 1]!.cp)) b--;
    return a === b ? '' : s.slice(runes[a]!.start, runes[b - 1]!.end);
  }
  const set = chars ?? WS;
  let a = 0;
  let b = s.length;
  if (left) while (a < b && (chars === undefined ? ws(s[a]!) : set.includes(s[a]!))) a++;
  if (right) while (b > a && (chars === undefined ? ws(s[b - 1]!) : set.includes(s[b - 1]!))) b--;
  return s.slice(a, b);
}

function splitWS(s: string, maxsplit: number, ws = isWS): string[] {
  const out: string[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    while (i < n && ws(s[i]!)) i++;
    if (i >= n) break;
    if (maxsplit >= 0 && out.length === maxsplit) {
      out.push(s.slice(i));
      return out;
    }
    let j = i;
    while (j < n && !ws(s[j]!)) j++;
    out.push(s.slice(i, j));
    i = j;
  }
  return out;
}

function rsplitWS(s: string, maxsplit: number, ws = isWS): string[] {
  const out: string[] = [];
  let j = s.length;
  while (j > 0) {
    while (j > 0 && ws(s[j - 1]!)) j--;
    if (j <= 0) break;
    if (maxsplit >= 0 && out.length === maxsplit) {
      out.push(s.slice(0, j));
      break;
    }
    let i = j;
    while (i > 0 && !ws(s[i - 1]!)) i--;
    out.push(s.slice(i, j));
    j = i;
  }
  return out.reverse();
}

function split(fn: string, s: string, args: Value[], kwargs: KW, fromRight: boolean): Value {
  const a = unpackArgs(fn, args, kwargs, ['sep?', 'maxsplit?']);
  const sep = optStrArg(fn, 'sep', a.sep);
  const max = intArg(fn, 'maxsplit', a.maxsplit, -1);
  let parts: string[];
  if (sep === undefined && asText(s)) parts = (fromRight ? rsplitWS : splitWS)(toText(s), max, isUniWS).map(fromText);
  else if (sep === undefined) parts = fromRight ? rsplitWS(s, max) : splitWS(s, max);
  else {
    if (sep === '') throw new EvalError(`${fn}: empty separator`);
    if (max < 0) parts = s.split(sep);
    else if (!fromRight) {
      parts = [];
      let i = 0;
      while (parts.length < max) {
        const k = s.indexOf(sep, i);
        if (k < 0) break;
        parts.push(s.slice(i, k));
        i = k + sep.length;
      }
      parts.push(s.slice(i));
    } else {
      parts = [];
      let j = s.length;
      while (parts.length < max) {
        const k = s.lastIndexOf(sep, j - sep.length);
        if (k < 0 || j - sep.length < 0) break;
        parts.push(s.slice(k + sep.length, j));
        j = k;
      }
      parts.push(s.slice(0, j));
      parts.reverse();
    }
  }
  spend(parts.length);
  return new StarList(parts);
}

function affix(fn: string, s: string, args: Value[], kwargs: KW, ends: boolean): Value {
  const a = unpackArgs(fn, args, kwargs, ['prefix', 'start?', 'end?']);
  const [lo, hi] = span(fn, s, a.start, a.end);
  const sub = s.slice(lo, hi);
  const what = ends ? 'suffix' : 'prefix';
  const test = (p: Value, i: number): boolean => {
    if (typeof p !== 'string') {
      // starlark-go's words: "got int, want string" / "got int, for element 0".
      throw new EvalError(`${fn}: ${what} must be a string or a tuple of strings: got ${typeName(p)}${i < 0 ? ', want string' : `, for element ${i}`}`);
    }
    return ends ? sub.endsWith(p) : sub.startsWith(p);
  };
  if (a.prefix instanceof Tuple) return a.prefix.elems.some(test);
  return test(a.prefix!, -1);
}

function find(fn: string, s: string, args: Value[], kwargs: KW, last: boolean, orFail: boolean): Value {
  const a = unpackArgs(fn, args, kwargs, ['sub', 'start?', 'end?']);
  const sub = strArg(fn, 'sub', a.sub);
  const [lo, hi] = span(fn, s, a.start, a.end);
  let k = -1;
  if (hi - lo >= sub.length) {
    if (last) {
      k = s.lastIndexOf(sub, hi - sub.length);
      if (k < lo) k = -1;
    } else {
      k = s.indexOf(sub, lo);
      if (k + sub.length > hi) k = -1;
    }
  }
  if (k < 0 && orFail) throw new EvalError(`${fn}: substring not found`);
  return BigInt(k);
}

/** The title case of a letter: the upper case, except for the digraphs that have their own (ǅ, ǈ, ǋ, ǲ). */
function toTitle(l: string): string {
  const c = l.charCodeAt(0);
  if (c >= 0x1c4 && c <= 0x1cc) return String.fromCharCode(0x1c5 + 3 * Math.floor((c - 0x1c4) / 3));
  if (c >= 0x1f1 && c <= 0x1f3) return '\u01f2';
  return l.toUpperCase();
}

/** Applies a Unicode-aware text function to a byte string (ASCII needs no conversion). */
function onText(s: string, f: (t: string) => string): string {
  if (isAscii(s)) return f(s);
  spendChars(4 * s.length); // decoding and re-encoding
  return fromText(f(toText(s)));
}

function isPred(fn: string, re: RegExp, needCased = false) {
  return (_c: CallInfo, s: string, args: Value[], kwargs: KW): Value => {
    noArgs(fn, args, kwargs);
    if (s.length === 0) return false;
    const t = toText(s);
    if (needCased && !/[A-Za-z\p{L}]/u.test(t)) return false;
    return re.test(t);
  };
}

// ---- str.format ----

function format(call: CallInfo, s: string, args: Value[], kwargs: KW): Value {
  let out = '';
  let auto = 0;
  let mode: 'none' | 'auto' | 'manual' = 'none';
  const n = s.length;
  let i = 0;
  while (i < n) {
    const c = s[i]!;
    if (c === '}') {
      if (s[i + 1] === '}') {
        out += '}';
        i += 2;
        continue;
      }
      throw new EvalError(`format: single '}' in format string`);
    }
    if (c !== '{') {
      const k = s.slice(i).search(/[{}]/);
      const end = k < 0 ? n : i + k;
      out += s.slice(i, end);
      i = end;
      continue;
    }
    if (s[i + 1] === '{') {
      out += '{';
      i += 2;
      continue;
    }
    const close = s.indexOf('}', i);
    if (close < 0) throw new EvalError(`format: unmatched '{' in format string`);
    let field = s.slice(i + 1, close);
    i = close + 1;
    if (field.includes('{')) throw new EvalError('format: nested replacement fields not supported');
    let conv = 's';
    const colon = field.indexOf(':');
    const bang0 = field.indexOf('!');
    if (bang0 >= 0 && (colon < 0 || bang0 < colon)) {
      const c = field.slice(bang0 + 1, colon < 0 ? undefined : colon);
      if (c !== 's' && c !== 'r') throw new EvalError(`format: unknown conversion "!${c}"`);
    }
    if (colon >= 0) {
      throw new EvalError(`format: format spec ${JSON.stringify(field.slice(colon))} is not supported`, 'format the value first, e.g. with "%5.2f" % x');
    }
    const bang = field.indexOf('!');
    if (bang >= 0) {
      conv = field.slice(bang + 1);
      field = field.slice(0, bang);
      if (conv !== 's' && conv !== 'r') throw new EvalError(`format: unknown conversion "!${conv}"`);
    }
    let v: Value | undefined;
    if (field === '') {
      if (mode === 'manual') throw new EvalError('format: cannot switch from manual field numbering to automatic');
      mode = 'auto';
      if (auto >= args.length) throw new EvalError(`format: index ${auto} out of range: got ${args.length} positional argument${args.length === 1 ? '' : 's'} (tuple index out of range)`);
      v = args[auto++];
    } else if (/^\d+$/.test(field)) {
      if (mode === 'auto') throw new EvalError('format: cannot switch from automatic field numbering to manual');
      mode = 'manual';
      const k = Number(field);
      if (k >= args.length) throw new EvalError(`format: index ${k} out of range: got ${args.length} positional argument${args.length === 1 ? '' : 's'} (tuple index out of range)`);
      v = args[k];
    } else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(field)) {
      const kv = kwargs.find(([k]) => k === field);
      if (!kv) throw new EvalError(`format: keyword ${field} not found`);
      v = kv[1];
    } else {
      // starlark-go's words for each kind of unsupported field.
      const why = field.includes('.') ? 'syntax x.y is not supported' : field.includes('[') ? 'syntax a[i] is not supported' : `keyword ${field} not found`;
      throw new EvalError(`format: unsupported field ${JSON.stringify(field)}: ${why}`, 'fields are {}, {0} or {name}');
    }
    out += conv === 'r' ? repr(v!) : str(v!);
    if (out.length > call.thread.maxAlloc) checkSize(call.thread, out.length, 'formatted string');
  }
  if (out.length > 1024) checkSize(call.thread, out.length, 'formatted string');
  return out;
}

export const stringMethods: Record<string, MethodImpl> = table({
  capitalize: (_c, s: string, a, k) => (noArgs('capitalize', a, k), onText(s, (t) => (t.length ? String.fromCodePoint(t.codePointAt(0)!).toUpperCase() + t.slice(String.fromCodePoint(t.codePointAt(0)!).length).toLowerCase() : t))),
  count: (_c, s: string, args, kwargs) => {
    const a = unpackArgs('count', args, kwargs, ['sub', 'start?', 'end?']);
    const sub = strArg('count', 'sub', a.sub);
    const [lo, hi] = span('count', s, a.start, a.end);
    const t = s.slice(lo, hi);
    // As Go's strings.Count: the empty string occurs once per character, plus one.
    if (sub === '') return BigInt((isAscii(t) ? t.length : codePointsOf(t).length) + 1);
    let n = 0;
    for (let i = t.indexOf(sub); i >= 0; i = t.indexOf(sub, i + sub.length)) n++;
    return BigInt(n);
  },
  codepoint_ords: (_c, s: string, a, k) => (noArgs('codepoint_ords', a, k), new StringIter(s, true, true)),
  codepoints: (_c, s: string, a, k) => (noArgs('codepoints', a, k), new StringIter(s, true, false)),
  elem_ords: (_c, s: string, a, k) => (noArgs('elem_ords', a, k), new StringIter(s, false, true)),
  elems: (_c, s: string, a, k) => (noArgs('elems', a, k), new StringIter(s, false, false)),
  endswith: (_c, s, a, k) => affix('endswith', s, a, k, true),
  find: (_c, s, a, k) => find('find', s, a, k, false, false),
  format,
  index: (_c, s, a, k) => find('index', s, a, k, false, true),
  isalnum: isPred('isalnum', /^[\p{L}\p{N}]+$/u),
  isalpha: isPred('isalpha', /^\p{L}+$/u),
  isdigit: isPred('isdigit', /^\p{Nd}+$/u),
  islower: isPred('islower', /^[^\p{Lu}\p{Lt}]+$/u, true),
  isspace: isPred('isspace', /^\s+$/),
  istitle: (_c, s: string, a, k) => {
    // As starlark-go (after Python): uppercase only after uncased characters, lowercase only after cased ones.
    noArgs('istitle', a, k);
    let cased = false;
    let prevCased = false;
    for (const ch of toText(s)) {
      if ((ch >= 'A' && ch <= 'Z') || /\p{Lt}/u.test(ch)) {
        if (prevCased) return false;
        prevCased = cased = true;
      } else if (/\p{Ll}/u.test(ch)) {
        if (!prevCased) return false;
        prevCased = cased = true;
      } else if (/\p{Lu}/u.test(ch)) return false;
      else prevCased = false;
    }
    return cased;
  },
  isupper: isPred('isupper', /^[^\p{Ll}\p{Lt}]+$/u, true),
  join: (call, s: string, args, kwargs) => {
    const a = unpackArgs('join', args, kwargs, ['iterable']);
    const elems = iterElems(a.iterable!, call.thread.maxAlloc);
    if (!elems) throw new EvalError(`join: got ${typeName(a.iterable!)}, want iterable`);
    let len = 0;
    for (let i = 0; i < elems.length; i++) {
      const e = elems[i];
      if (typeof e !== 'string') throw new EvalError(`join: in list, want string, got ${typeName(e!)} at index ${i}`);
      len += e.length + s.length;
    }
    if (len > 1024) checkSize(call.thread, len, 'joined string');
    return (elems as string[]).join(s);
  },
  lower: (_c, s: string, a, k) => (noArgs('lower', a, k), onText(s, (t) => t.toLowerCase())),
  lstrip: (_c, s: string, args, kwargs) => stripChars(s, optStrArg('lstrip', 'chars', unpackArgs('lstrip', args, kwargs, ['chars?']).chars), true, false),
  partition: (_c, s: string, args, kwargs) => {
    const sep = strArg('partition', 'sep', unpackArgs('partition', args, kwargs, ['sep']).sep);
    if (sep === '') throw new EvalError('partition: empty separator');
    const k = s.indexOf(sep);
    return k < 0 ? new Tuple([s, '', '']) : new Tuple([s.slice(0, k), sep, s.slice(k + sep.length)]);
  },
  removeprefix: (_c, s: string, args, kwargs) => {
    const p = strArg('removeprefix', 'prefix', unpackArgs('removeprefix', args, kwargs, ['prefix']).prefix);
    return s.startsWith(p) ? s.slice(p.length) : s;
  },
  removesuffix: (_c, s: string, args, kwargs) => {
    const p = strArg('removesuffix', 'suffix', unpackArgs('removesuffix', args, kwargs, ['suffix']).suffix);
    return p && s.endsWith(p) ? s.slice(0, s.length - p.length) : s;
  },
  replace: (call, s: string, args, kwargs) => {
    const a = unpackArgs('replace', args, kwargs, ['old', 'new', 'count?']);
    const old = strArg('replace', 'old', a.old);
    const neu = strArg('replace', 'new', a.new);
    const count = intArg('replace', 'count', a.count, -1);
    const parts = s.split(old);
    spend(parts.length * 2);
    const n = parts.length - 1;
    const k = count < 0 ? n : Math.min(count, n);
    const len = s.length + k * (neu.length - old.length);
    if (len > 1024) checkSize(call.thread, len, 'string');
    if (k === n) return parts.join(neu);
    if (old === '') {
      // Python inserts `new` before the first `count` characters.
      let out = '';
      for (let i = 0; i < k; i++) out += neu + (s[i] ?? '');
      return out + s.slice(k);
    }
    return parts.slice(0, k + 1).join(neu) + old + parts.slice(k + 1).join(old);
  },
  rfind: (_c, s, a, k) => find('rfind', s, a, k, true, false),
  rindex: (_c, s, a, k) => find('rindex', s, a, k, true, true),
  rpartition: (_c, s: string, args, kwargs) => {
    const sep = strArg('rpartition', 'sep', unpackArgs('rpartition', args, kwargs, ['sep']).sep);
    if (sep === '') throw new EvalError('rpartition: empty separator');
    const k = s.lastIndexOf(sep);
    return k < 0 ? new Tuple(['', '', s]) : new Tuple([s.slice(0, k), sep, s.slice(k + sep.length)]);
  },
  rsplit: (_c, s, a, k) => split('rsplit', s, a, k, true),
  rstrip: (_c, s: string, args, kwargs) => stripChars(s, optStrArg('rstrip', 'chars', unpackArgs('rstrip', args, kwargs, ['chars?']).chars), false, true),
  split: (_c, s, a, k) => split('split', s, a, k, false),
  splitlines: (_c, s: string, args, kwargs) => {
    const keep = unpackArgs('splitlines', args, kwargs, ['keepends?']).keepends;
    if (keep !== undefined && typeof keep !== 'boolean') throw new EvalError(`splitlines: for parameter keepends: got ${typeName(keep)}, want bool`);
    const lines = s.split(/(?<=\r\n|\n|\r)/);
    if (lines.length && lines[lines.length - 1] === '') lines.pop();
    return new StarList(keep === true ? lines : lines.map((l) => l.replace(/(\r\n|\n|\r)$/, '')));
  },
  startswith: (_c, s, a, k) => affix('startswith', s, a, k, false),
  strip: (_c, s: string, args, kwargs) => stripChars(s, optStrArg('strip', 'chars', unpackArgs('strip', args, kwargs, ['chars?']).chars), true, true),
  title: (_c, s: string, a, k) => (noArgs('title', a, k), onText(s, (t) => t.toLowerCase().replace(/(^|[^\p{L}])(\p{L})/gu, (_m, p: string, l: string) => p + toTitle(l)))),
  upper: (_c, s: string, a, k) => (noArgs('upper', a, k), onText(s, (t) => t.toUpperCase())),
});
