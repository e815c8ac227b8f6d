// Starlark values and their JS representation — the contract with builtin writers.
//
//   Starlark   JS
//   None       null            (the exported constant `None` is null)
//   bool       boolean
//   int        bigint          (always: 1 is 1n)
//   float      number          (always: an int is never a JS number)
//   string     string          a byte string: one char (0-255) per UTF-8 byte, so len/index/
//                              slice count bytes as in starlark-go (text.ts converts)
//   bytes      Bytes           the same byte string, as another type (bytes.ts)
//   list       StarList        (mutable until frozen)
//   tuple      Tuple
//   dict       StarDict        (insertion-ordered)
//   set        StarSet         (insertion-ordered; set() builds one)
//   range      Range           (lazy; what range() returns)
//   function   StarFunction    (a `def` or `lambda`)
//   builtin    Builtin         (a host or universe function; also bound methods)
//   struct     Struct          (a namespace of named fields, e.g. `cloud.k8s`)
//
// `undefined` is never a Starlark value; APIs use it for "absent".
// Lists and dicts are frozen (immutable) once the module that created them finishes.

import { MAX_QUOTED, safeText, type Position } from '../errors.js';
import type { FunCode } from './ast.js';
import { EvalError } from './errors.js';
import { codePointsOf, decodeRune, fromText, isAscii, toText } from './text.js';
import type { Thread } from './eval.js';
import { Bytes } from './bytes.js';

export type Value =
  | null
  | boolean
  | bigint
  | number
  | string
  | Bytes
  | StarList
  | Tuple
  | StarDict
  | StarSet
  | Range
  | StringIter
  | StarFunction
  | Builtin
  | Struct;

// ---- the cost meter ----

/**
 * The budget of the evaluation running now. Work is counted in element touches (an element
 * compared, copied, hashed, printed or scanned); every TOUCHES_PER_UNIT touches cost one unit,
 * the price of one statement. Deterministic: the same file always costs the same.
 */
export interface Meter {
  /** Units used (statements, calls, iterations and touched elements). */
  steps: number;
  maxSteps: number;
  /** Touches not yet converted into units. */
  work: number;
  overBudget(): EvalError;
}

export const TOUCHES_PER_UNIT = 1;

let meter: Meter | undefined;

/** Makes `m` the meter that spend() charges; returns the previous one (to restore). */
export function setMeter(m: Meter | undefined): Meter | undefined {
  const old = meter;
  meter = m;
  return old;
}

/** Characters scanned by native string code per touch (memchr-like speed). */
export const CHARS_PER_TOUCH = 16;

/** Charges scanning, copying or comparing `n` characters. */
export function spendChars(n: number): void {
  if (n >= CHARS_PER_TOUCH) spend(Math.floor(n / CHARS_PER_TOUCH));
}

/** Charges `n` element touches to the running evaluation; throws EvalError past its budget. */
export function spend(n: number): void {
  const m = meter;
  if (m === undefined) return;
  const w = m.work + n;
  if (w < TOUCHES_PER_UNIT) {
    m.work = w;
    return;
  }
  m.steps += Math.floor(w / TOUCHES_PER_UNIT);
  m.work = w % TOUCHES_PER_UNIT;
  if (m.steps > m.maxSteps) throw m.overBudget();
}

/** Starlark's None is JS null. */
export const None = null;
export type NoneType = null;

/** What a builtin receives about its call. */
export interface CallInfo {
  /** The position of the call expression (the start of the callee). */
  pos: Position;
  thread: Thread;
}

export type BuiltinImpl = (call: CallInfo, args: Value[], kwargs: [string, Value][]) => Value;

function iterError(verb: string, what: string, frozen: boolean): EvalError {
  return new EvalError(`cannot ${verb} ${frozen ? 'frozen ' : ''}${what}${frozen ? '' : ' during iteration'}`);
}

export class StarList {
  frozen = false;
  /** >0 while a for loop or comprehension iterates over the list. */
  itercount = 0;
  constructor(public elems: Value[] = []) {}

  /** Throws if the list may not be modified; `verb` e.g. "append to". */
  checkMutable(verb: string): void {
    if (this.frozen || this.itercount > 0) throw iterError(verb, 'list', this.frozen);
  }
}

export class Tuple {
  constructor(readonly elems: readonly Value[]) {}
}

const HASH_ESC = '\u0001';
let nextIdentity = 1;
const identities = new WeakMap<object, number>();
function identityOf(o: object): number {
  let id = identities.get(o);
  if (id === undefined) {
    id = nextIdentity++;
    identities.set(o, id);
  }
  return id;
}

/** The key under which a dict stores `v`: a primitive equal for equal Starlark values. */
export function hashKey(v: Value): unknown {
  switch (typeof v) {
    case 'string':
      return v.length > 0 && v.charCodeAt(0) === 1 ? HASH_ESC + 's' + v : v;
    case 'bigint':
    case 'boolean':
      return v;
    case 'number':
      return Number.isInteger(v) ? BigInt(v) : v;
    case 'object':
      if (v === null) return null;
      if (v instanceof Tuple) return HASH_ESC + '(' + tupleKey(v, 0);
      if (v instanceof Bytes) return HASH_ESC + 'b' + v.s;
      if (v instanceof StarList || v instanceof StarDict || v instanceof StarSet) throw new EvalError(`unhashable type: ${typeName(v)}`);
      if (v instanceof Range) throw new EvalError('unhashable: range');
      if (v instanceof StringIter) throw new EvalError(`unhashable: ${typeName(v)}`);
      return v;
  }
  return v;
}

function tupleKey(t: Tuple, depth: number): string {
  if (depth > 100) throw new EvalError('tuple nested too deeply to hash');
  spend(t.elems.length);
  let s = t.elems.length + ':';
  for (let i = 0; i < t.elems.length; i++) s += keyPart(t.elems[i]!, depth) + ',';
  spend(s.length >> 2); // the key text is built (and later hashed) in full
  return s + ')';
}

function keyPart(v: Value, depth: number): string {
  switch (typeof v) {
    case 'string':
      return 's' + v.length + ':' + v;
    case 'bigint':
      return 'i' + v;
    case 'boolean':
      return v ? 'T' : 'F';
    case 'number':
      return Number.isInteger(v) ? 'i' + BigInt(v) : 'f' + v;
    case 'object':
      if (v === null) return 'N';
      if (v instanceof Tuple) return '(' + tupleKey(v, depth + 1);
      if (v instanceof Bytes) return 'b' + v.s.length + ':' + v.s;
      if (v instanceof StarList || v instanceof StarDict || v instanceof StarSet) throw new EvalError(`unhashable type: ${typeName(v)}`);
      return 'o' + identityOf(v);
  }
  return '?';
}

/** An insertion-ordered dict. Keys: str, int, float, bool, None, tuples of those (and functions/structs by identity). */
export class StarDict {
  frozen = false;
  itercount = 0;
  private readonly map = new Map<unknown, [Value, Value]>();

  static from(entries: Iterable<readonly [Value, Value]>): StarDict {
    const d = new StarDict();
    for (const [k, v] of entries) d.set(k, v);
    return d;
  }

  get size(): number {
    return this.map.size;
  }

  checkMutable(verb: string): void {
    if (this.frozen || this.itercount > 0) throw iterError(verb, 'hash table', this.frozen);
  }

  /** The value for `key`, or undefined. Throws EvalError for an unhashable key. */
  get(key: Value): Value | undefined {
    const e = this.map.get(hashKey(key));
    return e === undefined ? undefined : e[1];
  }

  has(key: Value): boolean {
    return this.map.has(hashKey(key));
  }

  /** Inserts or updates (an update keeps the key's place). Throws EvalError if frozen. */
  set(key: Value, value: Value): void {
    this.checkMutable('insert into');
    const h = hashKey(key);
    const e = this.map.get(h);
    if (e !== undefined) e[1] = value;
    else {
      spend(4); // a new entry: hashing, growing the table, memory kept alive
      this.map.set(h, [key, value]);
    }
  }

  /** Removes `key`; returns its value or undefined. */
  delete(key: Value): Value | undefined {
    const h = hashKey(key);
    const e = this.map.get(h);
    if (e === undefined) return undefined;
    this.checkMutable('delete from');
    this.map.delete(h);
    return e[1];
  }

  clear(): void {
    this.checkMutable('clear');
    this.map.clear();
  }

  /** [key, value] pairs in insertion order (do not modify the pairs). */
  entries(): IterableIterator<readonly [Value, Value]> {
    return this.map.values();
  }

  keys(): Value[] {
    spend(this.map.size);
    const out: Value[] = [];
    for (const e of this.map.values()) out.push(e[0]);
    return out;
  }

  values(): Value[] {
    spend(this.map.size);
    const out: Value[] = [];
    for (const e of this.map.values()) out.push(e[1]);
    return out;
  }
}

/** An insertion-ordered set (as starlark-go's, built by set()): hashable elements only. */
export class StarSet {
  frozen = false;
  itercount = 0;
  private readonly map = new Map<unknown, Value>();

  get size(): number {
    return this.map.size;
  }

  checkMutable(verb: string): void {
    if (this.frozen) throw new EvalError(`cannot ${verb} frozen hash table`);
    if (this.itercount > 0) throw new EvalError(`cannot ${verb} hash table during iteration`);
  }

  has(x: Value): boolean {
    return this.map.has(hashKey(x));
  }

  add(x: Value): void {
    const h = hashKey(x);
    this.checkMutable('insert into');
    if (!this.map.has(h)) {
      spend(4);
      this.map.set(h, x);
    }
  }

  /** Removes `x`; returns whether it was there. */
  delete(x: Value): boolean {
    const h = hashKey(x);
    this.checkMutable('delete from');
    return this.map.delete(h);
  }

  clear(): void {
    if (this.map.size === 0) return; // as starlark-go: clearing an empty set changes nothing
    this.checkMutable('clear');
    this.map.clear();
  }

  elems(): Value[] {
    spend(this.map.size);
    return [...this.map.values()];
  }

  static of(elems: readonly Value[]): StarSet {
    const s = new StarSet();
    for (const e of elems) s.add(e);
    return s;
  }
}

/**
 * What s.elems(), s.elem_ords(), s.codepoints() and s.codepoint_ords() return, as starlark-go:
 * an immutable iterable view of a string; the elems views also have a length and an index.
 * b.elems() of bytes is the elem_ords view of its bytes (`bytes` set).
 */
export class StringIter {
  constructor(
    readonly s: string,
    readonly codepoints: boolean,
    readonly ords: boolean,
    readonly bytes = false,
  ) {}
  get method(): string {
    return this.codepoints ? (this.ords ? 'codepoint_ords' : 'codepoints') : this.ords && !this.bytes ? 'elem_ords' : 'elems';
  }
  get length(): number {
    return this.s.length;
  }
  /** The i-th byte (elems views only). */
  at(i: number): Value {
    return this.ords ? BigInt(this.s.charCodeAt(i)) : this.s[i]!;
  }
  elems(): Value[] {
    const s = this.s;
    spend(s.length);
    if (!this.codepoints) return this.ords ? Array.from(s, (c) => BigInt(c.charCodeAt(0))) : s.split('');
    spend(s.length); // decoding each character
    // An invalid byte is one U+FFFD, as Go's range over a string.
    return codePointsOf(s).map((r) => (this.ords ? BigInt(r.cp) : r.end - r.start === 1 && r.cp === 0xfffd ? '\xef\xbf\xbd' : s.slice(r.start, r.end)));
  }
}

/** What range() returns: an immutable, lazily computed sequence of ints. */
export class Range {
  readonly length: number;
  constructor(
    readonly start: bigint,
    readonly stop: bigint,
    readonly step: bigint,
  ) {
    let n = step > 0n ? (stop - start + step - 1n) / step : (start - stop - step - 1n) / -step;
    if (n < 0n) n = 0n;
    if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new EvalError('range: too many elements');
    this.length = Number(n);
  }
  at(i: number): bigint {
    return this.start + BigInt(i) * this.step;
  }
}

export interface ModuleRef {
  file: string;
  globals: Value[];
  names: string[];
}

/** A function defined in Starlark (`def` or `lambda`). */
export class StarFunction {
  constructor(
    readonly code: FunCode,
    /** Default values, one per parameter slot (undefined: required). */
    readonly defaults: (Value | undefined)[],
    /** Frames of the enclosing functions, indexed by nesting level. */
    readonly env: Value[][],
    readonly module: ModuleRef,
  ) {}
  get name(): string {
    return this.code.name;
  }
  get pos(): Position {
    return this.code.pos;
  }
  /** Parameter names in order: positional, keyword-only, then *args and **kwargs names. */
  get paramNames(): readonly string[] {
    return this.code.paramNames;
  }
  /** Same as paramNames. */
  get params(): readonly string[] {
    return this.code.paramNames;
  }
}

/** A function implemented in JS. Throw EvalError for user errors. */
export class Builtin {
  constructor(
    readonly name: string,
    readonly impl: BuiltinImpl,
    /** For a bound method (`"a,b".split`): the receiver, shown by repr. */
    readonly recv?: Value,
  ) {}
}

/**
 * Called for an attribute a struct does not have; return a value to accept it (e.g. an alias,
 * after recording a warning at `pos`), or undefined for the usual "has no attribute" error.
 */
export type MissingAttrHook = (name: string, pos: Position, thread: Thread) => Value | undefined;

export interface StructOptions {
  onMissingAttr?: MissingAttrHook;
  /** What type() says (default "struct"). */
  type?: string;
  /** Accepts `s.name = v` (throw EvalError to refuse); without it structs are read-only. */
  onSetAttr?: (s: Struct, name: string, v: Value) => void;
  /** `s op y` or `y op s` for operators the struct defines; undefined: not defined. */
  onBinary?: (op: string, other: Value, structOnLeft: boolean) => Value | undefined;
}

/** A read-only namespace: `cloud.k8s.bind`, `presets.jupyter.port`. `type()` is "struct". */
export class Struct {
  readonly fields: Map<string, Value>;
  readonly onMissingAttr: MissingAttrHook | undefined;
  readonly opts: StructOptions;
  /** Set by freeze(); a struct with onSetAttr refuses changes from then on. */
  frozen = false;
  /** `opts` is the options object or directly the onMissingAttr hook. */
  constructor(
    readonly name: string,
    fields: Record<string, Value> | Map<string, Value>,
    opts: StructOptions | MissingAttrHook = {},
  ) {
    this.fields = fields instanceof Map ? fields : new Map(Object.entries(fields));
    this.opts = typeof opts === 'function' ? { onMissingAttr: opts } : opts;
    this.onMissingAttr = this.opts.onMissingAttr;
  }
}

/** The Starlark type name: "string", "int", "list", "struct", ... (what type() returns). */
export function typeName(v: Value): string {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'bigint':
      return 'int';
    case 'number':
      return 'float';
    case 'boolean':
      return 'bool';
    case 'object':
      if (v === null) return 'NoneType';
      if (v instanceof StarList) return 'list';
      if (v instanceof StarDict) return 'dict';
      if (v instanceof StarSet) return 'set';
      if (v instanceof Tuple) return 'tuple';
      if (v instanceof Range) return 'range';
      if (v instanceof Bytes) return 'bytes';
      if (v instanceof StringIter) return v.bytes ? 'bytes.elems' : v.codepoints ? 'string.codepoints' : 'string.elems';
      if (v instanceof StarFunction) return 'function';
      if (v instanceof Builtin) return 'builtin_function_or_method';
      if (v instanceof Struct) return v.opts.type ?? 'struct';
  }
  return 'unknown';
}

export function truthy(v: Value): boolean {
  switch (typeof v) {
    case 'boolean':
      return v;
    case 'string':
      return v.length > 0;
    case 'bigint':
      return v !== 0n;
    case 'number':
      return v !== 0; // NaN is true, as in starlark-go
    case 'object':
      if (v === null) return false;
      if (v instanceof StarList || v instanceof Tuple) return v.elems.length > 0;
      if (v instanceof StarDict || v instanceof StarSet) return v.size > 0;
      if (v instanceof Range) return v.length > 0;
      if (v instanceof Bytes) return v.s.length > 0;
      return true;
  }
  return true;
}

// ---- repr / str ----

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

// ---- equality and ordering ----

export function equals(x: Value, y: Value, depth = 0): boolean {
  if (typeof x === 'string') {
    if (typeof y !== 'string') return false;
    if (x.length === y.length) spendChars(x.length);
    return x === y;
  }
  // As in starlark-go's total order of floats, NaN equals itself. A list is compared element by
  // element even with itself (so a cyclic one reaches the depth limit, as in starlark-go).
  if (x === y && !(x instanceof StarList || x instanceof Tuple || x instanceof StarDict)) return true;
  if (typeof x === 'number' && typeof y === 'number') return Number.isNaN(x) && Number.isNaN(y);
  switch (typeof x) {
    case 'bigint':
      return typeof y === 'number' && (x as unknown as number) == y;
    case 'number':
      return typeof y === 'bigint' && x == (y as unknown as number);
    case 'object':
      if (x === null || y === null || typeof y !== 'object') return false;
      if (depth > 100) throw new EvalError('comparison exceeded maximum recursion depth');
      if (x instanceof StarList) return y instanceof StarList && seqEquals(x.elems, y.elems, depth);
      if (x instanceof Tuple) return y instanceof Tuple && seqEquals(x.elems, y.elems, depth);
      if (x instanceof Bytes) return y instanceof Bytes && equals(x.s, y.s);
      if (x instanceof StarDict) {
        if (!(y instanceof StarDict) || x.size !== y.size) return false;
        spend(x.size);
        for (const [k, v] of x.entries()) {
          const w = y.get(k);
          if (w === undefined || !equals(v, w, depth + 1)) return false;
        }
        return true;
      }
      if (x instanceof StarSet) {
        if (!(y instanceof StarSet) || x.size !== y.size) return false;
        for (const e of x.elems()) if (!y.has(e)) return false;
        return true;
      }
      if (x instanceof Range) {
        if (!(y instanceof Range) || x.length !== y.length) return false;
        return x.length === 0 || (x.start === y.start && (x.length === 1 || x.step === y.step));
      }
      return false;
  }
  return false;
}

function seqEquals(a: readonly Value[], b: readonly Value[], depth: number): boolean {
  if (a.length !== b.length) return false;
  spend(a.length);
  for (let i = 0; i < a.length; i++) if (!equals(a[i]!, b[i]!, depth + 1)) return false;
  return true;
}

/** Ordering for <, <=, sorted(), min(), max(). Throws EvalError for unordered types. */
export function compare(x: Value, y: Value, depth = 0): number {
  const tx = typeof x;
  const ty = typeof y;
  if ((tx === 'bigint' || tx === 'number') && (ty === 'bigint' || ty === 'number')) {
    const a = x as number;
    const b = y as number;
    if (a < b) return -1;
    if (a > b) return 1;
    if (a == b) return 0;
    // NaN: order it after everything, equal to itself (Starlark's total order).
    const an = typeof a === 'number' && Number.isNaN(a);
    const bn = typeof b === 'number' && Number.isNaN(b);
    return an && bn ? 0 : an ? 1 : -1;
  }
  if (tx === 'string' && ty === 'string') {
    spendChars(Math.min((x as string).length, (y as string).length));
    return (x as string) < (y as string) ? -1 : (x as string) > (y as string) ? 1 : 0;
  }
  if (tx === 'boolean' && ty === 'boolean') return Number(x) - Number(y);
  if (x instanceof Bytes && y instanceof Bytes) return compare(x.s, y.s);
  if (depth > 100) throw new EvalError('comparison exceeded maximum recursion depth');
  if ((x instanceof StarList && y instanceof StarList) || (x instanceof Tuple && y instanceof Tuple)) {
    const a = x.elems;
    const b = y.elems;
    const n = Math.min(a.length, b.length);
    spend(n);
    for (let i = 0; i < n; i++) {
      if (equals(a[i]!, b[i]!, depth + 1)) continue;
      return compare(a[i]!, b[i]!, depth + 1);
    }
    return a.length - b.length;
  }
  throw new EvalError(`${typeName(x)} < ${typeName(y)} not implemented`);
}

// ---- freezing ----

/** Makes `v` and everything reachable from it immutable. */
export function freeze(v: Value): void {
  const stack: Value[] = [v];
  // Functions and tuples have no frozen flag; a function may reach itself through its captures.
  const seen = new Set<object>();
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (typeof x !== 'object' || x === null) continue;
    if (x instanceof StarList) {
      if (x.frozen) continue;
      x.frozen = true;
      spend(x.elems.length);
      for (let i = 0; i < x.elems.length; i++) stack.push(x.elems[i]!);
    } else if (x instanceof StarDict) {
      if (x.frozen) continue;
      x.frozen = true;
      spend(x.size);
      for (const [k, e] of x.entries()) stack.push(k, e);
    } else if (x instanceof StarSet) {
      if (x.frozen) continue;
      x.frozen = true;
      for (const e of x.elems()) stack.push(e);
    } else if (x instanceof Tuple) {
      if (seen.has(x)) continue;
      seen.add(x);
      spend(x.elems.length);
      for (let i = 0; i < x.elems.length; i++) stack.push(x.elems[i]!);
    } else if (x instanceof Struct) {
      if (x.frozen) continue;
      x.frozen = true;
      for (const e of x.fields.values()) stack.push(e);
    } else if (x instanceof StarFunction) {
      if (seen.has(x)) continue;
      seen.add(x);
      for (let i = 0; i < x.defaults.length; i++) { const d = x.defaults[i]!; if (d !== undefined) stack.push(d); }
      // The values it captured from enclosing functions are reachable through it too.
      for (const frame of x.env) for (let i = 0; i < frame.length; i++) { const v = frame[i]; if (v !== undefined) stack.push(v); }
    }
  }
}

/** Elements of an iterable value, or undefined if it is not iterable. Lists are returned live. */
export function iterElems(v: Value, maxLen: number): readonly Value[] | undefined {
  if (v instanceof StarList || v instanceof Tuple) return v.elems;
  if (v instanceof StarDict) return v.keys();
  if (v instanceof StarSet) return v.elems();
  if (v instanceof StringIter) return v.elems();
  if (v instanceof Range) {
    if (v.length > maxLen) throw new EvalError(`range has too many elements (${v.length}, the limit is ${maxLen})`);
    spend(v.length);
    const out = new Array<Value>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = v.at(i);
    return out;
  }
  return undefined;
}

export function isIterable(v: Value): boolean {
  return v instanceof StarList || v instanceof Tuple || v instanceof StarDict || v instanceof StarSet || v instanceof Range || v instanceof StringIter;
}

/** Alias of typeName. */
export const typeOf = typeName;
