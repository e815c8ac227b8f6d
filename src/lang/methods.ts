// Methods of the built-in types: which table a value's type has (string: str-methods.ts; list,
// dict, set: collection-methods.ts; bytes: here), and methods as bound values.

import { Bytes } from './bytes.js';
import { noArgs } from './unpack.js';
import {
  Builtin, spendChars, StarDict, StarList, StarSet, StringIter, type Value,
} from './values.js';
import { dictMethods, listMethods, setMethods } from './collection-methods.js';
import { stringMethods } from './str-methods.js';
import { table, type MethodImpl } from './method-table.js';

export type { MethodImpl } from './method-table.js';
export { updateDict } from './collection-methods.js';

// starlark-go's bytes have one method so far.
const bytesMethods: Record<string, MethodImpl> = table({
  elems: (_c, b: Bytes, a, k) => (noArgs('elems', a, k), new StringIter(b.s, false, true, true)),
});

/** The method table for a value's type, if it has methods. */
export function methodsOf(v: Value): Record<string, MethodImpl> | undefined {
  if (typeof v === 'string') return stringMethods;
  if (v instanceof Bytes) return bytesMethods;
  if (v instanceof StarList) return listMethods;
  if (v instanceof StarDict) return dictMethods;
  if (v instanceof StarSet) return setMethods;
  return undefined;
}

/** `recv.name` as a bound method value, or undefined. */
export function boundMethod(recv: Value, name: string): Builtin | undefined {
  const m = methodsOf(recv)?.[name];
  if (!m) return undefined;
  return new Builtin(name, (call, args, kwargs) => {
    if (typeof recv === 'string') spendChars(recv.length);
    return m(call, recv, args, kwargs);
  }, recv);
}

