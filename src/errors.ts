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
    // Whatever a message quotes, it stays readable and never shows a secret.
    super(safeText(message, MAX_MESSAGE), hint === undefined ? undefined : safeText(hint, MAX_MESSAGE));
    this.name = 'SourceError';
  }

  override format(): string {
    let out = `${formatPosition(this.pos)}: ${this.message}`;
    if (this.lineText !== undefined) {
      const safe = redactSecrets(this.lineText.replace(/\t/g, ' '), this.pos.col);
      const { text, caret } = excerpt(safe.text, safe.col);
      out += `\n  ${text}\n  ${' '.repeat(caret)}^`;
    }
    if (this.hint) out += `\n  hint: ${this.hint}`;
    return out;
  }
}

/** The longest source line shown in full; longer ones are shown around the caret. */
const MAX_EXCERPT = 160;

/** The part of a source line shown under an error, and the caret's offset in it (0-based). */
export function excerpt(line: string, col: number): { text: string; caret: number } {
  const chars = [...line];
  let caret = Math.max(0, col - 1);
  if (chars.length <= MAX_EXCERPT) return { text: line, caret };
  const from = Math.max(0, Math.min(caret - MAX_EXCERPT / 2, chars.length - MAX_EXCERPT));
  const to = Math.min(chars.length, from + MAX_EXCERPT);
  let text = chars.slice(from, to).join('');
  if (from > 0) {
    text = '...' + text;
    caret = caret - from + 3;
  }
  if (to < chars.length) text += '...';
  return { text, caret };
}

// A key followed by its value: `password="..."` in a call, `"token": "..."` in a dict's repr.
const SECRET_ARG = /\b(\w*(?:password|passwd|token|secret)\w*["']?\s*[=:]\s*)(r?(?:"(?:[^"\\]|\\.)*"?|'(?:[^'\\]|\\.)*'?)|[^,)\s][^,)]*)/gi;

/**
 * A source line with the values of secret-looking arguments masked (`password="***"`), so an
 * error on the line that configures Jupyter never prints the password. `col` (1-based) is moved
 * with the text so a caret still points at the same place.
 */
export function redactSecrets(line: string, col = 1): { text: string; col: number } {
  let shift = 0;
  const text = line.replace(SECRET_ARG, (m: string, key: string, _value: string, offset: number) => {
    const masked = `${key}"***"`;
    if (offset + m.length < col) shift += masked.length - m.length;
    return masked;
  });
  return { text, col: col + shift };
}

/** The longest value quoted in an error or warning; longer ones are cut (cutText). */
export const MAX_QUOTED = 200;
/** The longest message or hint of an error or warning (whatever it quotes). */
export const MAX_MESSAGE = 2000;

/**
 * `text` cut to `max` characters with an ellipsis and the full length, e.g.
 * `"xxxx… (30002 characters)`. A cut never splits a UTF-16 pair or a UTF-8 sequence (byte strings).
 */
export function cutText(text: string, max = MAX_QUOTED): string {
  if (text.length <= max) return text;
  let end = max;
  const c = text.charCodeAt(end - 1);
  if (c >= 0xd800 && c <= 0xdbff) end--;
  else {
    // A byte string (chars 0-255): back off to the start of a UTF-8 sequence.
    let k = end;
    while (k > max - 3 && (text.charCodeAt(k) & 0xc0) === 0x80 && text.charCodeAt(k) < 0x100) k--;
    if (k < end && text.charCodeAt(k) >= 0xc0 && text.charCodeAt(k) < 0x100) end = k;
  }
  return `${text.slice(0, end)}… (${text.length} characters)`;
}

/** Text quoted in an error or warning: secrets masked first, then cut, so no prefix of a secret shows. */
export function safeText(text: string, max = MAX_QUOTED): string {
  return cutText(redactSecrets(text).text, max);
}

/** Several problems found at once (plan validation); nothing was applied. */
export class IssuesError extends UserError {
  constructor(
    /** `lineText`: the source line at `position`, shown with a caret like a SourceError. */
    readonly issues: { message: string; position?: string; lineText?: string }[],
    summary = `the plan has ${issues.length} problem${issues.length === 1 ? '' : 's'}; nothing was applied`,
  ) {
    super(summary);
    this.name = 'IssuesError';
  }
  override format(): string {
    const lines = this.issues.map((i) => {
      const m = i.position ? /^(.*):(\d+):(\d+)$/.exec(i.position) : null;
      if (m && i.lineText !== undefined) {
        return new SourceError({ file: m[1]!, line: Number(m[2]), col: Number(m[3]) }, i.message, undefined, i.lineText).format();
      }
      return i.position ? `${i.position}: ${i.message}` : i.message;
    });
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
