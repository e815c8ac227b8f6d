// Operators on values: arithmetic, comparison, membership, indexing and slicing (the `%` string
// formatting is in percent.ts). All throw EvalError; the evaluator adds the position.

import { Bytes, bytesContains } from './bytes.js';
import { EvalError } from './errors.js';
import {
  compare, quoted, Struct, equals, Range, StringIter, spend, spendChars, StarDict, StarList, StarSet, Tuple, typeName, type Value,
} from './values.js';
import { percentFormat } from './percent.js';

export { floatToInt } from './percent.js';

/** Size limits and the allocation charge, implemented by Thread. */
export interface Budget {
  /** Maximum length of a string, list or tuple built by an operation. */
  readonly maxAlloc: number;
  /** Charges the step budget for building a value of `n` elements/characters. */
  charge(n: number): void;
}

/** Ints are capped at about this many bits (products and shifts beyond it fail). */
const MAX_INT_BITS = 100_000n;
const MAX_INT = 1n << MAX_INT_BITS;
const MIN_INT = -MAX_INT;

export function checkSize(b: Budget, n: number | bigint, what: string): void {
  if (n > b.maxAlloc) {
    const unit = what.includes('string') ? 'characters' : 'elements';
    throw new EvalError(`${what} too large: ${n} ${unit} (the limit is ${b.maxAlloc})`);
  }
  if (what.includes('string')) spendChars(Number(n));
  else b.charge(Number(n));
}

const SMALL_INT = 1n << 1024n;

/** The 64-bit words of a big int (1 for ints of up to 1024 bits: their arithmetic is cheap). */
export function intWords(x: bigint): number {
  const a = x < 0n ? -x : x;
  if (a < SMALL_INT) return 1;
  return Math.ceil(a.toString(16).length / 16);
}

/** Charges a product, quotient or remainder of big ints: quadratic in their sizes. */
function spendIntProduct(x: bigint, y: bigint): void {
  const wx = intWords(x);
  const wy = intWords(y);
  if (wx > 1 || wy > 1) spend(Math.ceil((wx * wy) / 256));
}

function bigResult(r: bigint): bigint {
  if (r > MAX_INT || r < MIN_INT) throw new EvalError('int too large');
  return r;
}

function toFloat(x: bigint | number): number {
  if (typeof x === 'number') return x;
  const f = Number(x);
  if (!Number.isFinite(f)) throw new EvalError('int too large to convert to float');
  return f;
}

function floorDiv(x: bigint, y: bigint): bigint {
  const q = x / y;
  return (x % y !== 0n && (x < 0n) !== (y < 0n)) ? q - 1n : q;
}

function floorMod(x: bigint, y: bigint): bigint {
  const m = x % y;
  return m !== 0n && (m < 0n) !== (y < 0n) ? m + y : m;
}

function floatMod(x: number, y: number): number {
  const m = x % y;
  return m !== 0 && (m < 0) !== (y < 0) ? m + y : m;
}

/** Refuses a repeat beyond the allocation limit, in starlark-go's words. */
function checkRepeat(b: Budget, len: number, n: bigint, what: string): void {
  if (n > 0x7fffffffn) throw new EvalError(`repeat count ${quoted(n)} too large`);
  if (BigInt(len) * n > b.maxAlloc) throw new EvalError(`excessive repeat (${len} * ${n} elements)`, `a repeated ${what} is at most ${b.maxAlloc} elements`);
  checkSize(b, BigInt(len) * n, `repeated ${what}`);
}

function repeat(b: Budget, seq: Value, n: bigint): Value {
  const count = n < 0n ? 0 : Number(n);
  if (seq instanceof Bytes) return new Bytes(repeat(b, seq.s, n) as string);
  if (typeof seq === 'string') {
    if (seq.length === 0 || count === 0) return '';
    checkRepeat(b, seq.length, n, 'string');
    return seq.repeat(count);
  }
  const elems = (seq as StarList | Tuple).elems;
  const out: Value[] = [];
  if (elems.length > 0 && count > 0) {
    checkRepeat(b, elems.length, n, typeName(seq));
    for (let i = 0; i < count; i++) for (const e of elems) out.push(e);
  }
  return seq instanceof StarList ? new StarList(out) : new Tuple(out);
}

function unknownOp(op: string, x: Value, y: Value): EvalError {
  return new EvalError(`unknown binary op: ${typeName(x)} ${op} ${typeName(y)}`);
}

/** Set algebra and subset comparisons: set op set. */
function setBinary(op: string, x: StarSet, y: StarSet): Value | undefined {
  switch (op) {
    case '|': {
      const out = StarSet.of(x.elems());
      for (const e of y.elems()) out.add(e);
      return out;
    }
    case '&':
      return StarSet.of(x.elems().filter((e) => y.has(e)));
    case '-':
      return StarSet.of(x.elems().filter((e) => !y.has(e)));
    case '^': {
      const out = StarSet.of(x.elems().filter((e) => !y.has(e)));
      for (const e of y.elems()) if (!x.has(e)) out.add(e);
      return out;
    }
    case '<=':
      return x.size <= y.size && x.elems().every((e) => y.has(e));
    case '>=':
      return y.size <= x.size && y.elems().every((e) => x.has(e));
    case '<':
      return x.size < y.size && x.elems().every((e) => y.has(e));
    case '>':
      return y.size < x.size && y.elems().every((e) => x.has(e));
  }
  return undefined;
}

/** x op y for every binary operator except `and`/`or` (which short-circuit). */
export function binary(b: Budget, op: string, x: Value, y: Value): Value {
  const tx = typeof x;
  const ty = typeof y;
  if (x instanceof StarSet && y instanceof StarSet) {
    const r = setBinary(op, x, y);
    if (r !== undefined) return r;
  }
  switch (op) {
    case '+':
      if (tx === 'bigint' && ty === 'bigint') return (x as bigint) + (y as bigint);
      if (tx === 'string' && ty === 'string') {
        const n = (x as string).length + (y as string).length;
        if (n > 1024) checkSize(b, n, 'string');
        return (x as string) + (y as string);
      }
      if ((tx === 'number' || tx === 'bigint') && (ty === 'number' || ty === 'bigint')) return toFloat(x as number) + toFloat(y as number);
      if (x instanceof StarList && y instanceof StarList) {
        const n = x.elems.length + y.elems.length;
        if (n > 1024) checkSize(b, n, 'list');
        return new StarList(x.elems.concat(y.elems));
      }
      if (x instanceof Bytes && y instanceof Bytes) return new Bytes(binary(b, op, x.s, y.s) as string);
      if (x instanceof Tuple && y instanceof Tuple) {
        const n = x.elems.length + y.elems.length;
        if (n > 1024) checkSize(b, n, 'tuple');
        return new Tuple(x.elems.concat(y.elems));
      }
      break;
    case '-':
      if (tx === 'bigint' && ty === 'bigint') return (x as bigint) - (y as bigint);
      if ((tx === 'number' || tx === 'bigint') && (ty === 'number' || ty === 'bigint')) return toFloat(x as number) - toFloat(y as number);
      break;
    case '*':
      if (tx === 'bigint' && ty === 'bigint') {
        spendIntProduct(x as bigint, y as bigint);
        return bigResult((x as bigint) * (y as bigint));
      }
      if ((tx === 'number' || tx === 'bigint') && (ty === 'number' || ty === 'bigint')) return toFloat(x as number) * toFloat(y as number);
      if (ty === 'bigint' && (tx === 'string' || x instanceof StarList || x instanceof Tuple || x instanceof Bytes)) return repeat(b, x, y as bigint);
      if (tx === 'bigint' && (ty === 'string' || y instanceof StarList || y instanceof Tuple || y instanceof Bytes)) return repeat(b, y, x as bigint);
      break;
    case '/':
      if ((tx === 'number' || tx === 'bigint') && (ty === 'number' || ty === 'bigint')) {
        const d = toFloat(y as number);
        if (d === 0) throw new EvalError('floating-point division by zero');
        return toFloat(x as number) / d;
      }
      break;
    case '//':
      if (tx === 'bigint' && ty === 'bigint') {
        if (y === 0n) throw new EvalError('floored division by zero');
        spendIntProduct(x as bigint, y as bigint);
        return floorDiv(x as bigint, y as bigint);
      }
      if ((tx === 'number' || tx === 'bigint') && (ty === 'number' || ty === 'bigint')) {
        const d = toFloat(y as number);
        if (d === 0) throw new EvalError('floored division by zero');
        return Math.floor(toFloat(x as number) / d);
      }
      break;
    case '%':
      if (tx === 'bigint' && ty === 'bigint') {
        if (y === 0n) throw new EvalError('integer modulo by zero');
        spendIntProduct(x as bigint, y as bigint);
        return floorMod(x as bigint, y as bigint);
      }
      if ((tx === 'number' || tx === 'bigint') && (ty === 'number' || ty === 'bigint')) {
        const d = toFloat(y as number);
        if (d === 0) throw new EvalError('floating-point modulo by zero');
        return floatMod(toFloat(x as number), d);
      }
      if (tx === 'string') return percentFormat(b, x as string, y);
      break;
    case '==':
      return equals(x, y);
    case '!=':
      return !equals(x, y);
    case '<':
      return compare(x, y) < 0;
    case '<=':
      return compare(x, y) <= 0;
    case '>':
      return compare(x, y) > 0;
    case '>=':
      return compare(x, y) >= 0;
    case 'in':
      return contains(y, x);
    case 'not in':
      return !contains(y, x);
    case '|':
      if (tx === 'bigint' && ty === 'bigint') return (x as bigint) | (y as bigint);
      if (x instanceof StarDict && y instanceof StarDict) {
        const d = new StarDict();
        for (const [k, v] of x.entries()) d.set(k, v);
        for (const [k, v] of y.entries()) d.set(k, v);
        return d;
      }
      break;
    case '&':
      if (tx === 'bigint' && ty === 'bigint') return (x as bigint) & (y as bigint);
      break;
    case '^':
      if (tx === 'bigint' && ty === 'bigint') return (x as bigint) ^ (y as bigint);
      break;
    case '<<':
    case '>>':
      if (tx === 'bigint' && ty === 'bigint') {
        const n = y as bigint;
        if (n < 0n) throw new EvalError('negative shift count');
        // As starlark-go: a shift count is at most 511.
        if (n >= 512n) throw new EvalError(`shift count too large: ${quoted(n)}`);
        if (op === '>>') return (x as bigint) >> n;
        const r = bigResult((x as bigint) << n);
        spend(intWords(r) >> 4);
        return r;
      }
      break;
  }
  // A host struct may define operators (starlark-go's HasBinary).
  const defined = x instanceof Struct && x.opts.onBinary ? x.opts.onBinary(op, y, true) : y instanceof Struct && y.opts.onBinary ? y.opts.onBinary(op, x, false) : undefined;
  if (defined !== undefined) return defined;
  throw unknownOp(op, x, y);
}

/** `needle in haystack`. */
export function contains(haystack: Value, needle: Value): boolean {
  if (typeof haystack === 'string') {
    if (typeof needle !== 'string') throw new EvalError(`'in <string>' requires string as left operand, not ${typeName(needle)}`);
    spendChars(haystack.length);
    return haystack.includes(needle);
  }
  if (haystack instanceof Bytes) {
    spendChars(haystack.s.length);
    return bytesContains(haystack, needle);
  }
  if (haystack instanceof StarList || haystack instanceof Tuple) {
    spend(haystack.elems.length);
    for (const e of haystack.elems) if (equals(e, needle)) return true;
    return false;
  }
  if (haystack instanceof StarDict || haystack instanceof StarSet) {
    // As in starlark-go: an unhashable value is simply not a key (`[] in {1: 2}` is False).
    if (needle instanceof StarList || needle instanceof StarDict || needle instanceof StarSet || needle instanceof Range) return false;
    return haystack.has(needle);
  }
  if (haystack instanceof Range) {
    if (typeof needle !== 'bigint') {
      if (typeof needle !== 'number') throw new EvalError(`'in <range>' requires integer as left operand, not ${typeName(needle)}`);
      if (!Number.isInteger(needle)) return false;
      needle = BigInt(needle);
    }
    const n = needle as bigint;
    const { start, step } = haystack;
    if (haystack.length === 0) return false;
    const last = haystack.at(haystack.length - 1);
    const inside = step > 0n ? n >= start && n <= last : n <= start && n >= last;
    return inside && (n - start) % step === 0n;
  }
  throw new EvalError(`unknown binary op: ${typeName(needle)} in ${typeName(haystack)}`);
}

export function unary(op: string, x: Value): Value {
  switch (op) {
    case '-':
      if (typeof x === 'bigint') return -x;
      if (typeof x === 'number') return -x;
      break;
    case '+':
      if (typeof x === 'bigint' || typeof x === 'number') return x;
      break;
    case '~':
      if (typeof x === 'bigint') return ~x;
      break;
  }
  throw new EvalError(`unknown unary op: ${op}${typeName(x)}`);
}

/** Converts an index value to a JS number in [0, n), or throws. */
export function normIndex(i: Value, n: number, what: string): number {
  if (typeof i !== 'bigint') throw new EvalError(`${what} index: got ${typeName(i)}, want int`);
  const k = i < 0n ? i + BigInt(n) : i;
  if (k < 0n || k >= BigInt(n)) {
    // starlark-go's words: the valid range, negative indices included.
    throw new EvalError(n === 0 ? `index ${quoted(i)} out of range: empty ${what}` : `${what} index ${quoted(i)} out of range [${-n}:${n - 1}]`);
  }
  return Number(k);
}

/** x[i]. */
export function index(x: Value, i: Value): Value {
  if (x instanceof StarList || x instanceof Tuple) return x.elems[normIndex(i, x.elems.length, typeName(x))]!;
  if (x instanceof StarDict) {
    const v = x.get(i);
    if (v === undefined) throw new EvalError(`key ${quoted(i)} not in dict`);
    return v;
  }
  if (typeof x === 'string') return x[normIndex(i, x.length, 'string')]!;
  if (x instanceof Bytes) return new Bytes(x.s[normIndex(i, x.s.length, 'bytes')]!);
  if (x instanceof Range) return x.at(normIndex(i, x.length, 'range'));
  if (x instanceof StringIter && !x.codepoints) return x.at(normIndex(i, x.length, typeName(x)));
  throw new EvalError(`unhandled index operation ${typeName(x)}[${typeName(i)}]`, `a ${typeName(x)} value is not indexable`);
}

/** x[i] = v. */
export function setIndex(x: Value, i: Value, v: Value): void {
  if (x instanceof StarList) {
    const k = normIndex(i, x.elems.length, 'list');
    x.checkMutable('assign to element of');
    x.elems[k] = v;
    return;
  }
  if (x instanceof StarDict) {
    x.set(i, v);
    return;
  }
  throw new EvalError(`${typeName(x)} value does not support item assignment`);
}

function sliceBound(v: Value | undefined, name: string): bigint | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'bigint') {
    // starlark-go's words: "invalid start index: got float, want int".
    throw new EvalError(name === 'step' ? `invalid slice step: got ${typeName(v)}, want int (or None)` : `invalid ${name} index: got ${typeName(v)}, want int (or None)`);
  }
  return v;
}

/** The indices selected by x[lo:hi:step] on a sequence of length n (Python semantics). */
function sliceIndices(n: number, lo: Value | undefined, hi: Value | undefined, step: Value | undefined): [number, number, number] {
  const s = sliceBound(step, 'step') ?? 1n;
  if (s === 0n) throw new EvalError('slice step cannot be zero');
  const st = s > 1_000_000_000n ? 1_000_000_000 : s < -1_000_000_000n ? -1_000_000_000 : Number(s);
  const N = BigInt(n);
  const clamp = (v: bigint | undefined, def: number): number => {
    if (v === undefined) return def;
    let k = v < 0n ? v + N : v;
    if (st > 0) k = k < 0n ? 0n : k > N ? N : k;
    else k = k < -1n ? -1n : k >= N ? N - 1n : k;
    return Number(k);
  };
  const start = clamp(sliceBound(lo, 'start'), st > 0 ? 0 : n - 1);
  const end = clamp(sliceBound(hi, 'end'), st > 0 ? n : -1);
  return [start, end, st];
}

export function slice(x: Value, lo: Value | undefined, hi: Value | undefined, step: Value | undefined): Value {
  if (typeof x === 'string') {
    const [a, e, s] = sliceIndices(x.length, lo, hi, step);
    spendChars(Math.abs(e - a));
    if (s === 1) return a < e ? x.slice(a, e) : '';
    let out = '';
    if (s > 0) for (let i = a; i < e; i += s) out += x[i];
    else for (let i = a; i > e; i += s) out += x[i];
    return out;
  }
  if (x instanceof Bytes) return new Bytes(slice(x.s, lo, hi, step) as string);
  if (x instanceof StarList || x instanceof Tuple || x instanceof Range) {
    const n = x instanceof Range ? x.length : x.elems.length;
    const [a, e, s] = sliceIndices(n, lo, hi, step);
    if (x instanceof Range) {
      const cnt = s > 0 ? Math.max(0, Math.ceil((e - a) / s)) : Math.max(0, Math.ceil((a - e) / -s));
      const start = cnt > 0 ? x.at(a) : 0n;
      return new Range(start, start + BigInt(cnt) * x.step * BigInt(s), x.step * BigInt(s));
    }
    const elems = x.elems;
    spend(Math.abs(e - a));
    let out: Value[];
    if (s === 1) out = a < e ? elems.slice(a, e) : [];
    else {
      out = [];
      if (s > 0) for (let i = a; i < e; i += s) out.push(elems[i]!);
      else for (let i = a; i > e; i += s) out.push(elems[i]!);
    }
    return x instanceof StarList ? new StarList(out) : new Tuple(out);
  }
  throw new EvalError(`${typeName(x)} value cannot be sliced`);
}
