// What every method table shares: the method signature, argument checks, and tables without
// a prototype (so `table[name]` is safe for any name).

import { EvalError } from './errors.js';
import { typeName, type CallInfo, type Value } from './values.js';

export type MethodImpl = (call: CallInfo, recv: any, args: Value[], kwargs: [string, Value][]) => Value;

export type KW = [string, Value][];

export function strArg(fn: string, name: string, v: Value | undefined): string {
  if (typeof v !== 'string') throw new EvalError(`${fn}: ${name} must be a string, not ${typeName(v ?? null)}`);
  return v;
}

export function optStrArg(fn: string, name: string, v: Value | undefined): string | undefined {
  return v === undefined || v === null ? undefined : strArg(fn, name, v);
}

export function intArg(fn: string, name: string, v: Value | undefined, def: number): number {
  if (v === undefined || v === null) return def;
  if (typeof v !== 'bigint') throw new EvalError(`${fn}: for parameter ${name}: got ${typeName(v)}, want int`);
  return v > 1_000_000_000_000n ? 1e12 : v < -1_000_000_000_000n ? -1e12 : Number(v);
}

/** A method table without a prototype, so `table[name]` is safe for any name. */
export function table(methods: Record<string, MethodImpl>): Record<string, MethodImpl> {
  return Object.assign(Object.create(null) as Record<string, MethodImpl>, methods);
}
