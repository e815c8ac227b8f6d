// The parser's token cursor: the current token and one of lookahead, syntax errors, and the
// nesting limits (depth, chain height) that keep every later stage off the JS stack limit.

import { SourceError, type Position } from '../errors.js';
import { Scope } from './ast.js';
import type { Ident } from './ast.js';
import { lineOf, STACK_OVERFLOW } from './errors.js';
import { cleanPos, Scanner, type Token } from './scanner.js';

/** Bracket/statement nesting limit (keeps the evaluator's recursion far from the JS stack limit). */
export const MAX_DEPTH = 100;
/**
 * Limit on the height of an expression tree: brackets and chains (`a + b + c ...`, `a.b.c ...`,
 * `f()()()...`) both count, so no file can make the resolver or the evaluator overflow the stack.
 */
export const MAX_HEIGHT = 1000;
/** An if statement's elifs nest (they count toward MAX_HEIGHT); half of it is left to their expressions. */
export const MAX_ELIFS = 500;

export interface ParseOptions {
  /** Accept `while` loops (starlark-go's dialect option; off by default, as in envd). */
  while?: boolean;
}

function describe(t: Token): string {
  switch (t.kind) {
    case 'EOF': return 'end of file';
    case 'NEWLINE': return 'newline';
    case 'INDENT': return 'indentation';
    case 'OUTDENT': return 'end of indented block';
    case 'IDENT': return `identifier "${t.value as string}"`;
    case 'INT': return `int ${String(t.value)}`;
    case 'FLOAT': return `float ${String(t.value)}`;
    case 'STRING':
    case 'BYTES': {
      const s = JSON.stringify(t.value as string);
      return `${t.kind === 'BYTES' ? 'bytes' : 'string'} ${s.length > 30 ? s.slice(0, 27) + '..."' : s}`;
    }
    default: return `"${t.kind}"`;
  }
}

export abstract class TokenCursor {
  readonly scanner: Scanner;
  protected tok: Token;
  protected peeked: Token | undefined;
  protected depth = 0;
  /** Links of the operator/suffix chains being parsed (see MAX_HEIGHT). */
  protected height = 0;
  /** Number of enclosing def/lambda/if/for blocks (load must be at top level). */
  protected blockDepth = 0;

  constructor(
    readonly file: string,
    source: string,
    readonly opts: ParseOptions = {},
  ) {
    this.scanner = new Scanner(file, source);
    this.tok = this.scanner.next();
  }


  /** Tokens double as positions (see Token). */
  protected pos(t: Token = this.tok): Position {
    return t;
  }

  protected next(): Token {
    const t = this.tok;
    if (this.peeked) {
      this.tok = this.peeked;
      this.peeked = undefined;
    } else {
      this.tok = this.scanner.next();
    }
    return t;
  }

  /** The current token's kind (a method, so TypeScript does not narrow it across next()). */
  protected at(kind: string): boolean {
    return this.tok.kind === kind;
  }

  protected peek(): Token {
    if (!this.peeked) this.peeked = this.scanner.next();
    return this.peeked;
  }

  overflow(): never {
    this.fail(this.tok, STACK_OVERFLOW.replace(/^stack overflow: /, ''), 'split the code into smaller pieces');
  }

  protected fail(t: Token, message: string, hint?: string): never {
    throw new SourceError(cleanPos(t), `syntax error: ${message}`, hint, lineOf(this.scanner.src, t.line));
  }

  protected unexpected(expected?: string, hint?: string): never {
    const t = this.tok;
    let h = hint;
    if (!h && t.kind === 'INDENT') h = 'this line is indented more than the previous one';
    this.fail(t, `unexpected ${describe(t)}${expected ? `, expected ${expected}` : ''}`, h);
  }

  protected expect(kind: string): Token {
    if (this.tok.kind !== kind) this.unexpected(kind === 'NEWLINE' ? 'newline' : kind === 'IDENT' ? 'a name' : `"${kind}"`);
    return this.next();
  }

  protected enter(t: Token): void {
    if (++this.depth > MAX_DEPTH) this.fail(t, `code nested too deeply (more than ${MAX_DEPTH} levels)`, 'split the expression or the block into smaller pieces');
  }

  /** One more link of an operator, suffix or conditional chain (an elif is one too: it nests). */
  protected grow(t: Token): void {
    if (++this.height + this.depth > MAX_HEIGHT) {
      this.fail(t, `expression nested too deeply (more than ${MAX_HEIGHT} levels of operators, calls or brackets)`, 'split the expression into smaller pieces, e.g. with intermediate variables');
    }
  }

  /** Runs `f` and then forgets the height its chain grew (the chain has ended). */
  protected chain<T>(f: () => T): T {
    const height0 = this.height;
    try {
      return f();
    } finally {
      this.height = height0;
    }
  }

  protected ident(t: Token): Ident {
    return { kind: 'Ident', pos: t, name: t.value as string, scope: Scope.Unresolved, index: 0, level: 0, value: undefined };
  }
}
