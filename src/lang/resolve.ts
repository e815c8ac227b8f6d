// The resolver: binds every identifier to a frame slot, an enclosing function's slot, a
// module global, or a predeclared/universe value; builds the FunCode of each function.
// It reports every problem of the file (undefined names, misplaced break/return, ...).
//
// Scoping (as in Starlark): a name assigned anywhere in a function body is local to the
// whole function; names bound at top level are module globals (visible in functions, also
// before their definition); comprehension variables are local to the comprehension.

import { SourceError, type Position } from '../errors.js';
import { Scope } from './ast.js';
import type { Expr, FileAST, FunCode, Ident, Param, ResolvedFile, Stmt } from './ast.js';
import { isStackOverflow, nearest, lineOf, SourceErrorList, STACK_OVERFLOW } from './errors.js';
import { cleanPos } from './scanner.js';
import type { Value } from './values.js';

class FnScope {
  /** Function-level bindings (params and assigned names): name → slot. Unused at top level. */
  readonly names = new Map<string, number>();
  /** Comprehension blocks, innermost last: name → slot. */
  readonly blocks: Map<string, number>[] = [];
  nlocals = 0;
  loopDepth = 0;
  constructor(
    readonly parent: FnScope | undefined,
    readonly level: number,
  ) {}
  alloc(): number {
    return this.nlocals++;
  }
}

export interface ResolveEnv {
  /** Names predeclared by the host. */
  predeclared: ReadonlyMap<string, Value>;
  /** Universe builtins. */
  universe: ReadonlyMap<string, Value>;
}

/** Resolves `ast` in place. Throws SourceError (one problem) or SourceErrorList (several). */
export function resolveFile(ast: FileAST, env: ResolveEnv): ResolvedFile {
  const r = new Resolver(ast, env);
  const top = new FnScope(undefined, 0);
  r.collectGlobals(ast.stmts);
  for (const s of ast.stmts) {
    try {
      r.stmts([s], top);
    } catch (err) {
      // The parser's limits should make this unreachable; if not, still say which statement.
      if (!isStackOverflow(err)) throw err;
      throw new SourceError(cleanPos(s.pos), STACK_OVERFLOW, 'split the code into smaller pieces', lineOf(ast.source, s.pos.line));
    }
  }
  if (r.errors.length === 1) throw r.errors[0]!;
  if (r.errors.length > 1) throw new SourceErrorList(r.errors);
  return { ...ast, globals: r.globalNames, nlocals: top.nlocals };
}

class Resolver {
  readonly errors: SourceError[] = [];
  readonly globals = new Map<string, number>();
  readonly globalNames: string[] = [];

  constructor(
    readonly ast: FileAST,
    readonly env: ResolveEnv,
  ) {}

  private error(pos: Position, message: string, hint?: string): void {
    if (this.errors.length >= 50) return;
    this.errors.push(new SourceError(cleanPos(pos), message, hint, lineOf(this.ast.source, pos.line)));
  }

  private addGlobal(name: string): number {
    let i = this.globals.get(name);
    if (i === undefined) {
      i = this.globalNames.length;
      this.globals.set(name, i);
      this.globalNames.push(name);
    }
    return i;
  }

  // ---- collecting bindings ----

  collectGlobals(stmts: Stmt[]): void {
    const names: Ident[] = [];
    collectBindings(stmts, names);
    for (let i = 0; i < names.length; i++) this.addGlobal(names[i]!.name);
  }

  // ---- statements ----

  stmts(list: Stmt[], fn: FnScope): void {
    for (let i = 0; i < list.length; i++) this.stmt(list[i]!, fn);
  }

  private stmt(s: Stmt, fn: FnScope): void {
    switch (s.kind) {
      case 'Expr':
        this.expr(s.expr, fn);
        return;
      case 'Assign':
        this.expr(s.rhs, fn);
        if (s.op !== '=' && s.lhs.kind === 'Ident') this.use(s.lhs, fn);
        this.bind(s.lhs, fn);
        return;
      case 'If':
        this.expr(s.cond, fn);
        this.stmts(s.then, fn);
        this.stmts(s.els, fn);
        return;
      case 'For':
        this.expr(s.iter, fn);
        this.bind(s.vars, fn);
        fn.loopDepth++;
        this.stmts(s.body, fn);
        fn.loopDepth--;
        return;
      case 'While':
        if (fn.level === 0) this.error(s.pos, 'while loop not within a function');
        this.expr(s.cond, fn);
        fn.loopDepth++;
        this.stmts(s.body, fn);
        fn.loopDepth--;
        return;
      case 'Return':
        if (fn.level === 0) this.error(s.pos, 'return statement not within a function');
        if (s.value) this.expr(s.value, fn);
        return;
      case 'Break':
      case 'Continue':
        if (fn.loopDepth === 0) this.error(s.pos, `${s.kind.toLowerCase()} not in a loop`);
        return;
      case 'Pass':
        return;
      case 'Def':
        s.code = this.function(s.name.name, s.pos, s.params, s.body, fn);
        this.bindIdent(s.name, fn);
        return;
      case 'Load':
        for (let i = 0; i < s.names.length; i++) {
          const n = s.names[i]!;
          if (n.from.startsWith('_')) this.error(n.fromPos, `load: names with a leading underscore are not exported: ${n.from}`);
          this.bindIdent(n.to, fn);
        }
        return;
    }
  }

  private function(name: string, pos: Position, params: Param[], body: Stmt[], parent: FnScope): FunCode {
    // Defaults are evaluated in the enclosing scope.
    for (let i = 0; i < params.length; i++) { const p = params[i]!; if (p.default) this.expr(p.default, parent); }
    const fn = new FnScope(parent, parent.level + 1);
    const positional: string[] = [];
    const kwonly: string[] = [];
    let varargs: string | undefined;
    let kwargs: string | undefined;
    let afterStar = false;
    const seen = new Set<string>();
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      if (p.name && seen.has(p.name.name)) this.error(p.name.pos, `duplicate parameter: ${p.name.name}`);
      if (p.name) seen.add(p.name.name);
      switch (p.kind) {
        case 'plain':
        case 'default':
          (afterStar ? kwonly : positional).push(p.name!.name);
          break;
        case 'star':
          varargs = p.name!.name;
          afterStar = true;
          break;
        case 'barestar':
          afterStar = true;
          break;
        case 'starstar':
          kwargs = p.name!.name;
          break;
      }
    }
    const paramNames = [...positional, ...kwonly];
    if (varargs !== undefined) paramNames.push(varargs);
    if (kwargs !== undefined) paramNames.push(kwargs);
    for (let i = 0; i < paramNames.length; i++) { const n = paramNames[i]!; if (!fn.names.has(n)) fn.names.set(n, fn.alloc()); }
    // Slots must follow paramNames order even with duplicates: re-assign in order.
    if (fn.names.size !== paramNames.length) {
      fn.names.clear();
      fn.nlocals = 0;
      for (const n of paramNames) fn.names.set(n, fn.alloc());
    }
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      if (p.name) {
        p.name.scope = Scope.Local;
        p.name.index = fn.names.get(p.name.name)!;
      }
    }
    const locals: Ident[] = [];
    collectBindings(body, locals);
    for (let i = 0; i < locals.length; i++) { const id = locals[i]!; if (!fn.names.has(id.name)) fn.names.set(id.name, fn.alloc()); }
    this.stmts(body, fn);
    return {
      name,
      pos: cleanPos(pos),
      params,
      paramNames,
      numPositional: positional.length,
      numKwonly: kwonly.length,
      hasVarargs: varargs !== undefined,
      hasKwargs: kwargs !== undefined,
      nlocals: fn.nlocals,
      level: fn.level,
      body,
      busy: false,
    };
  }

  // ---- binding ----

  private bind(target: Expr, fn: FnScope): void {
    switch (target.kind) {
      case 'Ident':
        this.bindIdent(target, fn);
        return;
      case 'Tuple':
      case 'List':
        for (let i = 0; i < target.elems.length; i++) this.bind(target.elems[i]!, fn);
        return;
      case 'Index':
        this.expr(target.x, fn);
        this.expr(target.index, fn);
        return;
      case 'Dot':
        this.expr(target.x, fn);
        return;
      default:
        this.expr(target, fn);
    }
  }

  private bindIdent(id: Ident, fn: FnScope): void {
    for (let b = fn.blocks.length - 1; b >= 0; b--) {
      const slot = fn.blocks[b]!.get(id.name);
      if (slot !== undefined) {
        id.scope = Scope.Local;
        id.index = slot;
        return;
      }
    }
    if (fn.level === 0) {
      id.scope = Scope.Global;
      id.index = this.addGlobal(id.name);
      return;
    }
    id.scope = Scope.Local;
    id.index = fn.names.get(id.name)!;
  }

  // ---- uses ----

  private use(id: Ident, fn: FnScope): void {
    const name = id.name;
    for (let f: FnScope | undefined = fn; f; f = f.parent) {
      let slot: number | undefined;
      for (let b = f.blocks.length - 1; b >= 0 && slot === undefined; b--) slot = f.blocks[b]!.get(name);
      if (slot === undefined && f.level > 0) slot = f.names.get(name);
      if (slot !== undefined) {
        if (f === fn) {
          id.scope = Scope.Local;
        } else {
          id.scope = Scope.Free;
          id.level = f.level;
        }
        id.index = slot;
        return;
      }
    }
    const g = this.globals.get(name);
    if (g !== undefined) {
      id.scope = Scope.Global;
      id.index = g;
      return;
    }
    const v = this.env.predeclared.has(name) ? this.env.predeclared.get(name) : this.env.universe.get(name);
    if (v !== undefined) {
      id.scope = Scope.Predeclared;
      id.value = v;
      return;
    }
    this.error(id.pos, `undefined: ${name}${nearest(name, this.visibleNames(fn))}`);
  }

  private visibleNames(fn: FnScope): string[] {
    const out: string[] = [];
    for (let f: FnScope | undefined = fn; f; f = f.parent) {
      for (const b of f.blocks) out.push(...b.keys());
      out.push(...f.names.keys());
    }
    out.push(...this.globalNames, ...this.env.predeclared.keys(), ...this.env.universe.keys(), 'True', 'False', 'None');
    return out;
  }

  private expr(e: Expr, fn: FnScope): void {
    switch (e.kind) {
      case 'Ident':
        this.use(e, fn);
        return;
      case 'Literal':
        return;
      case 'List':
      case 'Tuple':
        for (let i = 0; i < e.elems.length; i++) this.expr(e.elems[i]!, fn);
        return;
      case 'Dict':
        for (let i = 0; i < e.entries.length; i++) {
          const x = e.entries[i]!;
          this.expr(x.key, fn);
          this.expr(x.value, fn);
        }
        return;
      case 'Comp': {
        // The first iterable is evaluated in the enclosing scope.
        const first = e.clauses[0];
        if (first && first.kind === 'for') this.expr(first.iter, fn);
        // One block for the whole comprehension (as starlark-go): a later clause's iterable sees
        // the names every clause binds, so `[x for _ in y for x in x]` reads the unbound local x.
        fn.blocks.push(new Map());
        for (const c of e.clauses) if (c.kind === 'for') this.bindCompVars(c.vars, fn);
        for (let i = 0; i < e.clauses.length; i++) {
          const c = e.clauses[i]!;
          if (c.kind === 'for') {
            if (i > 0) this.expr(c.iter, fn);
          } else {
            this.expr(c.cond, fn);
          }
        }
        this.expr(e.body, fn);
        if (e.value) this.expr(e.value, fn);
        fn.blocks.pop();
        return;
      }
      case 'Unary':
        this.expr(e.x, fn);
        return;
      case 'Binary':
        this.expr(e.x, fn);
        this.expr(e.y, fn);
        return;
      case 'Cond':
        this.expr(e.cond, fn);
        this.expr(e.then, fn);
        this.expr(e.els, fn);
        return;
      case 'Index':
        this.expr(e.x, fn);
        this.expr(e.index, fn);
        return;
      case 'Slice':
        this.expr(e.x, fn);
        if (e.lo) this.expr(e.lo, fn);
        if (e.hi) this.expr(e.hi, fn);
        if (e.step) this.expr(e.step, fn);
        return;
      case 'Dot':
        this.expr(e.x, fn);
        return;
      case 'Call': {
        this.expr(e.fn, fn);
        const seen = e.simple ? undefined : new Set<string>();
        for (let i = 0; i < e.args.length; i++) {
          const a = e.args[i]!;
          if (seen && a.kind === 'named') {
            if (seen.has(a.name!)) this.error(a.pos, `keyword argument "${a.name}" repeated`);
            seen.add(a.name!);
          }
          this.expr(a.value, fn);
        }
        return;
      }
      case 'Lambda':
        e.code = this.function('lambda', e.pos, e.params, [{ kind: 'Return', pos: e.body.pos, value: e.body }], fn);
        return;
    }
  }

  private bindCompVars(target: Expr, fn: FnScope): void {
    if (target.kind === 'Ident') {
      const block = fn.blocks[fn.blocks.length - 1]!;
      let slot = block.get(target.name);
      if (slot === undefined) {
        slot = fn.alloc();
        block.set(target.name, slot);
      }
      target.scope = Scope.Local;
      target.index = slot;
      return;
    }
    if (target.kind === 'Tuple' || target.kind === 'List') {
      for (let i = 0; i < target.elems.length; i++) this.bindCompVars(target.elems[i]!, fn);
      return;
    }
    // a[i] or a.b as a loop variable: evaluate in the comprehension scope.
    this.bind(target, fn);
  }
}

/** Names bound by statements (not descending into nested functions). */
function collectBindings(stmts: Stmt[], out: Ident[]): void {
  for (let i = 0; i < stmts.length; i++) {
    const s = stmts[i]!;
    switch (s.kind) {
      case 'Assign':
        collectTargets(s.lhs, out);
        break;
      case 'For':
        collectTargets(s.vars, out);
        collectBindings(s.body, out);
        break;
      case 'While':
        collectBindings(s.body, out);
        break;
      case 'If':
        collectBindings(s.then, out);
        collectBindings(s.els, out);
        break;
      case 'Def':
        out.push(s.name);
        break;
      case 'Load':
        for (let i = 0; i < s.names.length; i++) out.push(s.names[i]!.to);
        break;
    }
  }
}

function collectTargets(e: Expr, out: Ident[]): void {
  if (e.kind === 'Ident') out.push(e);
  else if (e.kind === 'Tuple' || e.kind === 'List') for (let i = 0; i < e.elems.length; i++) collectTargets(e.elems[i]!, out);
}
