// The universe: builtins available in every file.

import { cutText, safeText } from '../errors.js';
import { Bytes, hashBytes, toBytes, utf8Transcode } from './bytes.js';
import { EvalError, nearest } from './errors.js';
import { methodsOf, updateDict } from './methods.js';
import { checkSize, floatToInt } from './ops.js';
import { codePointsOf, encodeRune, fromText, toText } from './text.js';
import { noArgs, unpackArgs } from './unpack.js';
import {
  Builtin, compare, quoted, describeValue, iterElems, Range, StringIter, repr, spend, StarDict, StarFunction, StarList, StarSet, str, Struct,
  truthy, Tuple, typeName, type CallInfo, type Value,
} from './values.js';

function iterable(fn: string, v: Value, call: CallInfo): readonly Value[] {
  const elems = iterElems(v, call.thread.maxAlloc);
  if (!elems) {
    throw new EvalError(
      `${fn}: got ${typeName(v)}, want iterable${typeof v === 'string' ? ' (not iterable: string)' : ''}`,
      typeof v === 'string' ? 'strings are not iterable; use s.elems() for the characters' : undefined,
    );
  }
  return elems;
}

/** The attribute names of a value (fields of a struct, methods of a string/list/dict). */
export function attrNames(v: Value): string[] {
  if (v instanceof Struct) return [...v.fields.keys()];
  const table = methodsOf(v);
  return table ? Object.keys(table) : [];
}

function parseIntString(fn: string, s: string, baseArg: Value | undefined): bigint {
  let base = baseArg === undefined ? 10 : Number(baseArg);
  let t = s.trim().replace(/_/g, '');
  let sign = 1n;
  if (t.startsWith('-') || t.startsWith('+')) {
    if (t[0] === '-') sign = -1n;
    t = t.slice(1);
  }
  const prefixes: Record<string, number> = { '0x': 16, '0o': 8, '0b': 2 };
  const p = t.slice(0, 2).toLowerCase();
  if (prefixes[p] !== undefined && (base === 0 || base === prefixes[p])) {
    base = prefixes[p]!;
    t = t.slice(2);
  } else if (base === 0) {
    if (t.length > 1 && t[0] === '0') throw new EvalError(`${fn}: invalid literal with base 0: ${safeText(s)}`);
    base = 10;
  }
  const digits = '0123456789abcdefghijklmnopqrstuvwxyz'.slice(0, base);
  if (t.length === 0 || t.length > 10000 || ![...t.toLowerCase()].every((c) => digits.includes(c))) {
    throw new EvalError(`${fn}: invalid literal with base ${baseArg === undefined ? 10 : baseArg}: ${safeText(s)}`);
  }
  spend(Math.ceil((t.length * t.length) / 50000)); // parsing digits is quadratic
  let r = 0n;
  const B = BigInt(base);
  if (base === 10) r = BigInt(t);
  else for (const c of t.toLowerCase()) r = r * B + BigInt(digits.indexOf(c));
  return sign * r;
}

function minmax(name: string, call: CallInfo, args: Value[], kwargs: [string, Value][], sign: number): Value {
  let key: Value | undefined;
  let def: Value | undefined;
  for (const [k, v] of kwargs) {
    if (k === 'key') key = v;
    else if (k === 'default') def = v;
    else throw new EvalError(`${name}: unexpected keyword argument "${cutText(k)}"${nearest(k, ['key', 'default'])}`);
  }
  if (args.length === 0) throw new EvalError(`${name} requires at least one positional argument`);
  const elems = args.length === 1 ? iterElems(args[0]!, call.thread.maxAlloc) : args;
  if (!elems) throw new EvalError(`${name}: ${typeName(args[0]!)} value is not iterable`);
  if (elems.length === 0) {
    if (def !== undefined) return def;
    throw new EvalError(`${name}: argument is an empty sequence`);
  }
  let best = elems[0]!;
  let bestKey = key !== undefined && key !== null ? call.thread.call(key, [best], [], call.pos) : best;
  for (let i = 1; i < elems.length; i++) {
    const e = elems[i]!;
    const k = key !== undefined && key !== null ? call.thread.call(key, [e], [], call.pos) : e;
    if (compare(k, bestKey) * sign > 0) {
      best = e;
      bestKey = k;
    }
  }
  return best;
}

function toFloatValue(v: Value): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') {
    const f = Number(v);
    if (!Number.isFinite(f)) throw new EvalError('float: int too large to convert to float');
    return f;
  }
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const t = v.trim().toLowerCase();
    if (/^[+-]?(inf|infinity)$/.test(t)) return t.startsWith('-') ? -Infinity : Infinity;
    if (/^[+-]?nan$/.test(t)) return NaN;
    // Unambiguous (no backtracking on a long run of digits that is not a float after all).
    if (/^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?$/.test(t.replace(/_/g, ''))) {
      const f = Number(t.replace(/_/g, ''));
      if (!Number.isFinite(f)) throw new EvalError('float: floating-point number too large');
      return f;
    }
    throw new EvalError(`float: invalid float literal: ${safeText(v)}`);
  }
  throw new EvalError(`float: got ${typeName(v)}, want number or string`);
}

const defs: Record<string, (call: CallInfo, args: Value[], kwargs: [string, Value][]) => Value> = {
  abs: (_c, args, kwargs) => {
    const x = unpackArgs('abs', args, kwargs, ['x']).x!;
    if (typeof x === 'bigint') return x < 0n ? -x : x;
    if (typeof x === 'number') return Math.abs(x);
    throw new EvalError(`abs: got ${typeName(x)}, want int or float`);
  },
  all: (c, args, kwargs) => iterable('all', unpackArgs('all', args, kwargs, ['x']).x!, c).every(truthy),
  any: (c, args, kwargs) => iterable('any', unpackArgs('any', args, kwargs, ['x']).x!, c).some(truthy),
  bool: (_c, args, kwargs) => {
    const x = unpackArgs('bool', args, kwargs, ['x?']).x;
    return x === undefined ? false : truthy(x);
  },
  bytes: (c, args, kwargs) => toBytes(unpackArgs('bytes', args, kwargs, ['x']).x!, c.thread.maxAlloc),
  chr: (_c, args, kwargs) => {
    const i = unpackArgs('chr', args, kwargs, ['i']).i!;
    if (typeof i !== 'bigint') throw new EvalError(`chr: got ${typeName(i)}, want int`);
    if (i < 0n) throw new EvalError(`chr: Unicode code point ${quoted(i)} out of range (<0)`);
    if (i > 0x10ffffn) throw new EvalError(`chr: Unicode code point U+${cutText(i.toString(16).toUpperCase())} out of range (>0x10FFFF)`);
    return encodeRune(Number(i));
  },
  dict: (c, args, kwargs) => {
    if (args.length > 1) throw new EvalError(`dict: got ${args.length} arguments, want at most 1`);
    const d = new StarDict();
    if (args.length === 1) updateDict('dict', d, args[0]!, c.thread.maxAlloc);
    for (const [k, v] of kwargs) d.set(fromText(k), v);
    return d;
  },
  dir: (_c, args, kwargs) => new StarList(attrNames(unpackArgs('dir', args, kwargs, ['x']).x!).sort()),
  enumerate: (c, args, kwargs) => {
    const a = unpackArgs('enumerate', args, kwargs, ['x', 'start?']);
    let i = a.start === undefined ? 0n : a.start;
    if (typeof i !== 'bigint') throw new EvalError(`enumerate: start must be an int, got ${describeValue(i)}`);
    const out: Value[] = [];
    const elems = iterable('enumerate', a.x!, c);
    spend(elems.length * 3); // a tuple and an int per element
    for (const e of elems) out.push(new Tuple([i++, e]));
    return new StarList(out);
  },
  fail: (_c, args, kwargs) => {
    let sep = ' ';
    for (const [k, v] of kwargs) {
      if (k !== 'sep') throw new EvalError(`fail: unexpected keyword argument "${k}"`);
      if (typeof v !== 'string') throw new EvalError(`fail: sep must be a string, got ${describeValue(v)}`);
      sep = v;
    }
    throw new EvalError(`fail: ${args.map(str).join(sep)}`);
  },
  float: (_c, args, kwargs) => {
    const x = unpackArgs('float', args, kwargs, ['x?']).x;
    return x === undefined ? 0 : toFloatValue(x);
  },
  getattr: (c, args, kwargs) => {
    const a = unpackArgs('getattr', args, kwargs, ['x', 'name', 'default?']);
    if (typeof a.name !== 'string') throw new EvalError(`getattr: name must be a string, got ${describeValue(a.name!)}`);
    const v = c.thread.getAttr(a.x!, toText(a.name), c.pos, a.default === undefined);
    return v === undefined ? a.default! : v;
  },
  hasattr: (c, args, kwargs) => {
    const a = unpackArgs('hasattr', args, kwargs, ['x', 'name']);
    if (typeof a.name !== 'string') throw new EvalError(`hasattr: name must be a string, got ${describeValue(a.name!)}`);
    return c.thread.getAttr(a.x!, toText(a.name), c.pos, false) !== undefined;
  },
  // As in starlark-go: java.lang.String.hashCode over the UTF-16 text, so it is stable everywhere.
  hash: (_c, args, kwargs) => {
    const x = unpackArgs('hash', args, kwargs, ['x']).x!;
    if (x instanceof Bytes) return hashBytes(x.s);
    if (typeof x !== 'string') throw new EvalError(`hash: got ${typeName(x)}, want string`);
    let h = 0;
    // Java's String.hashCode, over UTF-16 code units as starlark-go.
    const t = toText(x);
    for (let i = 0; i < t.length; i++) h = (Math.imul(h, 31) + t.charCodeAt(i)) | 0;
    return BigInt(h);
  },
  int: (_c, args, kwargs) => {
    const a = unpackArgs('int', args, kwargs, ['x', 'base?']);
    const x = a.x!;
    if (a.base !== undefined) {
      if (typeof x !== 'string') throw new EvalError('int: can\'t convert non-string with explicit base');
      const b = a.base;
      if (typeof b !== 'bigint' || (b !== 0n && (b < 2n || b > 36n))) throw new EvalError('int: base must be an int in 2..36 or 0');
      return parseIntString('int', x, b);
    }
    if (typeof x === 'bigint') return x;
    if (typeof x === 'boolean') return x ? 1n : 0n;
    if (typeof x === 'number') return floatToInt(x);
    if (typeof x === 'string') return parseIntString('int', x, undefined);
    throw new EvalError(`int: got ${describeValue(x)}, want a number or a string`);
  },
  len: (_c, args, kwargs) => {
    const x = args.length === 1 && kwargs.length === 0 ? args[0]! : unpackArgs('len', args, kwargs, ['x']).x!;
    if (typeof x === 'string') return BigInt(x.length);
    if (x instanceof Bytes) return BigInt(x.s.length);
    if (x instanceof StarList || x instanceof Tuple) return BigInt(x.elems.length);
    if (x instanceof StarDict || x instanceof StarSet) return BigInt(x.size);
    if (x instanceof Range || (x instanceof StringIter && !x.codepoints)) return BigInt(x.length);
    throw new EvalError(`len: value of type ${typeName(x)} has no len`);
  },
  list: (c, args, kwargs) => {
    const x = unpackArgs('list', args, kwargs, ['x?']).x;
    return new StarList(x === undefined ? [] : iterable('list', x, c).slice());
  },
  max: (c, args, kwargs) => minmax('max', c, args, kwargs, 1),
  min: (c, args, kwargs) => minmax('min', c, args, kwargs, -1),
  ord: (_c, args, kwargs) => {
    const s = unpackArgs('ord', args, kwargs, ['s']).s!;
    if (s instanceof Bytes) {
      if (s.s.length !== 1) throw new EvalError(`ord: bytes has length ${s.s.length}, want 1`);
      return BigInt(s.s.charCodeAt(0));
    }
    if (typeof s !== 'string') throw new EvalError(`ord: got ${typeName(s)}, want string`);
    // A string of one UTF-8 character (an invalid byte counts as one U+FFFD), as starlark-go.
    const cps = s.length <= 4 ? codePointsOf(s) : [];
    if (cps.length !== 1) throw new EvalError(`ord: string encodes ${s.length > 4 ? codePointsOf(s).length : cps.length} Unicode code points, want 1`);
    return BigInt(cps[0]!.cp);
  },
  print: (c, args, kwargs) => {
    let sep = ' ';
    for (const [k, v] of kwargs) {
      if (k !== 'sep') throw new EvalError(`print: unexpected keyword argument "${cutText(k)}"${nearest(k, ['sep'])}`);
      if (typeof v !== 'string') throw new EvalError(`print: sep must be a string, got ${describeValue(v)}`);
      sep = v;
    }
    const msg = args.map(str).join(sep);
    if (msg.length > 1024) checkSize(c.thread, msg.length, 'printed message');
    c.thread.host.print(toText(msg), c.pos);
    return null;
  },
  range: (_c, args, kwargs) => {
    if (kwargs.length > 0) throw new EvalError('range: unexpected keyword arguments');
    if (args.length < 1 || args.length > 3) throw new EvalError(`range: got ${args.length} arguments, want 1 to 3`);
    for (const a of args) {
      if (typeof a !== 'bigint') throw new EvalError(`range: got ${describeValue(a)}, want int`);
      if (a > 0x7fffffffn || a < -0x80000000n) throw new EvalError(`range: ${quoted(a)} out of range (want value in signed 32-bit range)`);
    }
    const [a, b, s] = args as bigint[];
    if (s === 0n) throw new EvalError('range: step argument must not be zero');
    return args.length === 1 ? new Range(0n, a!, 1n) : new Range(a!, b!, s ?? 1n);
  },
  repr: (_c, args, kwargs) => repr(unpackArgs('repr', args, kwargs, ['x']).x!),
  reversed: (c, args, kwargs) => new StarList(iterable('reversed', unpackArgs('reversed', args, kwargs, ['sequence']).sequence!, c).slice().reverse()),
  set: (c, args, kwargs) => {
    if (kwargs.length > 0) throw new EvalError('set: does not accept keyword arguments');
    if (args.length > 1) throw new EvalError(`set: got ${args.length} arguments, want at most 1`);
    return args.length === 0 ? new StarSet() : StarSet.of(iterable('set', args[0]!, c));
  },
  sorted: (c, args, kwargs) => {
    const a = unpackArgs('sorted', args, kwargs, ['iterable', 'key?', 'reverse?']);
    const elems = iterElems(a.iterable!, c.thread.maxAlloc)?.slice();
    if (!elems) throw new EvalError(`sorted: for parameter iterable: got ${typeName(a.iterable!)}, want iterable`);
    spend(elems.length * Math.ceil(Math.log2(elems.length + 1)));
    const reverse = a.reverse === undefined ? false : truthy(a.reverse);
    const key = a.key;
    if (key !== undefined && !isCallable(key)) throw new EvalError(`sorted: for parameter key: got ${typeName(key)}, want callable`);
    // As starlark-go: an unordered pair does not stop the sort; the last such error is reported.
    let failure: unknown;
    const cmp = (x: Value, y: Value): number => {
      try {
        return reverse ? compare(y, x) : compare(x, y);
      } catch (err) {
        failure = err;
        return 0;
      }
    };
    let out: Value[];
    if (key !== undefined) {
      const keyed = elems.map((e) => ({ k: c.thread.call(key, [e], [], c.pos), e }));
      keyed.sort((x, y) => cmp(x.k, y.k));
      out = keyed.map((x) => x.e);
    } else {
      out = elems.sort(cmp);
    }
    if (failure !== undefined) throw failure;
    return new StarList(out);
  },
  str: (_c, args, kwargs) => {
    const x = unpackArgs('str', args, kwargs, ['x?']).x;
    // str(bytes) decodes UTF-8 (invalid bytes as U+FFFD); `%s` and print show them as b"...".
    return x === undefined ? '' : x instanceof Bytes ? utf8Transcode(x.s) : str(x);
  },
  tuple: (c, args, kwargs) => {
    const x = unpackArgs('tuple', args, kwargs, ['x?']).x;
    if (x instanceof Tuple) return x;
    return new Tuple(x === undefined ? [] : iterable('tuple', x, c).slice());
  },
  type: (_c, args, kwargs) => typeName(unpackArgs('type', args, kwargs, ['x']).x!),
  zip: (c, args, kwargs) => {
    noArgs('zip', [], kwargs);
    const seqs = args.map((a, i) => {
      const elems = iterElems(a, c.thread.maxAlloc);
      if (!elems) throw new EvalError(`zip: argument #${i + 1} is not iterable: ${typeName(a)}`);
      return elems;
    });
    const n = seqs.length === 0 ? 0 : Math.min(...seqs.map((s) => s.length));
    const out: Value[] = [];
    spend(n * (2 + seqs.length));
    for (let i = 0; i < n; i++) out.push(new Tuple(seqs.map((s) => s[i]!)));
    return new StarList(out);
  },
};

/** The universe builtins by name. */
export const UNIVERSE: ReadonlyMap<string, Value> = new Map(Object.entries(defs).map(([name, impl]) => [name, new Builtin(name, impl)]));

/** True if `v` can be called. */
export function isCallable(v: Value): boolean {
  return v instanceof StarFunction || v instanceof Builtin;
}
