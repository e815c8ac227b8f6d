// Equality and ordering of values (==, <, sorted()), as starlark-go defines them.
// Part of the value model (values.ts re-exports them).

import { EvalError } from './errors.js';
import { Bytes } from './bytes.js';
import { Range, StarDict, StarList, StarSet, Tuple, spend, spendChars, typeName, type Value } from './values.js';

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
