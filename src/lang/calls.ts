// The evaluator's calls: argument evaluation (*args, **kwargs), binding to a function's
// parameters, builtins and methods (with their cost), and Starlark functions (depth, recursion).

import { cutText, type Position } from '../errors.js';
import type { CallExpr } from './ast.js';
import type { Thread } from './eval.js';
import { EvalError, InternalError, nearest } from './errors.js';
import { execBlock } from './exec.js';
import { evalExpr } from './expr.js';
import { rethrow, stepsExceeded, type Frame, type Module } from './frame.js';
import { fromText, toText } from './text.js';
import { methodsOf } from './methods.js';
import { cleanPos } from './scanner.js';
import { Builtin, iterElems, spend, spendChars, StarDict, StarFunction, StarList, StarSet, Tuple, typeName, type Value } from './values.js';

/** Shared by calls without keyword arguments (frozen: builtins must not modify their kwargs). */
const EMPTY_KW = Object.freeze([]) as unknown as [string, Value][];

export function callValue(th: Thread, fn: Value, args: Value[], kwargs: [string, Value][], pos: Position): Value {
  if (fn instanceof StarFunction) return callFunction(th, fn, args, kwargs, pos);
  if (fn instanceof Builtin) return callBuiltin(th, fn, args, kwargs, pos);
  throw th.error(pos, `invalid call of non-function (${typeName(fn)})`);
}

/** Builtins that look at their argument, not into it: they cost one step whatever its size. */
const CONSTANT_COST = new Set(['len', 'type', 'bool', 'hasattr', 'getattr', 'repr', 'str', 'print', 'fail']);

function callBuiltin(th: Thread, fn: Builtin, args: Value[], kwargs: [string, Value][], pos: Position): Value {
  if (++th.steps > th.maxSteps) stepsExceeded(th, pos);
  let r: Value;
  try {
    // Other builtins go through their arguments (list(), sorted(), zip(), dict(), ...).
    if (fn.recv === undefined && !CONSTANT_COST.has(fn.name)) {
      for (let i = 0; i < args.length; i++) spend(sizeOf(args[i]!));
      for (let i = 0; i < kwargs.length; i++) spend(sizeOf(kwargs[i]![1]));
    }
    r = fn.impl({ pos: cleanPos(pos), thread: th }, args, kwargs);
  } catch (err) {
    rethrow(th, err, pos);
  }
  if (r === undefined) throw new InternalError(cleanPos(pos), `internal error: builtin ${fn.name} returned undefined`, th.lineText(pos));
  return r;
}

function sizeOf(v: Value): number {
  if (typeof v === 'string') return Math.floor(v.length / 16);
  if (v instanceof StarList || v instanceof Tuple) return v.elems.length;
  if (v instanceof StarDict || v instanceof StarSet) return v.size;
  return 0; // a range is counted when it is materialized
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function callFunction(th: Thread, fn: StarFunction, args: Value[], kwargs: [string, Value][], pos: Position): Value {
  const code = fn.code;
  if (code.busy && !th.recursion) throw th.error(pos, `function ${code.name} called recursively`, 'recursion is not allowed in Starlark; use a loop');
  if (th.depth >= th.maxCallDepth) throw th.error(pos, `Starlark stack overflow: call stack too deep (more than ${th.maxCallDepth} nested calls)`);
  if (++th.steps > th.maxSteps) stepsExceeded(th, pos);
  const locals = new Array<Value>(code.nlocals);
  const npos = code.numPositional;
  if (kwargs.length === 0 && args.length === npos && code.numKwonly === 0 && !code.hasVarargs && !code.hasKwargs) {
    for (let i = 0; i < npos; i++) locals[i] = args[i]!;
  } else {
    bindArgs(th, fn, locals, args, kwargs, pos);
  }
  const fr: Frame = { th, locals, env: fn.env, module: fn.module as Module, ret: null };
  const wasBusy = code.busy;
  code.busy = true;
  th.depth++;
  try {
    execBlock(code.body, fr);
  } finally {
    code.busy = wasBusy;
    th.depth--;
  }
  return fr.ret;
}

function bindArgs(th: Thread, fn: StarFunction, locals: Value[], args: Value[], kwargs: [string, Value][], pos: Position): void {
  const code = fn.code;
  const name = code.name;
  const npos = code.numPositional;
  const nparams = npos + code.numKwonly;
  let n = args.length;
  if (n > npos) {
    if (!code.hasVarargs) {
      throw th.error(pos, `function ${name} accepts ${npos === 0 ? 'no positional arguments' : `at most ${plural(npos, 'positional argument')}`} (${n} given)`);
    }
    n = npos;
  }
  for (let i = 0; i < n; i++) locals[i] = args[i]!;
  if (code.hasVarargs) locals[nparams] = new Tuple(args.length > npos ? args.slice(npos) : []);
  let kwdict: StarDict | undefined;
  if (code.hasKwargs) {
    kwdict = new StarDict();
    locals[nparams + (code.hasVarargs ? 1 : 0)] = kwdict;
  }
  const names = code.paramNames;
  for (let a = 0; a < kwargs.length; a++) {
    const [k, v] = kwargs[a]!;
    let i = -1;
    for (let j = 0; j < nparams; j++) {
      if (names[j] === k) {
        i = j;
        break;
      }
    }
    if (i >= 0) {
      if (locals[i] !== undefined) throw th.error(pos, `function ${name} got multiple values for parameter "${k}"`);
      locals[i] = v;
    } else if (kwdict) {
      // Keyword names are JS text (identifiers); as dict keys they are byte strings.
      const key = fromText(k);
      if (kwdict.has(key)) throw th.error(pos, `function ${name} got multiple values for parameter "${k}"`);
      kwdict.set(key, v);
    } else {
      throw th.error(pos, `function ${name} got an unexpected keyword argument "${cutText(k)}"${nearest(k, names.slice(0, nparams))}`);
    }
  }
  let missing: string[] | undefined;
  for (let i = 0; i < nparams; i++) {
    if (locals[i] === undefined) {
      const d = fn.defaults[i];
      if (d === undefined) (missing ??= []).push(names[i]!);
      else locals[i] = d;
    }
  }
  if (missing) throw th.error(pos, `function ${name} missing ${plural(missing.length, 'argument')} (${missing.join(', ')})`);
}

/** Keyword arguments of the last evalArgs call (read right after it returns). */
let lastKwargs: [string, Value][] = EMPTY_KW;

/**
 * Evaluates the arguments of a call: returns the positional ones, sets lastKwargs. `builtin`: the
 * name of the builtin or method called, for starlark-go's words on a keyword given twice.
 */
function evalArgs(e: CallExpr, fr: Frame, builtin?: string): Value[] {
  const args: Value[] = [];
  const list = e.args;
  if (e.simple) {
    for (let i = 0; i < list.length; i++) args.push(evalExpr(list[i]!.value, fr));
    lastKwargs = EMPTY_KW;
    return args;
  }
  const kwargs: [string, Value][] = [];
  const th = fr.th;
  for (let i = 0; i < list.length; i++) {
    const a = list[i]!;
    const v = evalExpr(a.value, fr);
    switch (a.kind) {
      case 'pos':
        args.push(v);
        break;
      case 'named':
        kwargs.push([a.name!, v]);
        break;
      case 'star': {
        let elems: readonly Value[] | undefined;
        try {
          elems = iterElems(v, th.maxAlloc);
        } catch (err) {
          rethrow(th, err, a.pos);
        }
        if (!elems) throw th.error(a.pos, `argument after * must be iterable, not ${typeName(v)}`);
        for (let k = 0; k < elems.length; k++) args.push(elems[k]!);
        break;
      }
      case 'starstar': {
        if (!(v instanceof StarDict)) throw th.error(a.pos, `argument after ** must be a dict, not ${typeName(v)}`);
        for (const [k, x] of v.entries()) {
          if (typeof k !== 'string') throw th.error(a.pos, `keywords must be strings, not ${typeName(k)}`);
          const name = toText(k);
          if (kwargs.some(([n]) => n === name)) {
            throw th.error(a.pos, builtin === undefined ? `got multiple values for parameter "${name}"` : `${builtin}: duplicate keyword arg: "${name}"`);
          }
          kwargs.push([name, x]);
        }
        break;
      }
    }
  }
  lastKwargs = kwargs;
  return args;
}

export function evalCall(e: CallExpr, fr: Frame): Value {
  const th = fr.th;
  const f = e.fn;
  let fn: Value;
  if (f.kind === 'Dot') {
    const recv = evalExpr(f.x, fr);
    const m = methodsOf(recv)?.[f.name];
    if (m !== undefined) {
      const args = evalArgs(e, fr, f.name);
      const kwargs = lastKwargs;
      if (++th.steps > th.maxSteps) stepsExceeded(th, e.pos);
      let r: Value;
      try {
        // A string method scans its string (the touches of other methods are counted inside them).
        if (typeof recv === 'string') spendChars(recv.length);
        r = m({ pos: e.pos, thread: th }, recv, args, kwargs);
      } catch (err) {
        // As starlark-go does, a method's error names the method: "add: cannot insert into ...".
        if (err instanceof EvalError && !err.message.startsWith(`${f.name}:`)) err.message = `${f.name}: ${err.message}`;
        rethrow(th, err, e.pos);
      }
      return r;
    }
    try {
      fn = th.getAttr(recv, f.name, f.pos, true)!;
    } catch (err) {
      rethrow(th, err, f.pos);
    }
  } else {
    fn = evalExpr(f, fr);
  }
  const args = evalArgs(e, fr, fn instanceof Builtin ? fn.name : undefined);
  return callValue(th, fn, args, lastKwargs, e.pos);
}
