// The public API of the language layer: a small Starlark interpreter (after google/starlark-go:
// scanner → parser → resolver → tree-walking evaluator).
//
//   const thread = new Thread({ host, predeclared: { host: hostStruct, ... } });
//   const globals = thread.execFile('build.envd', source);   // Map<string, Value>
//   thread.call(globals.get('build')!, [], []);
//
// Values: see values.ts (None is null, ints are bigint, floats are number, ...).
// Strings are UTF-8 byte strings (one JS char per byte, as starlark-go counts them): toStr,
// toStrList and toStrDict hand builtins JS text; a builtin returning non-ASCII text wraps it in
// fromText (text.ts).
// Builtins: `new Builtin(name, (call, args, kwargs) => Value)`; check arguments with
// unpackArgs/toInt/toStr/toBool/toStrList/toStrDict and report user mistakes by throwing
// EvalError(message, hint?) — the evaluator positions it at `call.pos` (the callee's start).
// Any other exception from a builtin becomes an InternalError (a SourceError with exit code 1).
// Errors: SourceError (scanner/parser: the first error; runtime: where it happened) or, when
// the resolver finds several problems in a file, SourceErrorList.
// Limits: evaluation is bounded by a deterministic budget of cost units (maxSteps, default
// 1,000,000, shared by everything the thread runs): every statement, loop iteration and call
// costs one, and builtins and operators pay for every element they touch (values.ts: spend);
// strings/lists built by operations are capped at
// maxAlloc elements (default 10,000,000); recursion is an error; calls nest at most 400 deep.

export { Thread, type Host, type ThreadOptions } from './eval.js';
export { EvalError, InternalError, SourceErrorList } from './errors.js';
export {
  None, StarList, Tuple, StarDict, StarSet, Range, StringIter, StarFunction, Builtin, Struct,
  typeName, typeOf, truthy, repr, str, quoted, equals, compare, freeze, describeValue, formatFloat, quote,
  type Value, type NoneType, type CallInfo, type BuiltinImpl, type StructOptions, type MissingAttrHook,
} from './values.js';
export { unpackArgs, noArgs, toInt, toStr, toBool, toStrList, toStrDict, shortInt } from './unpack.js';
export { UNIVERSE, isCallable } from './builtins.js';
export { parseFile } from './parser.js';
export { Bytes } from './bytes.js';
export { fromText, toText } from './text.js';
