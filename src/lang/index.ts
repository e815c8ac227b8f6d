// The public API of the language layer: a small Starlark interpreter.
//
//   const thread = new Thread({ host, predeclared: { host: hostStruct, ... } });
//   const globals = thread.execFile('build.envd', source);   // Map<string, Value>
//   thread.call(globals.get('build')!, [], []);
//
// Builtins are `new Builtin(name, (call, args, kwargs) => Value)`; they check arguments with
// unpackArgs/toInt/toStr/... and report user errors by throwing EvalError (positioned at
// `call.pos` by the evaluator). See values.ts for how Starlark values map to JS.

export { Thread, type Host, type ThreadOptions } from './eval.js';
export { EvalError, InternalError, SourceErrorList } from './errors.js';
export {
  None, StarList, Tuple, StarDict, Range, StarFunction, Builtin, Struct,
  typeName, typeOf, truthy, repr, str, equals, compare, freeze, describeValue, formatFloat, quote,
  type Value, type NoneType, type CallInfo, type BuiltinImpl, type StructOptions, type MissingAttrHook,
} from './values.js';
export { unpackArgs, noArgs, toInt, toStr, toBool, toStrList, toStrDict } from './unpack.js';
export { UNIVERSE, isCallable } from './builtins.js';
export { parseFile } from './parser.js';
