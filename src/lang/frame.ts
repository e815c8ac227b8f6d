// The evaluator's shared pieces: a call frame, a module's record, the statement result codes,
// and the errors every part of the tree walker raises (positioned errors, the budget).

import { SourceError, UserError, type Position } from '../errors.js';
import type { Expr } from './ast.js';
import type { Thread } from './eval.js';
import { EvalError, InternalError, isStackOverflow, SourceErrorList } from './errors.js';
import { cleanPos } from './scanner.js';
import type { ModuleRef, Value } from './values.js';

export interface Module extends ModuleRef {
  source: string;
  index: Map<string, number>;
  /** Names bound by load(): local to the file, not exported to modules that load it. */
  loadBound: Set<string>;
}

export interface Frame {
  th: Thread;
  locals: Value[];
  env: Value[][];
  module: Module;
  ret: Value;
}

export const NORMAL = 0;
export const BREAK = 1;
export const CONTINUE = 2;
export const RETURN = 3;

/** Converts an exception from a builtin or an operation into a positioned error. */
export function rethrow(th: Thread, err: unknown, pos: Position): never {
  if (err instanceof SourceError || err instanceof SourceErrorList) throw err;
  if (err instanceof EvalError) throw th.error(pos, err.message, err.hint);
  if (err instanceof UserError) throw th.error(pos, err.message, err.hint);
  if (isStackOverflow(err)) throw err;
  throw new InternalError(cleanPos(pos), `internal error: ${err instanceof Error ? err.message : String(err)}`, th.lineText(pos), err);
}

export function stepsExceeded(th: Thread, pos: Position): never {
  const e = th.overBudget();
  throw th.error(pos, e.message, e.hint);
}

/** Where an expression starts (its leftmost operand), for errors about the whole expression. */
export function startOf(e: Expr): Position {
  for (;;) {
    if (e.kind === 'Binary' || e.kind === 'Index' || e.kind === 'Slice' || e.kind === 'Dot') e = e.x;
    else if (e.kind === 'Cond') e = e.then;
    else if (e.kind === 'Tuple' && e.elems.length > 0) e = e.elems[0]!;
    else return e.pos;
  }
}
