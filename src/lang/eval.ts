// The Thread that runs files: loading and executing modules, calls from the host, attributes,
// the budget and the final form of errors. The tree walker itself is in exec.ts (statements),
// expr.ts (expressions) and calls.ts (calls).
//
// Frames are arrays of slots (the resolver numbered them); enclosing functions' frames are
// reached through `env[level]`. Control flow uses return codes, not exceptions. Every
// statement, loop iteration and call costs a step; the Thread stops at `maxSteps`.

import { cutText, SourceError, UserError, type Position } from '../errors.js';
import type { Stmt } from './ast.js';
import { UNIVERSE, attrNames } from './builtins.js';
import { callValue } from './calls.js';
import { EvalError, InternalError, nearest, isStackOverflow, lineOf, SourceErrorList, STACK_OVERFLOW } from './errors.js';
import { assignIdent, execBlock, execStmt } from './exec.js';
import { rethrow, type Frame, type Module } from './frame.js';
import { messageText } from './text.js';
import { boundMethod } from './methods.js';
import type { Budget } from './ops.js';
import { parseFile } from './parser.js';
import { resolveFile } from './resolve.js';
import { cleanPos } from './scanner.js';
import { freeze, setMeter, spend, StarFunction, Struct, typeName, type CallInfo, type Meter, type Value } from './values.js';

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

/**
 * The default budget: a 5,000-line env file uses about 50,000 units; the worst few-line files
 * (bench/hostile.ts) stop within about a second at this budget.
 */
export const DEFAULT_BUDGET = 1_000_000;

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

export type { CallInfo };
