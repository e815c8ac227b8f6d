// The error shapes of envserve. Each carries a stable reason code (src/reasons.ts); the CLI
// chooses exit codes from the class and code (src/cli/exit-codes.ts), never from the error itself.
import type { ReasonCode } from './reasons.js';

export interface Position {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, in characters. */
  col: number;
}

export function formatPosition(pos: Position): string {
  return `${pos.file}:${pos.line}:${pos.col}`;
}

/** Invalid input or usage: the user can fix it; nothing was changed. */
export class UserError extends Error {
  constructor(message: string, readonly hint?: string, readonly reason: ReasonCode = 'InvalidInput') {
    super(message);
    this.name = 'UserError';
  }
  /** The text the CLI prints. */
  format(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/**
 * An error at a place in an env file, printed as
 *   file:line:col: message
 *     <the source line>
 *     ^
 *   hint: did you mean ...?
 */
export class SourceError extends UserError {
  constructor(
    readonly pos: Position,
    message: string,
    hint?: string,
    /** The text of the line `pos` is on, for the caret display. */
    readonly lineText?: string,
  ) {
    super(message, hint);
    this.name = 'SourceError';
  }

  override format(): string {
    let out = `${formatPosition(this.pos)}: ${this.message}`;
    if (this.lineText !== undefined) {
      const text = this.lineText.replace(/\t/g, ' ');
      out += `\n  ${text}\n  ${' '.repeat(Math.max(0, this.pos.col - 1))}^`;
    }
    if (this.hint) out += `\n  hint: ${this.hint}`;
    return out;
  }
}

/** Several problems found at once (plan validation); nothing was applied. */
export class IssuesError extends UserError {
  constructor(
    readonly issues: { message: string; position?: string }[],
    summary = `the plan has ${issues.length} problem${issues.length === 1 ? '' : 's'}; nothing was applied`,
  ) {
    super(summary);
    this.name = 'IssuesError';
  }
  override format(): string {
    const lines = this.issues.map((i) => (i.position ? `${i.position}: ${i.message}` : i.message));
    return `${lines.join('\n')}\n${this.message}`;
  }
}

/** A failure while running (a runtime refused, a port went away, ...). */
export class RuntimeFailure extends Error {
  constructor(message: string, readonly hint?: string, readonly reason: ReasonCode = 'ApplyFailed') {
    super(message);
    this.name = 'RuntimeFailure';
  }
  format(): string {
    return this.hint ? `${this.message}\n  hint: ${this.hint}` : this.message;
  }
}

/** Levenshtein-based suggestion: the closest candidate, if it is close enough to be a likely typo. */
export function didYouMean(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(name.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  if (best === undefined) return undefined;
  const limit = Math.max(1, Math.floor(Math.max(name.length, best.length) / 3));
  return bestDist <= limit ? best : undefined;
}

/** Optimal-string-alignment distance: a swap of two letters ("juypter") counts as one edit. */
function editDistance(a: string, b: string): number {
  const d: number[][] = [];
  for (let i = 0; i <= a.length; i++) d.push([i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 0; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
