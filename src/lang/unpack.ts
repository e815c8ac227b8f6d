// Declarative argument unpacking for builtins (after starlark-go's UnpackArgs) and
// converters with uniform messages (strings come out as JS text, not byte strings): `host.bind: env_port must be an int between 1 and 65535,
// got string "8888"`. All throw EvalError, which the evaluator positions at the call.

import { cutText } from '../errors.js';
import { EvalError, nearest } from './errors.js';
import { toText } from './text.js';
import { describeValue, StarDict, StarList, Tuple, type Value } from './values.js';

/**
 * Matches `args`/`kwargs` against `params`: names in order; a trailing "?" marks an optional
 * parameter. Positional arguments fill parameters in order; keywords match by name.
 * Returns name → value; optional parameters that were not given are undefined.
 * (None passed explicitly is null.)
 */
export function unpackArgs(
  fnName: string,
  args: readonly Value[],
  kwargs: readonly (readonly [string, Value])[],
  params: readonly string[],
): Record<string, Value | undefined> {
  const n = params.length;
  const names = new Array<string>(n);
  let required = 0;
  for (let i = 0; i < n; i++) {
    const p = params[i]!;
    if (p.endsWith('?')) names[i] = p.slice(0, -1);
    else {
      names[i] = p;
      required = i + 1;
    }
  }
  if (args.length > n) {
    throw new EvalError(
      n === 0
        ? `${fnName}: got ${args.length} argument${args.length === 1 ? '' : 's'}, want none`
        : `${fnName}: got ${args.length} arguments, want at most ${n}`,
    );
  }
  const out: Record<string, Value | undefined> = {};
  for (let i = 0; i < n; i++) out[names[i]!] = i < args.length ? args[i] : undefined;
  for (let j = 0; j < kwargs.length; j++) {
    const k = kwargs[j]![0], v = kwargs[j]![1];
    const i = names.indexOf(k);
    if (i < 0) {
      throw new EvalError(`${fnName}: unexpected keyword argument "${cutText(k)}"${nearest(k, names)}`);
    }
    if (out[k] !== undefined) throw new EvalError(`${fnName}: got multiple values for parameter "${k}"`);
    out[k] = v;
  }
  for (let i = 0; i < required; i++) {
    const p = params[i]!;
    if (!p.endsWith('?') && out[names[i]!] === undefined) throw new EvalError(`${fnName}: missing argument for ${names[i]}`);
  }
  return out;
}

/** Throws unless there are no arguments at all. */
export function noArgs(fnName: string, args: readonly Value[], kwargs: readonly (readonly [string, Value])[]): void {
  if (args.length > 0 || kwargs.length > 0) {
    throw new EvalError(kwargs.length > 0 ? `${fnName}: unexpected keyword argument "${kwargs[0]![0]}"` : `${fnName}: got ${args.length} argument${args.length === 1 ? '' : 's'}, want none`);
  }
}

/** An int in [min, max] as a JS number. */
export function toInt(fnName: string, argName: string, v: Value, opts: { min?: number; max?: number } = {}): number {
  const { min, max } = opts;
  const want =
    min !== undefined && max !== undefined
      ? `an int between ${min} and ${max}`
      : min !== undefined
        ? `an int >= ${min}`
        : max !== undefined
          ? `an int <= ${max}`
          : 'an int';
  if (typeof v === 'bigint') {
    const ok = (min === undefined || v >= BigInt(min)) && (max === undefined || v <= BigInt(max)) && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
    if (ok) return Number(v);
    // The value is an int, just out of range: say so, not "must be an int, got int".
    const want2 = min === undefined && max === undefined ? `an int between ${Number.MIN_SAFE_INTEGER} and ${Number.MAX_SAFE_INTEGER}` : want;
    const safe = v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER);
    throw new EvalError(`${fnName}: ${argName} must be ${want2}, got ${safe ? describeValue(v) : shortInt(v)}`);
  }
  throw new EvalError(`${fnName}: ${argName} must be ${want}, got ${describeValue(v)}`);
}

export function toStr(fnName: string, argName: string, v: Value, opts: { nonEmpty?: boolean } = {}): string {
  if (typeof v === 'string' && (!opts.nonEmpty || v.length > 0)) return toText(v);
  throw new EvalError(`${fnName}: ${argName} must be a ${opts.nonEmpty ? 'non-empty ' : ''}string, got ${typeof v === 'string' ? 'an empty string' : describeValue(v)}`);
}

export function toBool(fnName: string, argName: string, v: Value): boolean {
  if (typeof v === 'boolean') return v;
  throw new EvalError(`${fnName}: ${argName} must be a bool (True or False), got ${describeValue(v)}`);
}

/** A list or tuple of strings (or, with `allowSingle`, one string) as a JS array. */
export function toStrList(fnName: string, argName: string, v: Value, opts: { allowSingle?: boolean } = {}): string[] {
  if (typeof v === 'string' && opts.allowSingle) return [toText(v)];
  const want = `a list of strings${opts.allowSingle ? ' or a string' : ''}`;
  if (v instanceof StarList || v instanceof Tuple) {
    const out: string[] = [];
    v.elems.forEach((e, i) => {
      if (typeof e !== 'string') throw new EvalError(`${fnName}: ${argName} must be ${want}, got ${describeValue(e)} at index ${i}`);
      out.push(toText(e));
    });
    return out;
  }
  throw new EvalError(`${fnName}: ${argName} must be ${want}, got ${describeValue(v)}`);
}

/** A dict of string → string as a plain object (keys in insertion order). */
export function toStrDict(fnName: string, argName: string, v: Value): Record<string, string> {
  if (!(v instanceof StarDict)) throw new EvalError(`${fnName}: ${argName} must be a dict of strings, got ${describeValue(v)}`);
  const out: Record<string, string> = {};
  for (const [k, val] of v.entries()) {
    if (typeof k !== 'string') throw new EvalError(`${fnName}: ${argName} keys must be strings, got ${describeValue(k)}`);
    if (typeof val !== 'string') throw new EvalError(`${fnName}: ${argName}[${JSON.stringify(k)}] must be a string, got ${describeValue(val)}`);
    Object.defineProperty(out, toText(k), { value: toText(val), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** An int for a message: in full when short, else its first digits and its size. */
export function shortInt(v: bigint): string {
  const s = v.toString();
  return s.length <= 24 ? s : `${s.slice(0, 12)}... (an int of ${s.replace('-', '').length} digits)`;
}
