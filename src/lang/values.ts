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

import type { Position } from '../errors.js';
import type { FunCode } from './ast.js';
import { EvalError } from './errors.js';
import { codePointsOf } from './text.js';
import type { Thread } from './eval.js';
import { Bytes } from './bytes.js';
import { StarDict, StarSet } from './dict.js';

// The kinds and functions kept in their own modules, exported here with the rest of the model.
export { hashKey, StarDict, StarSet } from './dict.js';
export { describeValue, formatFloat, quote, quoted, repr, str } from './repr.js';
export { compare, equals } from './compare.js';

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

export function iterError(verb: string, what: string, frozen: boolean): EvalError {
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

