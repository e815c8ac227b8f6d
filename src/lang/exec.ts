// The evaluator's statements: blocks, loops, assignment (plain, augmented, unpacking) and def.
// Each statement and loop iteration costs a step.

import type { Position } from '../errors.js';
import { Scope } from './ast.js';
import type { Expr, FunCode, Ident, Param, Stmt } from './ast.js';
import type { Thread } from './eval.js';
import { EvalError } from './errors.js';
import { evalExpr } from './expr.js';
import { BREAK, CONTINUE, NORMAL, RETURN, rethrow, startOf, stepsExceeded, type Frame } from './frame.js';
import { binary, checkSize, index, setIndex } from './ops.js';
import { iterElems, Range, StarDict, StarFunction, StarList, StarSet, StringIter, Struct, truthy, Tuple, typeName, type Value } from './values.js';

export function execBlock(stmts: Stmt[], fr: Frame): number {
  for (let i = 0, n = stmts.length; i < n; i++) {
    const r = execStmt(stmts[i]!, fr);
    if (r !== NORMAL) return r;
  }
  return NORMAL;
}

export function execStmt(s: Stmt, fr: Frame): number {
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
  // A range is counted, not materialized (the hot loop of most files); compClause in expr.ts has the same fast path.
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
export function beginIter(fr: Frame, it: Value, at: Expr): readonly Value[] {
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

export function endIter(it: Value): void {
  if (it instanceof StarList || it instanceof StarDict || it instanceof StarSet) it.itercount--;
}

export function assignIdent(id: Ident, v: Value, fr: Frame): void {
  if (id.scope === Scope.Local) fr.locals[id.index] = v;
  else if (id.scope === Scope.Global) fr.module.globals[id.index] = v;
  else throw fr.th.error(id.pos, `cannot assign to ${id.name}`);
}

export function assign(target: Expr, v: Value, fr: Frame): void {
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

export function makeFunction(fr: Frame, code: FunCode, params: Param[]): StarFunction {
  const defaults = new Array<Value | undefined>(code.numPositional + code.numKwonly);
  for (let i = 0; i < params.length; i++) {
    const p = params[i]!;
    if (p.kind === 'default') defaults[p.name!.index] = evalExpr(p.default!, fr);
  }
  const env = fr.env.slice();
  env.push(fr.locals);
  return new StarFunction(code, defaults, env, fr.module);
}
