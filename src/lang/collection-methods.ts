// The methods of the mutable collections: list, dict and set.

import { EvalError } from './errors.js';
import { checkSize, normIndex } from './ops.js';
import { noArgs, unpackArgs } from './unpack.js';
import {
  equals, iterElems, spend, StarDict, StarList, StarSet, Tuple, typeName, type CallInfo, type Value,
} from './values.js';
import { intArg, table, type KW, type MethodImpl } from './method-table.js';

// ---- list ----

export const listMethods: Record<string, MethodImpl> = table({
  append: (_c, l: StarList, args, kwargs) => {
    if (args.length !== 1 || kwargs.length > 0) unpackArgs('append', args, kwargs, ['x']);
    l.checkMutable('append to');
    l.elems.push(args[0]!);
    return null;
  },
  clear: (_c, l: StarList, a, k) => {
    noArgs('clear', a, k);
    l.checkMutable('clear');
    l.elems.length = 0;
    return null;
  },
  extend: (call, l: StarList, args, kwargs) => {
    const x = unpackArgs('extend', args, kwargs, ['iterable']).iterable!;
    const elems = iterElems(x, call.thread.maxAlloc);
    if (!elems) throw new EvalError(`extend: got ${typeName(x)}, want iterable`);
    l.checkMutable('extend');
    spend(elems.length);
    const n = l.elems.length + elems.length;
    if (n > 1024) checkSize(call.thread, n, 'list');
    for (let i = 0, m = elems.length; i < m; i++) l.elems.push(elems[i]!);
    return null;
  },
  index: (_c, l: StarList, args, kwargs) => {
    const a = unpackArgs('index', args, kwargs, ['x', 'start?', 'end?']);
    const n = l.elems.length;
    let lo = intArg('index', 'start', a.start, 0);
    let hi = intArg('index', 'end', a.end, n);
    if (lo < 0) lo = Math.max(0, lo + n);
    if (hi < 0) hi = Math.max(0, hi + n);
    spend(n);
    for (let i = lo; i < Math.min(hi, n); i++) if (equals(l.elems[i]!, a.x!)) return BigInt(i);
    throw new EvalError('index: value not in list');
  },
  insert: (_c, l: StarList, args, kwargs) => {
    const a = unpackArgs('insert', args, kwargs, ['index', 'x']);
    const n = l.elems.length;
    let i = intArg('insert', 'index', a.index, 0);
    if (i < 0) i = Math.max(0, i + n);
    if (i > n) i = n;
    l.checkMutable('insert into');
    spend(n - i); // the elements moved
    l.elems.splice(i, 0, a.x!);
    return null;
  },
  pop: (_c, l: StarList, args, kwargs) => {
    const a = unpackArgs('pop', args, kwargs, ['index?']);
    const n = l.elems.length;
    if (n === 0) throw new EvalError('pop: empty list');
    let i: number;
    try {
      i = normIndex(a.index ?? -1n, n, 'list');
    } catch (e) {
      throw new EvalError(`pop: ${(e as Error).message}`);
    }
    l.checkMutable('pop from');
    spend(n - i);
    return l.elems.splice(i, 1)[0]!;
  },
  remove: (_c, l: StarList, args, kwargs) => {
    const x = unpackArgs('remove', args, kwargs, ['x']).x!;
    spend(l.elems.length);
    const i = l.elems.findIndex((e) => equals(e, x));
    if (i < 0) throw new EvalError('remove: element not found'); // starlark-go's words: no value shown
    l.checkMutable('remove from');
    l.elems.splice(i, 1);
    return null;
  },
});

// ---- dict ----

export const dictMethods: Record<string, MethodImpl> = table({
  clear: (_c, d: StarDict, a, k) => (noArgs('clear', a, k), d.clear(), null),
  get: (_c, d: StarDict, args, kwargs) => {
    if (kwargs.length > 0) throw new EvalError('get: unexpected keyword arguments'); // positional only, as in starlark-go
    const a = unpackArgs('get', args, kwargs, ['key', 'default?']);
    const v = d.get(a.key!);
    return v !== undefined ? v : (a.default ?? null);
  },
  items: (_c, d: StarDict, a, k) => {
    noArgs('items', a, k);
    spend(d.size * 3); // a tuple per entry
    const out: Value[] = [];
    for (const [key, v] of d.entries()) out.push(new Tuple([key, v]));
    return new StarList(out);
  },
  keys: (_c, d: StarDict, a, k) => (noArgs('keys', a, k), new StarList(d.keys())),
  pop: (_c, d: StarDict, args, kwargs) => {
    const a = unpackArgs('pop', args, kwargs, ['key', 'default?']);
    if (!d.has(a.key!)) {
      if (a.default !== undefined) return a.default;
      throw new EvalError('pop: missing key');
    }
    return d.delete(a.key!)!;
  },
  popitem: (_c, d: StarDict, a, k) => {
    noArgs('popitem', a, k);
    const first = d.entries().next();
    if (first.done) throw new EvalError('popitem: empty dict');
    const [key, v] = first.value;
    d.delete(key);
    return new Tuple([key, v]);
  },
  setdefault: (_c, d: StarDict, args, kwargs) => {
    const a = unpackArgs('setdefault', args, kwargs, ['key', 'default?']);
    const v = d.get(a.key!);
    if (v !== undefined) return v;
    const def = a.default ?? null;
    d.set(a.key!, def);
    return def;
  },
  update: (call, d: StarDict, args, kwargs) => {
    if (args.length > 1) throw new EvalError(`update: got ${args.length} arguments, want at most 1`);
    d.checkMutable('insert into');
    if (args.length === 1) updateDict('update', d, args[0]!, call.thread.maxAlloc);
    for (const [k, v] of kwargs) d.set(k, v);
    return null;
  },
  values: (_c, d: StarDict, a, k) => (noArgs('values', a, k), new StarList(d.values())),
});

/** d.update(x) where x is a dict or an iterable of pairs. */
export function updateDict(fn: string, d: StarDict, x: Value, maxAlloc: number): void {
  if (x instanceof StarDict) {
    spend(x.size);
    for (const [k, v] of x.entries()) d.set(k, v);
    return;
  }
  const elems = iterElems(x, maxAlloc);
  if (!elems) throw new EvalError(`${fn}: got ${typeName(x)}, want iterable`, 'a dict or an iterable of (key, value) pairs');
  spend(elems.length);
  elems.forEach((e, i) => {
    const pair = e instanceof Tuple || e instanceof StarList ? e.elems : undefined;
    if (!pair || pair.length !== 2) {
      throw new EvalError(`${fn}: element #${i} is not a pair (got ${typeName(e)}${pair ? ` of length ${pair.length}` : ''})${typeof e === 'string' ? ': not iterable (string)' : ''}`);
    }
    d.set(pair[0]!, pair[1]!);
  });
}

// ---- set ----

/** The elements of each positional argument (all must be iterable); no keywords. */
function setArgs(fn: string, call: CallInfo, args: Value[], kwargs: KW): Value[][] {
  if (kwargs.length > 0) throw new EvalError(`${fn}: does not accept keyword arguments`);
  return args.map((a, i) => {
    const elems = iterElems(a, call.thread.maxAlloc);
    if (!elems) throw new EvalError(`${fn}: argument #${i + 1} is not iterable: ${typeName(a)}`);
    return elems as Value[];
  });
}

function oneIterable(fn: string, call: CallInfo, args: Value[], kwargs: KW): StarSet {
  const a = unpackArgs(fn, args, kwargs, ['other']);
  const elems = iterElems(a.other!, call.thread.maxAlloc);
  if (!elems) throw new EvalError(`${fn}: got ${typeName(a.other!)}, want iterable`);
  return a.other instanceof StarSet ? a.other : StarSet.of(elems);
}

export const setMethods: Record<string, MethodImpl> = table({
  add: (_c, s: StarSet, args, kwargs) => (s.add(unpackArgs('add', args, kwargs, ['elem']).elem!), null),
  clear: (_c, s: StarSet, a, k) => (noArgs('clear', a, k), s.clear(), null),
  difference: (c, s: StarSet, args, kwargs) => {
    const others = setArgs('difference', c, args, kwargs).map((e) => StarSet.of(e));
    return StarSet.of(s.elems().filter((e) => others.every((o) => !o.has(e))));
  },
  discard: (_c, s: StarSet, args, kwargs) => {
    const x = unpackArgs('discard', args, kwargs, ['elem']).elem!;
    s.checkMutable('delete from');
    s.delete(x);
    return null;
  },
  intersection: (c, s: StarSet, args, kwargs) => {
    const others = setArgs('intersection', c, args, kwargs).map((e) => StarSet.of(e));
    return StarSet.of(s.elems().filter((e) => others.every((o) => o.has(e))));
  },
  issubset: (c, s: StarSet, args, kwargs) => {
    const o = oneIterable('issubset', c, args, kwargs);
    return s.elems().every((e) => o.has(e));
  },
  issuperset: (c, s: StarSet, args, kwargs) => oneIterable('issuperset', c, args, kwargs).elems().every((e) => s.has(e)),
  pop: (_c, s: StarSet, a, k) => {
    noArgs('pop', a, k);
    s.checkMutable('delete from');
    const first = s.elems()[0];
    if (first === undefined) throw new EvalError('pop: empty set');
    s.delete(first);
    return first;
  },
  remove: (_c, s: StarSet, args, kwargs) => {
    const x = unpackArgs('remove', args, kwargs, ['elem']).elem!;
    if (!s.delete(x)) throw new EvalError('remove: missing key');
    return null;
  },
  symmetric_difference: (c, s: StarSet, args, kwargs) => {
    const o = oneIterable('symmetric_difference', c, args, kwargs);
    const out = StarSet.of(s.elems().filter((e) => !o.has(e)));
    for (const e of o.elems()) if (!s.has(e)) out.add(e);
    return out;
  },
  union: (c, s: StarSet, args, kwargs) => {
    const out = StarSet.of(s.elems());
    for (const elems of setArgs('union', c, args, kwargs)) for (const e of elems) out.add(e);
    return out;
  },
  update: (c, s: StarSet, args, kwargs) => {
    const all = setArgs('update', c, args, kwargs);
    s.checkMutable('insert into');
    for (const elems of all) for (const e of elems) s.add(e);
    return null;
  },
});
