// The hashed kinds: dict and set (insertion-ordered), and the keys they hash values under.
// Part of the value model (values.ts re-exports them).

import { EvalError } from './errors.js';
import { Bytes } from './bytes.js';
import { iterError, Range, StarList, StringIter, Tuple, spend, typeName, type Value } from './values.js';

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
