// Error classes of the language layer.
//
// - EvalError: thrown by builtins and value operations; it has no position. The evaluator
//   turns it into a SourceError at the position of the failing call or expression.
// - SourceErrorList: several SourceErrors of one file (the resolver reports them all at once).
// - InternalError: a non-user exception escaped a builtin (a bug); it keeps a position anyway.

import type { ReasonCode } from '../reasons.js';
import { didYouMean, SourceError, UserError, type Position } from '../errors.js';

/** A user-facing error raised by a builtin or an operation, without a position. */
export class EvalError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'EvalError';
  }
}

/** Several errors found in one pass (e.g. all unresolved names of a file). */
export class SourceErrorList extends UserError {
  constructor(readonly errors: SourceError[]) {
    super(
      errors.length === 1
        ? errors[0]!.message
        : `${errors[0]!.message} (and ${errors.length - 1} more error${errors.length === 2 ? '' : 's'})`,
      errors.length === 1 ? errors[0]!.hint : undefined,
    );
    this.name = 'SourceErrorList';
  }

  override format(): string {
    return this.errors.map((e) => e.format()).join('\n\n');
  }
}

/** A bug: a JS exception escaped a builtin. Exit code 1, like other non-user failures. */
export class InternalError extends SourceError {
  override readonly reason: ReasonCode = 'Internal';
  constructor(pos: Position, message: string, lineText?: string, cause?: unknown) {
    super(pos, message, undefined, lineText);
    this.cause = cause;
    this.name = 'InternalError';
  }
}

/** Returns the text of 1-based line `line` of `source` ('' past the end). */
export function lineOf(source: string, line: number): string {
  let start = 0;
  for (let l = 1; l < line; l++) {
    const nl = source.indexOf('\n', start);
    if (nl < 0) return '';
    start = nl + 1;
  }
  const end = source.indexOf('\n', start);
  const text = end < 0 ? source.slice(start) : source.slice(start, end);
  return text.endsWith('\r') ? text.slice(0, -1) : text;
}

/** True for the RangeError of an exhausted JS stack. */
export function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && /call stack/i.test(err.message);
}

export const STACK_OVERFLOW = 'stack overflow: calls or expressions nested too deeply';

/** starlark-go's ending of a message about a likely typo: ` (did you mean len?)`, or ''. */
export function nearest(name: string, candidates: Iterable<string>, prefix = ''): string {
  const near = didYouMean(name, candidates);
  return near === undefined ? '' : ` (did you mean ${prefix}${near}?)`;
}
