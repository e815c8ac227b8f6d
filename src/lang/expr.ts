// The evaluator's expressions: names, operators (with fast paths for ints and string equality),
// literals, indexing and slicing, and comprehensions.

import { Scope } from './ast.js';
import type { Comprehension, Expr } from './ast.js';
import { evalCall } from './calls.js';
import { EvalError } from './errors.js';
import { assign, beginIter, endIter, makeFunction } from './exec.js';
import { rethrow, startOf, stepsExceeded, type Frame } from './frame.js';
import { binary, index, slice, unary } from './ops.js';
import { quoted, Range, spend, spendChars, StarDict, StarList, truthy, Tuple, type Value } from './values.js';

export function evalExpr(e: Expr, fr: Frame): Value {
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
  // A range is counted, not materialized (the hot loop of most files); execFor in exec.ts has the same fast path.
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
