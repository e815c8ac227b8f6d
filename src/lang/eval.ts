// The evaluator: a tree walker over the resolved syntax tree, and the Thread that runs files.
//
// Frames are arrays of slots (the resolver numbered them); enclosing functions' frames are
// reached through `env[level]`. Control flow uses return codes, not exceptions. Every
// statement, loop iteration and call costs a step; the Thread stops at `maxSteps`.

import { cutText, SourceError, UserError, type Position } from '../errors.js';
import { Scope } from './ast.js';
import type { CallExpr, Comprehension, Expr, FunCode, Ident, Param, Stmt } from './ast.js';
import { UNIVERSE, attrNames } from './builtins.js';
import { EvalError, InternalError, nearest, isStackOverflow, lineOf, SourceErrorList, STACK_OVERFLOW } from './errors.js';
import { fromText, messageText, toText } from './text.js';
import { boundMethod, methodsOf } from './methods.js';
import { binary, checkSize, index, setIndex, slice, unary, type Budget } from './ops.js';
import { parseFile } from './parser.js';
import { resolveFile } from './resolve.js';
import { cleanPos } from './scanner.js';
import {
  Builtin, freeze, quoted, iterElems, Range, setMeter, StringIter, spend, spendChars, StarDict, StarFunction, StarList, StarSet, Struct, truthy, Tuple, typeName,
  type CallInfo, type Meter, type ModuleRef, type Value,
} from './values.js';

/** What the interpreter needs from its embedder. The interpreter itself does no I/O. */
export interface Host {
  /**
   * Reads the module named by `load(module, ...)` in `fromFile`. `file` names it in positions;
   * `key` (default: `file`) identifies it for the cache and cycle detection (e.g. its real path).
   */
  load(fromFile: string, module: string, pos: Position): { file: string; source: string; key?: string };
  /** Receives the output of print(). */
  print(message: string, pos: Position): void;
}

export interface ThreadOptions {
  host: Host;
  /** Names visible in every file (in addition to the universe builtins), e.g. host builtins. */
  predeclared?: Record<string, Value> | ReadonlyMap<string, Value>;
  /** Budget in cost units shared by everything this thread runs (default 1,000,000; see Meter). */
  maxSteps?: number;
  /** Maximum size of a string/list/tuple built by an operation (default 10,000,000). */
  maxAlloc?: number;
  /** Maximum depth of nested Starlark calls (default 400). */
  maxCallDepth?: number;
  /** Allow a function to call itself (starlark-go's -recursion; off by default, as in envd). */
  recursion?: boolean;
  /** Accept `while` loops in functions (starlark-go's dialect option; off by default, as in envd). */
  while?: boolean;
  /** Called before each top-level statement of the file execFile runs (not of loaded modules): test harnesses. */
  onTopLevel?: (pos: Position) => void;
}

interface Module extends ModuleRef {
  source: string;
  index: Map<string, number>;
  /** Names bound by load(): local to the file, not exported to modules that load it. */
  loadBound: Set<string>;
}

interface Frame {
  th: Thread;
  locals: Value[];
  env: Value[][];
  module: Module;
  ret: Value;
}

const NORMAL = 0;
const BREAK = 1;
const CONTINUE = 2;
const RETURN = 3;

/**
 * The default budget: a 5,000-line env file uses about 50,000 units; the worst few-line files
 * (bench/hostile.ts) stop within about a second at this budget.
 */
export const DEFAULT_BUDGET = 1_000_000;

/** Shared by calls without keyword arguments (frozen: builtins must not modify their kwargs). */
const EMPTY_KW = Object.freeze([]) as unknown as [string, Value][];

export class Thread implements Budget, Meter {
  readonly host: Host;
  readonly predeclared: ReadonlyMap<string, Value>;
  maxSteps: number;
  readonly maxAlloc: number;
  readonly maxCallDepth: number;
  readonly recursion: boolean;
  readonly allowWhile: boolean;
  private readonly onTopLevel: ((pos: Position) => void) | undefined;
  /** Steps used so far (cumulative over execFile and call). */
  steps = 0;
  /** Current depth of Starlark calls. */
  depth = 0;
  /** Position of the statement being executed (for errors without a better position). */
  lastPos: Position | undefined;
  /** Free storage for the host (e.g. a warnings list): thread.local.get('warnings'). */
  readonly local = new Map<string, unknown>();

  private readonly modules = new Map<string, Module | 'loading'>();
  private readonly loadStack: { file: string; key: string }[] = [];
  private readonly sources = new Map<string, string>();
  private entered = 0;

  constructor(opts: ThreadOptions) {
    this.host = opts.host;
    this.predeclared = opts.predeclared instanceof Map ? opts.predeclared : new Map(Object.entries(opts.predeclared ?? {}));
    this.maxSteps = opts.maxSteps ?? DEFAULT_BUDGET;
    this.maxAlloc = opts.maxAlloc ?? 10_000_000;
    this.maxCallDepth = opts.maxCallDepth ?? 400;
    this.recursion = opts.recursion ?? false;
    this.allowWhile = opts.while ?? false;
    this.onTopLevel = opts.onTopLevel;
  }

  /**
   * Scans, parses, resolves and executes a file; returns its globals.
   * Throws SourceError, or SourceErrorList when the resolver finds several problems.
   */
  execFile(file: string, source: string, key: string = file): Map<string, Value> {
    // Until a statement runs, an error with no better place is at the file's start, not nowhere.
    this.lastPos = { file, line: 1, col: 1 };
    return this.guard(() => {
      const mod = this.execModule(file, source, key);
      const out = new Map<string, Value>();
      mod.names.forEach((name, i) => {
        const v = mod.globals[i];
        if (v !== undefined) out.set(name, v);
      });
      return out;
    });
  }

  /** Calls a Starlark function or builtin (from the host or from a builtin). */
  call(fn: Value, args: Value[], kwargs: [string, Value][], pos?: Position): Value {
    return this.guard(() => {
      const p = pos ?? (fn instanceof StarFunction ? fn.pos : this.lastPos ?? { file: '<host>', line: 1, col: 1 });
      return callValue(this, fn, args, kwargs, p);
    });
  }

  /**
   * `x.name`: a struct field or a bound method. With `strict`, a missing attribute throws
   * EvalError (naming the likely attribute); otherwise it returns undefined.
   */
  getAttr(x: Value, name: string, pos: Position, strict: boolean): Value | undefined {
    if (x instanceof Struct) {
      const v = x.fields.get(name);
      if (v !== undefined) return v;
      if (x.onMissingAttr) {
        const alt = x.onMissingAttr(name, cleanPos(pos), this);
        if (alt !== undefined) return alt;
      }
      if (!strict) return undefined;
      throw noAttr(x.name, name, x.fields.keys());
    }
    const m = boundMethod(x, name);
    if (m) return m;
    if (!strict) return undefined;
    throw noAttr(typeName(x), name, attrNames(x));
  }

  /** Touches not yet converted into cost units (see Meter). */
  work = 0;

  /** Budget: charges the touches of building or scanning a value of `n` elements. */
  charge(n: number): void {
    spend(n);
  }

  overBudget(): EvalError {
    return new EvalError(this.stepsMessage(), 'evaluation is bounded so that no file runs for long; look for a loop that does far more work than intended');
  }

  stepsMessage(): string {
    return `evaluation exceeded its budget of ${this.maxSteps} cost units (an infinite loop?)`;
  }

  /** The text of the line at `pos`, for SourceError's caret display. */
  lineText(pos: Position): string | undefined {
    const src = this.sources.get(pos.file);
    return src === undefined ? undefined : lineOf(src, pos.line);
  }

  error(pos: Position, message: string, hint?: string): SourceError {
    // Messages quote values as byte strings: shown as text (text.ts).
    return new SourceError(cleanPos(pos), messageText(message), hint === undefined ? undefined : messageText(hint), this.lineText(pos));
  }

  private guard<T>(f: () => T): T {
    const outer = this.entered === 0;
    this.entered++;
    const outerMeter = setMeter(this);
    try {
      return f();
    } catch (err) {
      if (!outer) throw err;
      throw this.finalError(err);
    } finally {
      this.entered--;
      setMeter(outerMeter);
    }
  }

  private finalError(err: unknown): Error {
    if (err instanceof SourceError || err instanceof SourceErrorList) return err;
    const pos = this.lastPos ?? { file: '<unknown>', line: 1, col: 1 };
    if (err instanceof EvalError || (err instanceof UserError && !(err instanceof SourceError))) {
      return this.error(pos, err.message, (err as EvalError).hint);
    }
    if (isStackOverflow(err)) {
      return this.error(pos, STACK_OVERFLOW);
    }
    return new InternalError(cleanPos(pos), `internal error: ${err instanceof Error ? err.message : String(err)}`, this.lineText(pos), err);
  }

  private loadModule(fromFile: string, module: string, pos: Position): Module {
    let res: { file: string; source: string; key?: string };
    try {
      res = this.host.load(fromFile, module, pos);
    } catch (err) {
      rethrow(this, err, pos);
    }
    const key = res.key ?? res.file;
    const cached = this.modules.get(key);
    if (cached === 'loading') {
      const start = this.loadStack.findIndex((m) => m.key === key);
      const names = this.loadStack.slice(start).map((m) => m.file);
      throw this.error(pos, `cycle in load graph: ${[...names, res.file].join(' -> ')}`);
    }
    return cached ?? this.execModule(res.file, res.source, key);
  }

  private execModule(file: string, source: string, key: string): Module {
    this.sources.set(file, source);
    this.modules.set(key, 'loading');
    this.loadStack.push({ file, key });
    try {
      const ast = parseFile(file, source, { while: this.allowWhile });
      this.sources.set(file, ast.source);
      const rf = resolveFile(ast, { predeclared: this.predeclared, universe: UNIVERSE });
      const mod: Module = {
        file,
        source: ast.source,
        globals: new Array<Value>(rf.globals.length),
        names: rf.globals,
        index: new Map(rf.globals.map((n, i) => [n, i])),
        loadBound: new Set(rf.stmts.flatMap((st) => (st.kind === 'Load' ? st.names.map((n) => n.to.name) : []))),
      };
      const fr: Frame = { th: this, locals: new Array<Value>(rf.nlocals), env: [], module: mod, ret: null };
      if (this.onTopLevel && this.loadStack.length === 1) {
        for (const st of rf.stmts) {
          this.onTopLevel(cleanPos(st.pos));
          execStmt(st, fr);
        }
      } else {
        execBlock(rf.stmts, fr);
      }
      for (let i = 0; i < mod.globals.length; i++) if (mod.globals[i] !== undefined) freeze(mod.globals[i]!);
      this.modules.set(key, mod);
      return mod;
    } catch (err) {
      this.modules.delete(key);
      throw err;
    } finally {
      this.loadStack.pop();
    }
  }

  /** Runs a load statement (called by the evaluator). */
  execLoad(s: Extract<Stmt, { kind: 'Load' }>, fr: Frame): void {
    const mod = this.loadModule(fr.module.file, s.module, s.modulePos);
    for (let j = 0; j < s.names.length; j++) {
      const n = s.names[j]!;
      const i = mod.loadBound.has(n.from) ? undefined : mod.index.get(n.from);
      const v = i === undefined ? undefined : mod.globals[i];
      if (v === undefined) {
        const exported = mod.names.filter((name, k) => mod.globals[k] !== undefined && !name.startsWith('_') && !mod.loadBound.has(name));
        throw this.error(n.fromPos, `load: name ${n.from} not found in module ${s.module}${nearest(n.from, exported)}`);
      }
      assignIdent(n.to, v, fr);
    }
  }
}

/** starlark-go's words, the likely name included: `string has no .fin field or method (did you mean .find?)`. */
function noAttr(what: string, name: string, names: Iterable<string>): EvalError {
  return new EvalError(`${what} has no .${cutText(name)} field or method${nearest(name, names, '.')}`);
}

/** Converts an exception from a builtin or an operation into a positioned error. */
function rethrow(th: Thread, err: unknown, pos: Position): never {
  if (err instanceof SourceError || err instanceof SourceErrorList) throw err;
  if (err instanceof EvalError) throw th.error(pos, err.message, err.hint);
  if (err instanceof UserError) throw th.error(pos, err.message, err.hint);
  if (isStackOverflow(err)) throw err;
  throw new InternalError(cleanPos(pos), `internal error: ${err instanceof Error ? err.message : String(err)}`, th.lineText(pos), err);
}

function stepsExceeded(th: Thread, pos: Position): never {
  const e = th.overBudget();
  throw th.error(pos, e.message, e.hint);
}

// ---- statements ----

function execBlock(stmts: Stmt[], fr: Frame): number {
  for (let i = 0, n = stmts.length; i < n; i++) {
    const r = execStmt(stmts[i]!, fr);
    if (r !== NORMAL) return r;
  }
  return NORMAL;
}

function execStmt(s: Stmt, fr: Frame): number {
  const th = fr.th;
  if (++th.steps > th.maxSteps) stepsExceeded(th, s.pos);
  th.lastPos = s.pos;
  switch (s.kind) {
    case 'Expr':
      evalExpr(s.expr, fr);
      return NORMAL;
    case 'Assign':
      if (s.op === '=') assign(s.lhs, evalExpr(s.rhs, fr), fr);
      else augmented(s.lhs, s.op.slice(0, -1), s.rhs, s.pos, fr);
      return NORMAL;
    case 'If':
      return execBlock(truthy(evalExpr(s.cond, fr)) ? s.then : s.els, fr);
    case 'For':
      return execFor(s, fr);
    case 'While':
      // Each test of the condition costs a step, so an endless loop ends at the budget.
      for (;;) {
        if (++th.steps > th.maxSteps) stepsExceeded(th, s.pos);
        if (!truthy(evalExpr(s.cond, fr))) return NORMAL;
        const r = execBlock(s.body, fr);
        if (r === BREAK) return NORMAL;
        if (r === RETURN) return r;
      }
    case 'Return':
      fr.ret = s.value ? evalExpr(s.value, fr) : null;
      return RETURN;
    case 'Break':
      return BREAK;
    case 'Continue':
      return CONTINUE;
    case 'Pass':
      return NORMAL;
    case 'Def':
      assignIdent(s.name, makeFunction(fr, s.code!, s.params), fr);
      return NORMAL;
    case 'Load':
      th.execLoad(s, fr);
      return NORMAL;
  }
}

function execFor(s: Extract<Stmt, { kind: 'For' }>, fr: Frame): number {
  const th = fr.th;
  const it = evalExpr(s.iter, fr);
  if (it instanceof Range) {
    const step = it.step;
    let v = it.start;
    for (let i = 0, n = it.length; i < n; i++, v += step) {
      if (++th.steps > th.maxSteps) stepsExceeded(th, s.pos);
      assign(s.vars, v, fr);
      const r = execBlock(s.body, fr);
      if (r === BREAK) break;
      if (r === RETURN) return r;
    }
    return NORMAL;
  }
  const elems = beginIter(fr, it, s.iter);
  try {
    for (let i = 0; i < elems.length; i++) {
      if (++th.steps > th.maxSteps) stepsExceeded(th, s.pos);
      assign(s.vars, elems[i]!, fr);
      const r = execBlock(s.body, fr);
      if (r === BREAK) break;
      if (r === RETURN) return r;
    }
  } finally {
    endIter(it);
  }
  return NORMAL;
}

/**
 * The elements to iterate over (not for a Range). Lists and dicts are locked against
 * modification until endIter.
 */
function beginIter(fr: Frame, it: Value, at: Expr): readonly Value[] {
  if (it instanceof StarList) {
    it.itercount++;
    return it.elems;
  }
  if (it instanceof Tuple) return it.elems;
  if (it instanceof StarDict) {
    it.itercount++;
    return it.keys();
  }
  if (it instanceof StarSet) {
    it.itercount++;
    return it.elems();
  }
  if (it instanceof StringIter) return it.elems();
  throw fr.th.error(
    startOf(at),
    `${typeName(it)} value is not iterable`,
    typeof it === 'string' ? 'strings are not iterable; use s.elems() for the characters' : undefined,
  );
}

function endIter(it: Value): void {
  if (it instanceof StarList || it instanceof StarDict || it instanceof StarSet) it.itercount--;
}

function startOf(e: Expr): Position {
  for (;;) {
    if (e.kind === 'Binary' || e.kind === 'Index' || e.kind === 'Slice' || e.kind === 'Dot') e = e.x;
    else if (e.kind === 'Cond') e = e.then;
    else if (e.kind === 'Tuple' && e.elems.length > 0) e = e.elems[0]!;
    else return e.pos;
  }
}

function assignIdent(id: Ident, v: Value, fr: Frame): void {
  if (id.scope === Scope.Local) fr.locals[id.index] = v;
  else if (id.scope === Scope.Global) fr.module.globals[id.index] = v;
  else throw fr.th.error(id.pos, `cannot assign to ${id.name}`);
}

function assign(target: Expr, v: Value, fr: Frame): void {
  switch (target.kind) {
    case 'Ident':
      assignIdent(target, v, fr);
      return;
    case 'Index': {
      const x = evalExpr(target.x, fr);
      const i = evalExpr(target.index, fr);
      try {
        setIndex(x, i, v);
      } catch (err) {
        rethrow(fr.th, err, target.pos);
      }
      return;
    }
    case 'Dot':
      setAttr(fr.th, evalExpr(target.x, fr), target.name, v, target.pos);
      return;
    case 'Tuple':
    case 'List': {
      const elems = v instanceof StarList || v instanceof Tuple ? v.elems : undefined;
      const targets = target.elems;
      let vals = elems;
      if (!vals) {
        try {
          vals = iterElems(v, fr.th.maxAlloc);
        } catch (err) {
          rethrow(fr.th, err, startOf(target));
        }
      }
      if (!vals) throw fr.th.error(startOf(target), `got ${typeName(v)} in sequence assignment`, typeof v === 'string' ? 'strings are not iterable' : undefined);
      if (vals.length !== targets.length) {
        throw fr.th.error(
          startOf(target),
          `${vals.length > targets.length ? 'too many' : 'too few'} values to unpack (got ${vals.length}, want ${targets.length})`,
        );
      }
      for (let i = 0; i < targets.length; i++) assign(targets[i]!, vals[i]!, fr);
      return;
    }
  }
  throw fr.th.error(startOf(target), 'cannot assign to this expression');
}

function augmented(lhs: Expr, op: string, rhs: Expr, pos: Position, fr: Frame): void {
  const th = fr.th;
  switch (lhs.kind) {
    case 'Ident': {
      const old = evalExpr(lhs, fr);
      assignIdent(lhs, combine(th, op, old, evalExpr(rhs, fr), pos), fr);
      return;
    }
    case 'Index': {
      const x = evalExpr(lhs.x, fr);
      const i = evalExpr(lhs.index, fr);
      let old: Value;
      try {
        old = index(x, i);
      } catch (err) {
        rethrow(th, err, lhs.pos);
      }
      const nv = combine(th, op, old, evalExpr(rhs, fr), pos);
      try {
        setIndex(x, i, nv);
      } catch (err) {
        rethrow(th, err, lhs.pos);
      }
      return;
    }
    case 'Dot': {
      const x = evalExpr(lhs.x, fr);
      let old: Value;
      try {
        old = th.getAttr(x, lhs.name, lhs.pos, true)!;
      } catch (err) {
        rethrow(th, err, lhs.pos);
      }
      setAttr(th, x, lhs.name, combine(th, op, old, evalExpr(rhs, fr), pos), lhs.pos);
      return;
    }
  }
  throw th.error(startOf(lhs), 'cannot assign to this expression');
}

/** x.name = v: only host structs that accept it (StructOptions.onSetAttr). */
function setAttr(th: Thread, x: Value, name: string, v: Value, pos: Position): void {
  const set = x instanceof Struct ? x.opts.onSetAttr : undefined;
  if (!set) throw th.error(pos, `cannot assign to attribute "${name}" of ${typeName(x)}`, x instanceof Struct ? 'structs are read-only' : undefined);
  try {
    set(x as Struct, name, v);
  } catch (err) {
    rethrow(th, err, pos);
  }
}

/** old op y for an augmented assignment; list += iterable extends the list in place. */
function combine(th: Thread, op: string, old: Value, y: Value, pos: Position): Value {
  try {
    // list += iterable extends in place (anything else is list + y).
    const elems = op === '+' && old instanceof StarList ? iterElems(y, th.maxAlloc) : undefined;
    if (elems && old instanceof StarList) {
      if (old.frozen) throw new EvalError('cannot apply += to frozen list');
      old.checkMutable('extend');
      const n = old.elems.length + elems.length;
      if (n > 1024) checkSize(th, n, 'list');
      for (let i = 0, m = elems.length; i < m; i++) old.elems.push(elems[i]!);
      return old;
    }
    if (op === '|' && old instanceof StarDict && y instanceof StarDict) {
      // dict |= dict updates in place: other names for the same dict see the change.
      old.checkMutable('update');
      for (const [k, v] of y.entries()) old.set(k, v);
      return old;
    }
    return binary(th, op, old, y);
  } catch (err) {
    rethrow(th, err, pos);
  }
}

function makeFunction(fr: Frame, code: FunCode, params: Param[]): StarFunction {
  const defaults = new Array<Value | undefined>(code.numPositional + code.numKwonly);
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!;
    if (p.kind === 'default') defaults[p.name!.index] = evalExpr(p.default!, fr);
  }
  const env = fr.env.slice();
  env.push(fr.locals);
  return new StarFunction(code, defaults, env, fr.module);
}

// ---- calls ----

function callValue(th: Thread, fn: Value, args: Value[], kwargs: [string, Value][], pos: Position): Value {
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

function evalCall(e: CallExpr, fr: Frame): Value {
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

// ---- expressions ----

function evalExpr(e: Expr, fr: Frame): Value {
  switch (e.kind) {
    case 'Ident': {
      let v: Value | undefined;
      switch (e.scope) {
        case Scope.Local:
          v = fr.locals[e.index];
          if (v === undefined) throw fr.th.error(e.pos, `local variable ${e.name} referenced before assignment`);
          return v;
        case Scope.Global:
          v = fr.module.globals[e.index];
          if (v === undefined) throw fr.th.error(e.pos, `${fr.module.loadBound.has(e.name) ? 'local' : 'global'} variable ${e.name} referenced before assignment`);
          return v;
        case Scope.Free:
          v = fr.env[e.level]![e.index];
          if (v === undefined) throw fr.th.error(e.pos, `local variable ${e.name} referenced before assignment`);
          return v;
        case Scope.Predeclared:
          return e.value!;
      }
      throw fr.th.error(e.pos, `undefined: ${e.name}`);
    }
    case 'Literal':
      return e.value;
    case 'Call':
      return evalCall(e, fr);
    case 'Dot': {
      const x = evalExpr(e.x, fr);
      try {
        return fr.th.getAttr(x, e.name, e.pos, true)!;
      } catch (err) {
        rethrow(fr.th, err, e.pos);
      }
    }
    case 'Binary': {
      const op = e.op;
      if (op === 'and') {
        const x = evalExpr(e.x, fr);
        return truthy(x) ? evalExpr(e.y, fr) : x;
      }
      if (op === 'or') {
        const x = evalExpr(e.x, fr);
        return truthy(x) ? x : evalExpr(e.y, fr);
      }
      const x = evalExpr(e.x, fr);
      const y = evalExpr(e.y, fr);
      if (typeof x === 'bigint' && typeof y === 'bigint') {
        switch (op) {
          case '+': return x + y;
          case '-': return x - y;
          case '<': return x < y;
          case '<=': return x <= y;
          case '>': return x > y;
          case '>=': return x >= y;
          case '==': return x === y;
          case '!=': return x !== y;
        }
      } else if (typeof x === 'string' && typeof y === 'string') {
        if (op === '==' || op === '!=') {
          if (x.length === y.length) spendChars(x.length);
          return op === '==' ? x === y : x !== y;
        }
      }
      try {
        return binary(fr.th, op, x, y);
      } catch (err) {
        rethrow(fr.th, err, e.pos);
      }
    }
    case 'Index': {
      const x = evalExpr(e.x, fr);
      const i = evalExpr(e.index, fr);
      try {
        return index(x, i);
      } catch (err) {
        rethrow(fr.th, err, e.pos);
      }
    }
    case 'List': {
      const elems = e.elems;
      const out = new Array<Value>(elems.length);
      for (let i = 0; i < elems.length; i++) out[i] = evalExpr(elems[i]!, fr);
      return new StarList(out);
    }
    case 'Tuple': {
      const elems = e.elems;
      const out = new Array<Value>(elems.length);
      for (let i = 0; i < elems.length; i++) out[i] = evalExpr(elems[i]!, fr);
      return new Tuple(out);
    }
    case 'Dict': {
      const d = new StarDict();
      for (let i = 0; i < e.entries.length; i++) {
        const en = e.entries[i]!;
        const k = evalExpr(en.key, fr);
        const v = evalExpr(en.value, fr);
        try {
          if (d.has(k)) throw new EvalError(`duplicate key: ${quoted(k)}`);
          d.set(k, v);
        } catch (err) {
          rethrow(fr.th, err, startOf(en.key));
        }
      }
      return d;
    }
    case 'Unary': {
      const x = evalExpr(e.x, fr);
      if (e.op === 'not') return !truthy(x);
      try {
        return unary(e.op, x);
      } catch (err) {
        rethrow(fr.th, err, e.pos);
      }
    }
    case 'Cond':
      return truthy(evalExpr(e.cond, fr)) ? evalExpr(e.then, fr) : evalExpr(e.els, fr);
    case 'Slice': {
      const x = evalExpr(e.x, fr);
      const lo = e.lo ? evalExpr(e.lo, fr) : undefined;
      const hi = e.hi ? evalExpr(e.hi, fr) : undefined;
      const step = e.step ? evalExpr(e.step, fr) : undefined;
      try {
        return slice(x, lo, hi, step);
      } catch (err) {
        rethrow(fr.th, err, e.pos);
      }
    }
    case 'Comp':
      return evalComp(e, fr);
    case 'Lambda':
      return makeFunction(fr, e.code!, e.params);
  }
}

function evalComp(e: Comprehension, fr: Frame): Value {
  if (e.curly) {
    const d = new StarDict();
    compClause(e, 0, fr, d);
    return d;
  }
  const out: Value[] = [];
  compClause(e, 0, fr, out);
  return new StarList(out);
}

function compClause(e: Comprehension, ci: number, fr: Frame, out: Value[] | StarDict): void {
  const clauses = e.clauses;
  if (ci === clauses.length) {
    if (out instanceof StarDict) {
      const k = evalExpr(e.body, fr);
      const v = evalExpr(e.value!, fr);
      try {
        out.set(k, v);
      } catch (err) {
        rethrow(fr.th, err, startOf(e.body));
      }
    } else {
      spend(1); // an element kept alive: memory is work too
      out.push(evalExpr(e.body, fr));
    }
    return;
  }
  const c = clauses[ci]!;
  if (c.kind === 'if') {
    if (truthy(evalExpr(c.cond, fr))) compClause(e, ci + 1, fr, out);
    return;
  }
  const th = fr.th;
  const it = evalExpr(c.iter, fr);
  if (it instanceof Range) {
    const step = it.step;
    let v = it.start;
    for (let i = 0, n = it.length; i < n; i++, v += step) {
      if (++th.steps > th.maxSteps) stepsExceeded(th, c.pos);
      assign(c.vars, v, fr);
      compClause(e, ci + 1, fr, out);
    }
    return;
  }
  const elems = beginIter(fr, it, c.iter);
  try {
    for (let i = 0; i < elems.length; i++) {
      if (++th.steps > th.maxSteps) stepsExceeded(th, c.pos);
      assign(c.vars, elems[i]!, fr);
      compClause(e, ci + 1, fr, out);
    }
  } finally {
    endIter(it);
  }
}

export type { CallInfo };
