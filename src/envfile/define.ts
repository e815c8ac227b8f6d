// Small helpers to declare env-file builtins: each is a named function with declared parameters
// that records into the Recorder and returns None.
import { formatPosition } from '../errors.js';
import { Builtin, describeValue, EvalError, None, shortInt, toInt, toStr, toText, typeOf, unpackArgs, type CallInfo, type Value } from '../lang/index.js';

export type Args = Record<string, Value | undefined>;

/**
 * A builtin called `fullName` (e.g. "host.bind") taking `params` ("env_port", "host_port?", ...).
 * `body` gets the unpacked arguments and the call's position as "file:line:col".
 */
export function define(
  fullName: string,
  params: string[],
  body: (args: Args, position: string, call: CallInfo) => Value | void,
): Builtin {
  return new Builtin(fullName, (call, args, kwargs) => {
    const unpacked = unpackArgs(fullName, args, kwargs, params);
    const result = body(unpacked, formatPosition(call.pos), call);
    return result === undefined ? None : result;
  });
}

/** A value was given and is not None. */
export function given(v: Value | undefined): v is Value {
  return v !== undefined && v !== None;
}

/**
 * A port argument. Only the type is checked here; the range is checked with the whole plan, so
 * that every out-of-range port is reported at once.
 */
export function portArg(fn: string, arg: string, v: Value, min: 0 | 1 = 1): number {
  if (typeof v !== 'bigint') throw new EvalError(`${fn}: ${arg} must be an int between ${min} and 65535, got ${describeValue(v)}`);
  // Far out of range is reported now (the plan holds JS numbers); the rest with the whole plan.
  if (v < -(1n << 31n) || v > 1n << 31n) throw new EvalError(`${fn}: ${arg} must be an int between ${min} and 65535, got ${shortInt(v)}`);
  return toInt(fn, arg, v);
}

/** An optional string argument: undefined when absent or None. */
export function optStr(fn: string, a: Args, name: string): string | undefined {
  return given(a[name]) ? toStr(fn, name, a[name]!) : undefined;
}

/**
 * An optional secret string (a password, a token): like optStr, but a wrong value is described
 * by its type alone, so no error ever echoes a secret.
 */
export function optSecret(fn: string, a: Args, name: string): string | undefined {
  const v = a[name];
  if (!given(v)) return undefined;
  if (typeof v !== 'string') throw new EvalError(`${fn}: ${name} must be a string, got a value of type ${typeOf(v)} (not shown: it is a secret)`);
  return toText(v);
}
