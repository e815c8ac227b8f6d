// The scanner: source text → tokens, on demand (the parser pulls them, so the first
// error in file order is the one reported). Produces NEWLINE, INDENT and OUTDENT tokens
// like Python; newlines inside brackets and after a backslash are ignored.

import { SourceError, type Position } from '../errors.js';
import { lineOf } from './errors.js';
import { encodeRune, fromText } from './text.js';

export type TokenKind =
  | 'EOF'
  | 'NEWLINE'
  | 'INDENT'
  | 'OUTDENT'
  | 'IDENT'
  | 'INT'
  | 'FLOAT'
  | 'STRING'
  | 'BYTES'
  // keywords and punctuation are their own text
  | string;

/**
 * A token. It is also the Position of the syntax-tree nodes made from it (one object instead
 * of two); positions handed out of the interpreter are clean copies (see `cleanPos`).
 */
export interface Token extends Position {
  kind: TokenKind;
  /** IDENT: the name; STRING, BYTES: the decoded byte string; INT: bigint; FLOAT: number. */
  value: string | bigint | number | undefined;
}

/** A copy of a position with only file/line/col. */
export function cleanPos(p: Position): Position {
  return { file: p.file, line: p.line, col: p.col };
}

export const KEYWORDS = new Set([
  'and', 'break', 'continue', 'def', 'elif', 'else', 'for', 'if', 'in', 'lambda', 'load', 'not',
  'or', 'pass', 'return', 'while',
]);

/** Python keywords that Starlark reserves. */
const RESERVED = new Set([
  'as', 'async', 'await', 'class', 'del', 'except', 'finally', 'from', 'global',
  'import', 'is', 'nonlocal', 'raise', 'try', 'with', 'yield',
]);

const C_NL = 10, C_SP = 32, C_TAB = 9, C_FF = 12, C_HASH = 35, C_BSL = 92;

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}
function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57);
}
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}
const UNI_IDENT_START = /[\p{L}\p{Nl}]/u;
const UNI_IDENT_PART = /[\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}]/u;

export class Scanner {
  readonly src: string;
  private i = 0;
  private line = 1;
  private lineStart = 0;
  private depth = 0;
  private indents: number[] = [0];
  /** The same levels measured with a tab as one column: Python's check for tab/space mixes. */
  private altIndents: number[] = [0];
  private pending: Token[] = [];
  private atLineStart = true;
  private done = false;
  private readonly astral: boolean;

  constructor(
    readonly file: string,
    src: string,
  ) {
    // A UTF-8 byte-order mark is not part of the program.
    if (src.charCodeAt(0) === 0xfeff) src = src.slice(1);
    this.src = src.indexOf('\r') >= 0 ? src.replace(/\r\n?/g, '\n') : src;
    this.astral = /[\uD800-\uDFFF]/.test(this.src);
  }

  /** 1-based column of offset `off` on the current line, in characters. */
  private colAt(off: number): number {
    if (!this.astral) return off - this.lineStart + 1;
    let col = 1;
    for (let k = this.lineStart; k < off; k++) {
      const c = this.src.charCodeAt(k);
      if (c >= 0xdc00 && c <= 0xdfff && k > this.lineStart) {
        const p = this.src.charCodeAt(k - 1);
        if (p >= 0xd800 && p <= 0xdbff) continue;
      }
      col++;
    }
    return col;
  }

  error(line: number, col: number, message: string, hint?: string): never {
    throw new SourceError({ file: this.file, line, col }, `syntax error: ${message}`, hint, lineOf(this.src, line));
  }

  private errorAt(off: number, message: string, hint?: string): never {
    this.error(this.line, this.colAt(off), message, hint);
  }

  private tok(kind: TokenKind, off: number, value?: string | bigint | number): Token {
    return { kind, value, file: this.file, line: this.line, col: this.astral ? this.colAt(off) : off - this.lineStart + 1 };
  }

  private punct(kind: string, i: number, len: number): Token {
    this.i = i + len;
    return this.tok(kind, i);
  }

  private newline(off: number): void {
    this.line++;
    this.lineStart = off + 1;
  }

  next(): Token {
    if (this.pending.length > 0) return this.pending.shift()!;
    const src = this.src;
    const n = src.length;
    for (;;) {
      if (this.atLineStart && this.depth === 0) {
        // Measure the indentation of a new logical line.
        let col = 0;
        let alt = 0;
        let i = this.i;
        for (; i < n; i++) {
          const c = src.charCodeAt(i);
          if (c === C_SP) col++, alt++;
          else if (c === C_TAB) (col += 8 - (col % 8)), alt++;
          else if (c === C_FF) col = alt = 0;
          else break;
        }
        this.i = i;
        if (i >= n) return this.eof();
        const c = src.charCodeAt(i);
        if (c === C_NL) {
          this.newline(i);
          this.i = i + 1;
          continue;
        }
        if (c === C_HASH) {
          const nl = src.indexOf('\n', i);
          this.i = nl < 0 ? n : nl;
          continue;
        }
        if (c === C_BSL && src.charCodeAt(i + 1) === C_NL) {
          // A backslash continuation on a blank line: treat as blank.
          this.newline(i + 1);
          this.i = i + 2;
          continue;
        }
        this.atLineStart = false;
        const top = this.indents[this.indents.length - 1]!;
        const altTop = this.altIndents[this.altIndents.length - 1]!;
        // As Python does: the block structure must not depend on how wide a tab is.
        const tabError = (): never =>
          this.error(this.line, 1, 'inconsistent use of tabs and spaces in indentation', 'the block this line belongs to depends on the width of a tab; indent with spaces only');
        if (col > top) {
          if (alt <= altTop) tabError();
          this.indents.push(col);
          this.altIndents.push(alt);
          return this.tok('INDENT', i);
        }
        if (col < top) {
          while (this.indents.length > 1 && this.indents[this.indents.length - 1]! > col) {
            this.indents.pop();
            this.altIndents.pop();
            this.pending.push(this.tok('OUTDENT', i));
          }
          if (this.indents[this.indents.length - 1] !== col) {
            this.errorAt(i, 'unindent does not match any outer indentation level');
          }
          if (this.altIndents[this.altIndents.length - 1] !== alt) tabError();
          return this.pending.shift()!;
        }
        if (alt !== altTop) tabError();
      }

      // Skip blanks and comments within a line.
      let i = this.i;
      let c = src.charCodeAt(i);
      while (c === C_SP || c === C_TAB || c === C_FF) c = src.charCodeAt(++i);
      if (c === C_HASH) {
        const nl = src.indexOf('\n', i);
        i = nl < 0 ? n : nl;
        c = src.charCodeAt(i);
      }
      this.i = i;
      if (i >= n) {
        if (!this.atLineStart && this.depth === 0) {
          this.atLineStart = true;
          return this.tok('NEWLINE', i);
        }
        return this.eof();
      }
      if (c === C_NL) {
        const t = this.depth === 0 ? this.tok('NEWLINE', i) : undefined;
        this.newline(i);
        this.i = i + 1;
        if (t) {
          this.atLineStart = true;
          return t;
        }
        continue;
      }
      if (c === C_BSL) {
        if (src.charCodeAt(i + 1) === C_NL) {
          this.newline(i + 1);
          this.i = i + 2;
          continue;
        }
        this.errorAt(i, 'unexpected character "\\"', 'a backslash continues a line only as the last character of the line');
      }
      return this.scanToken(i, c);
    }
  }

  private eof(): Token {
    const i = this.src.length;
    this.i = i;
    if (!this.done) {
      this.done = true;
      while (this.indents.length > 1) {
        this.indents.pop();
        this.pending.push(this.tok('OUTDENT', i));
      }
      this.pending.push(this.tok('EOF', i));
      return this.pending.shift()!;
    }
    return this.tok('EOF', i);
  }

  private scanToken(i: number, c: number): Token {
    const src = this.src;
    // Identifiers, keywords, raw strings, bytes (b"...", rb"...", as starlark-go).
    if (isIdentStart(c) || (c > 127 && UNI_IDENT_START.test(String.fromCodePoint(src.codePointAt(i)!)))) {
      const c1 = src.charCodeAt(i + 1);
      if ((c === 114 || c === 82 || c === 98) && (c1 === 34 || c1 === 39)) return this.scanString(i, i + 1, c !== 98, c === 98);
      if (c === 114 && c1 === 98 && (src.charCodeAt(i + 2) === 34 || src.charCodeAt(i + 2) === 39)) return this.scanString(i, i + 2, true, true);
      let j = i + 1;
      for (;;) {
        const d = src.charCodeAt(j);
        if (isIdentPart(d)) j++;
        else if (d > 127 && UNI_IDENT_PART.test(String.fromCodePoint(src.codePointAt(j)!))) j += d >= 0xd800 && d <= 0xdbff ? 2 : 1;
        else break;
      }
      const word = src.slice(i, j);
      this.i = j;
      if (KEYWORDS.has(word)) return this.tok(word, i);
      if (RESERVED.has(word)) this.errorAt(i, `keyword "${word}" is reserved and cannot be used`);
      return this.tok('IDENT', i, word);
    }
    if (isDigit(c) || (c === 46 && isDigit(src.charCodeAt(i + 1)))) return this.scanNumber(i);
    if (c === 34 || c === 39) return this.scanString(i, i, false, false);

    const c1 = src.charCodeAt(i + 1);
    const c2 = src.charCodeAt(i + 2);
    switch (c) {
      case 40: // (
      case 91: // [
      case 123: // {
        this.depth++;
        return this.punct(c === 40 ? '(' : c === 91 ? '[' : '{', i, 1);
      case 41: // )
      case 93: // ]
      case 125: // }
        if (this.depth > 0) this.depth--;
        return this.punct(c === 41 ? ')' : c === 93 ? ']' : '}', i, 1);
      case 44: return this.punct(',', i, 1);
      case 46: return this.punct('.', i, 1);
      case 58: return this.punct(':', i, 1);
      case 59: return this.punct(';', i, 1);
      case 126: return this.punct('~', i, 1);
      case 61: return c1 === 61 ? this.punct('==', i, 2) : this.punct('=', i, 1);
      case 33:
        if (c1 === 61) return this.punct('!=', i, 2);
        break;
      case 60: // <
        if (c1 === 61) return this.punct('<=', i, 2);
        if (c1 === 60) return c2 === 61 ? this.punct('<<=', i, 3) : this.punct('<<', i, 2);
        return this.punct('<', i, 1);
      case 62: // >
        if (c1 === 61) return this.punct('>=', i, 2);
        if (c1 === 62) return c2 === 61 ? this.punct('>>=', i, 3) : this.punct('>>', i, 2);
        return this.punct('>', i, 1);
      case 43: return c1 === 61 ? this.punct('+=', i, 2) : this.punct('+', i, 1);
      case 45: return c1 === 61 ? this.punct('-=', i, 2) : this.punct('-', i, 1);
      case 37: return c1 === 61 ? this.punct('%=', i, 2) : this.punct('%', i, 1);
      case 38: return c1 === 61 ? this.punct('&=', i, 2) : this.punct('&', i, 1);
      case 124: return c1 === 61 ? this.punct('|=', i, 2) : this.punct('|', i, 1);
      case 94: return c1 === 61 ? this.punct('^=', i, 2) : this.punct('^', i, 1);
      case 42: // *
        if (c1 === 42) return this.punct('**', i, 2);
        return c1 === 61 ? this.punct('*=', i, 2) : this.punct('*', i, 1);
      case 47: // /
        if (c1 === 47) return c2 === 61 ? this.punct('//=', i, 3) : this.punct('//', i, 2);
        return c1 === 61 ? this.punct('/=', i, 2) : this.punct('/', i, 1);
    }
    const ch = String.fromCodePoint(src.codePointAt(i)!);
    this.errorAt(i, `unexpected character ${JSON.stringify(ch)}`);
  }

  private scanNumber(i: number): Token {
    const src = this.src;
    let j = i;
    const c0 = src.charCodeAt(i);
    const c1 = src.charCodeAt(i + 1) | 0x20;
    if (c0 === 48 && (c1 === 120 || c1 === 111 || c1 === 98)) {
      // 0x, 0o, 0b
      j = i + 2;
      const re = c1 === 120 ? /[0-9a-fA-F]/ : c1 === 111 ? /[0-7]/ : /[01]/;
      while (j < src.length && re.test(src[j]!)) j++;
      if (j === i + 2 || isIdentPart(src.charCodeAt(j))) this.errorAt(i, `invalid int literal ${JSON.stringify(src.slice(i, Math.max(j + 1, i + 3)))}`);
      this.i = j;
      return this.tok('INT', i, BigInt(src.slice(i, j)));
    }
    let isFloat = false;
    while (isDigit(src.charCodeAt(j))) j++;
    if (src.charCodeAt(j) === 46) {
      isFloat = true;
      j++;
      while (isDigit(src.charCodeAt(j))) j++;
    }
    const e = src.charCodeAt(j) | 0x20;
    if (e === 101) {
      let k = j + 1;
      const s = src.charCodeAt(k);
      if (s === 43 || s === 45) k++;
      if (isDigit(src.charCodeAt(k))) {
        isFloat = true;
        while (isDigit(src.charCodeAt(k))) k++;
        j = k;
      }
    }
    const text = src.slice(i, j);
    if (isIdentPart(src.charCodeAt(j))) this.errorAt(i, `invalid ${isFloat ? 'float' : 'int'} literal ${JSON.stringify(text + src[j])}`);
    this.i = j;
    if (isFloat) return this.tok('FLOAT', i, Number(text));
    if (text.length > 1 && text.charCodeAt(0) === 48 && /[1-9]/.test(text)) {
      this.errorAt(i, `invalid int literal ${JSON.stringify(text)}`, `for an octal number write 0o${text.replace(/^0+/, '')}`);
    }
    return this.tok('INT', i, BigInt(text));
  }

  /** `start` is the token start (the r/b prefix if any); `q` the opening quote. */
  private scanString(start: number, q: number, raw: boolean, bytes: boolean): Token {
    const src = this.src;
    const n = src.length;
    const quote = src.charCodeAt(q);
    const triple = src.charCodeAt(q + 1) === quote && src.charCodeAt(q + 2) === quote;
    const startLine = this.line;
    const startCol = this.colAt(start);
    let j = q + (triple ? 3 : 1);
    let out = '';
    let chunk = j;
    for (;;) {
      if (j >= n) this.error(startLine, startCol, 'unterminated string literal');
      const c = src.charCodeAt(j);
      if (c === quote) {
        if (!triple) break;
        if (src.charCodeAt(j + 1) === quote && src.charCodeAt(j + 2) === quote) break;
        j++;
        continue;
      }
      if (c === C_NL) {
        if (!triple) this.error(startLine, startCol, 'unterminated string literal', 'use a triple-quoted string ("""...""") for text with newlines');
        this.newline(j);
        j++;
        continue;
      }
      if (c !== C_BSL) {
        j++;
        continue;
      }
      // Backslash.
      out += fromText(src.slice(chunk, j));
      const d = src.charCodeAt(j + 1);
      if (j + 1 >= n) this.error(startLine, startCol, 'unterminated string literal');
      if (raw) {
        // In a raw string a backslash keeps both characters (it only stops a quote from closing).
        if (d === C_NL) this.newline(j + 1);
        out += fromText(src.slice(j, j + 2));
        j += 2;
        chunk = j;
        continue;
      }
      let k = j + 2;
      switch (d) {
        case C_NL: this.newline(j + 1); break;
        case 110: out += '\n'; break; // n
        case 116: out += '\t'; break; // t
        case 114: out += '\r'; break; // r
        case 92: out += '\\'; break;
        case 39: out += "'"; break;
        case 34: out += '"'; break;
        case 97: out += '\x07'; break; // a
        case 98: out += '\b'; break; // b
        case 102: out += '\f'; break; // f
        case 118: out += '\v'; break; // v
        case 120: // x
        case 117: // u
        case 85: { // U
          const len = d === 120 ? 2 : d === 117 ? 4 : 8;
          const hex = src.slice(j + 2, j + 2 + len);
          if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) {
            this.errorAt(j, `invalid escape sequence \\${String.fromCharCode(d)}${hex.replace(/\n[\s\S]*/, '')}`);
          }
          const cp = parseInt(hex, 16);
          const U = cp.toString(16).toUpperCase().padStart(4, '0');
          if (d === 120 && cp > 127 && !bytes) this.errorAt(j, `non-ASCII hex escape \\x${hex} (use \\u${U} for the UTF-8 encoding of U+${U})`);
          if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff && d !== 120)) this.errorAt(j, `invalid Unicode code point U+${hex}`);
          // \x is one byte (as in starlark-go); \u and \U are a code point's UTF-8 bytes.
          out += d === 120 ? String.fromCharCode(cp) : encodeRune(cp);
          k = j + 2 + len;
          break;
        }
        default:
          if (d >= 48 && d <= 55) {
            // octal: up to 3 digits
            let m = j + 1;
            while (m < j + 4 && src.charCodeAt(m) >= 48 && src.charCodeAt(m) <= 55) m++;
            const v = parseInt(src.slice(j + 1, m), 8);
            if (v > 255) this.errorAt(j, `invalid escape sequence \\${src.slice(j + 1, m)}`);
            if (v > 127 && !bytes) {
              const U = v.toString(16).toUpperCase().padStart(4, '0');
              this.errorAt(j, `non-ASCII octal escape \\${v.toString(8)} (use \\u${U} for the UTF-8 encoding of U+${U})`);
            }
            out += String.fromCharCode(v);
            k = m;
            break;
          }
          this.errorAt(j, `invalid escape sequence \\${String.fromCodePoint(src.codePointAt(j + 1)!)}`, 'write \\\\ for a backslash, or use a raw string r"..."');
      }
      j = k;
      chunk = j;
    }
    out += fromText(src.slice(chunk, j));
    this.i = j + (triple ? 3 : 1);
    return { kind: bytes ? 'BYTES' : 'STRING', value: out, file: this.file, line: startLine, col: startCol };
  }
}
