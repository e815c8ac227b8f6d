// The parser: tokens → syntax tree, by recursive descent following the Starlark grammar.
// It stops at the first error (a SourceError "syntax error: ..." at the offending token).

import { SourceError, type Position } from '../errors.js';
import { Scope } from './ast.js';
import type {
  Arg, CallExpr, CompClause, DictEntry, Expr, FileAST, Ident, LoadStmt, Param, Stmt,
} from './ast.js';
import { isStackOverflow, lineOf, STACK_OVERFLOW } from './errors.js';
import { cleanPos, Scanner, type Token } from './scanner.js';
import { Bytes } from './bytes.js';
import { toText } from './text.js';

/** Binary operator precedence (higher binds tighter); `not` is prefix at NOT_PREC. */
const PREC = new Map<string, number>([
  ['or', 0],
  ['and', 1],
  ['==', 3], ['!=', 3], ['<', 3], ['>', 3], ['<=', 3], ['>=', 3], ['in', 3], ['not in', 3],
  ['|', 4],
  ['^', 5],
  ['&', 6],
  ['<<', 7], ['>>', 7],
  ['+', 8], ['-', 8],
  ['*', 9], ['/', 9], ['//', 9], ['%', 9],
]);
const NOT_PREC = 2;
const CMP_PREC = 3;
const AUGMENTED = new Set(['+=', '-=', '*=', '/=', '//=', '%=', '&=', '|=', '^=', '<<=', '>>=']);
/** Bracket/statement nesting limit (keeps the evaluator's recursion far from the JS stack limit). */
const MAX_DEPTH = 100;
/**
 * Limit on the height of an expression tree: brackets and chains (`a + b + c ...`, `a.b.c ...`,
 * `f()()()...`) both count, so no file can make the resolver or the evaluator overflow the stack.
 */
const MAX_HEIGHT = 1000;
/** An if statement's elifs nest (they count toward MAX_HEIGHT); half of it is left to their expressions. */
const MAX_ELIFS = 500;

export interface ParseOptions {
  /** Accept `while` loops (starlark-go's dialect option; off by default, as in envd). */
  while?: boolean;
}

export function parseFile(file: string, source: string, opts: ParseOptions = {}): FileAST {
  const p = new Parser(file, source, opts);
  try {
    return { file, source: p.scanner.src, stmts: p.parseFile() };
  } catch (err) {
    // The limits above should make this unreachable; if not, still say where.
    if (isStackOverflow(err)) p.overflow();
    throw err;
  }
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

class Parser {
  readonly scanner: Scanner;
  private tok: Token;
  private peeked: Token | undefined;
  private depth = 0;
  /** Links of the operator/suffix chains being parsed (see MAX_HEIGHT). */
  private height = 0;
  /** Number of enclosing def/lambda/if/for blocks (load must be at top level). */
  private blockDepth = 0;

  constructor(
    readonly file: string,
    source: string,
    readonly opts: ParseOptions = {},
  ) {
    this.scanner = new Scanner(file, source);
    this.tok = this.scanner.next();
  }

  /** Tokens double as positions (see Token). */
  private pos(t: Token = this.tok): Position {
    return t;
  }

  private next(): Token {
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
  private at(kind: string): boolean {
    return this.tok.kind === kind;
  }

  private peek(): Token {
    if (!this.peeked) this.peeked = this.scanner.next();
    return this.peeked;
  }

  overflow(): never {
    this.fail(this.tok, STACK_OVERFLOW.replace(/^stack overflow: /, ''), 'split the code into smaller pieces');
  }

  private fail(t: Token, message: string, hint?: string): never {
    throw new SourceError(cleanPos(t), `syntax error: ${message}`, hint, lineOf(this.scanner.src, t.line));
  }

  private unexpected(expected?: string, hint?: string): never {
    const t = this.tok;
    let h = hint;
    if (!h && t.kind === 'INDENT') h = 'this line is indented more than the previous one';
    this.fail(t, `unexpected ${describe(t)}${expected ? `, expected ${expected}` : ''}`, h);
  }

  private expect(kind: string): Token {
    if (this.tok.kind !== kind) this.unexpected(kind === 'NEWLINE' ? 'newline' : kind === 'IDENT' ? 'a name' : `"${kind}"`);
    return this.next();
  }

  private enter(t: Token): void {
    if (++this.depth > MAX_DEPTH) this.fail(t, `code nested too deeply (more than ${MAX_DEPTH} levels)`, 'split the expression or the block into smaller pieces');
  }

  /** One more link of an operator, suffix or conditional chain (an elif is one too: it nests). */
  private grow(t: Token): void {
    if (++this.height + this.depth > MAX_HEIGHT) {
      this.fail(t, `expression nested too deeply (more than ${MAX_HEIGHT} levels of operators, calls or brackets)`, 'split the expression into smaller pieces, e.g. with intermediate variables');
    }
  }

  /** Runs `f` and then forgets the height its chain grew (the chain has ended). */
  private chain<T>(f: () => T): T {
    const height0 = this.height;
    try {
      return f();
    } finally {
      this.height = height0;
    }
  }

  private ident(t: Token): Ident {
    return { kind: 'Ident', pos: t, name: t.value as string, scope: Scope.Unresolved, index: 0, level: 0, value: undefined };
  }

  parseFile(): Stmt[] {
    const stmts: Stmt[] = [];
    while (this.tok.kind !== 'EOF') {
      if (this.tok.kind === 'NEWLINE') {
        this.next();
        continue;
      }
      this.parseStmt(stmts);
    }
    return stmts;
  }

  private parseStmt(out: Stmt[]): void {
    switch (this.tok.kind) {
      case 'def':
        out.push(this.parseDef());
        return;
      case 'if':
        out.push(this.parseIf());
        return;
      case 'for':
        out.push(this.parseFor());
        return;
      case 'while':
        if (!this.opts.while) this.fail(this.tok, 'while loops are not supported', 'use a for loop over range(...)');
        out.push(this.parseWhile());
        return;
      default:
        this.parseSimpleStmt(out);
    }
  }

  private parseSimpleStmt(out: Stmt[]): void {
    for (;;) {
      out.push(this.parseSmallStmt());
      if (this.tok.kind !== ';') break;
      this.next();
      if (this.at('NEWLINE') || this.at('EOF')) break;
    }
    if (this.tok.kind !== 'EOF') {
      if (this.tok.kind !== 'NEWLINE') this.unexpected();
      this.next();
    }
  }

  private parseSmallStmt(): Stmt {
    const t = this.tok;
    switch (t.kind) {
      case 'return': {
        this.next();
        const k = this.tok.kind;
        const value = k === 'NEWLINE' || k === ';' || k === 'EOF' ? undefined : this.parseExpr();
        return { kind: 'Return', pos: this.pos(t), value };
      }
      case 'break':
      case 'continue':
      case 'pass':
        this.next();
        return { kind: t.kind === 'break' ? 'Break' : t.kind === 'continue' ? 'Continue' : 'Pass', pos: this.pos(t) };
      case 'load':
        return this.parseLoad();
    }
    const lhs = this.parseExpr();
    const op = this.tok.kind;
    if (op === '=' || AUGMENTED.has(op)) {
      const opTok = this.next();
      this.checkTarget(lhs, op !== '=');
      const rhs = this.parseExpr();
      if (this.tok.kind === '=') this.fail(this.tok, 'chained assignment (a = b = c) is not supported');
      return { kind: 'Assign', pos: this.pos(opTok), op, lhs, rhs };
    }
    return { kind: 'Expr', pos: lhs.kind === 'Call' || lhs.kind === 'Binary' ? startPos(lhs) : lhs.pos, expr: lhs };
  }

  private checkTarget(e: Expr, augmented: boolean): void {
    switch (e.kind) {
      case 'Ident':
      case 'Index':
      case 'Dot':
        return;
      case 'Tuple':
      case 'List':
        if (augmented) break;
        // `() = ()` is allowed, as in starlark-go.
        for (let i = 0; i < e.elems.length; i++) this.checkTarget(e.elems[i]!, false);
        return;
    }
    const what = e.kind === 'Literal' ? 'a literal' : e.kind === 'Call' ? 'a function call' : augmented && (e.kind === 'Tuple' || e.kind === 'List') ? 'a tuple or list with an augmented assignment' : 'this expression';
    throw new SourceError(cleanPos(startPos(e)), `syntax error: cannot assign to ${what}`, undefined, lineOf(this.scanner.src, startPos(e).line));
  }

  private parseLoad(): LoadStmt {
    const t = this.next();
    if (this.blockDepth > 0) this.fail(t, 'load statement not at top level');
    this.expect('(');
    if (this.tok.kind !== 'STRING') this.unexpected('a module name string');
    const modTok = this.next();
    const names: LoadStmt['names'] = [];
    while (this.at(',')) {
      this.next();
      if (this.at(')')) break;
      if (this.tok.kind === 'STRING') {
        const s = this.next();
        const name = toText(s.value as string);
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) this.fail(s, `load: invalid name ${JSON.stringify(name)}`);
        names.push({ from: name, fromPos: this.pos(s), to: { ...this.ident(s), name } });
      } else if (this.tok.kind === 'IDENT') {
        const id = this.next();
        this.expect('=');
        if (this.tok.kind !== 'STRING') this.unexpected('a name string');
        const s = this.next();
        names.push({ from: toText(s.value as string), fromPos: this.pos(s), to: this.ident(id) });
      } else {
        this.unexpected('a name string');
      }
    }
    const close = this.expect(')');
    if (names.length === 0) this.fail(close, 'load statement must import at least 1 symbol');
    return { kind: 'Load', pos: this.pos(t), module: toText(modTok.value as string), modulePos: this.pos(modTok), names };
  }

  private parseSuite(): Stmt[] {
    const body: Stmt[] = [];
    this.blockDepth++;
    if (this.tok.kind === 'NEWLINE') {
      this.next();
      if (!this.at('INDENT')) this.unexpected('an indented block');
      const ind = this.next();
      this.enter(ind);
      while (!this.at('OUTDENT') && !this.at('EOF')) {
        if (this.tok.kind === 'NEWLINE') {
          this.next();
          continue;
        }
        this.parseStmt(body);
      }
      this.next();
      this.depth--;
    } else {
      this.parseSimpleStmt(body);
    }
    this.blockDepth--;
    return body;
  }

  private parseDef(): Stmt {
    const t = this.next();
    const name = this.ident(this.expect('IDENT'));
    const lp = this.expect('(');
    const params = this.parseParams(')', lp);
    this.expect(')');
    this.expect(':');
    const body = this.parseSuite();
    return { kind: 'Def', pos: this.pos(t), name, params, body, code: undefined };
  }

  private parseParams(end: string, open: Token): Param[] {
    const params: Param[] = [];
    let seenDefault = false;
    let seenStar = false;
    let seenKwargs = false;
    while (this.tok.kind !== end) {
      const t = this.tok;
      if (seenKwargs) this.fail(t, 'parameter may not follow **kwargs');
      let p: Param;
      if (t.kind === '*') {
        this.next();
        if (seenStar) this.fail(t, 'multiple * parameters not allowed');
        seenStar = true;
        if (this.tok.kind === 'IDENT') p = { kind: 'star', pos: this.pos(t), name: this.ident(this.next()), default: undefined };
        else p = { kind: 'barestar', pos: this.pos(t), name: undefined, default: undefined };
      } else if (t.kind === '**') {
        this.next();
        p = { kind: 'starstar', pos: this.pos(t), name: this.ident(this.expect('IDENT')), default: undefined };
        seenKwargs = true;
      } else if (t.kind === 'IDENT') {
        const name = this.ident(this.next());
        if (this.tok.kind === '=') {
          this.next();
          p = { kind: 'default', pos: name.pos, name, default: this.parseTest() };
          if (!seenStar) seenDefault = true;
        } else {
          if (seenDefault && !seenStar) this.fail(t, 'required parameter may not follow optional');
          p = { kind: 'plain', pos: name.pos, name, default: undefined };
        }
      } else {
        this.unexpected('a parameter name');
      }
      params.push(p);
      if (this.tok.kind !== ',') break;
      this.next();
    }
    const last = params[params.length - 1];
    const bare = params.findIndex((p) => p.kind === 'barestar');
    if (bare >= 0 && (bare === params.length - 1 || params[bare + 1]!.kind === 'starstar')) {
      this.fail(open, 'bare * must be followed by keyword-only parameters');
    }
    void last;
    return params;
  }

  private parseIf(): Stmt {
    return this.chain(() => this.parseIfChain());
  }

  // Each elif is an if nested in the else of the one before: its depth counts as an expression's.
  private parseIfChain(): Stmt {
    const t = this.next();
    const cond = this.parseTest();
    this.expect(':');
    const then = this.parseSuite();
    let els: Stmt[] = [];
    if (this.tok.kind === 'elif') {
      if (this.height >= MAX_ELIFS) this.fail(this.tok, `too many elif branches (more than ${MAX_ELIFS} in one if statement)`, 'look the value up in a dict, or split the chain into functions');
      this.grow(this.tok);
      els = [this.parseIfChain()];
    } else if (this.tok.kind === 'else') {
      this.next();
      this.expect(':');
      els = this.parseSuite();
    }
    return { kind: 'If', pos: this.pos(t), cond, then, els };
  }

  private parseFor(): Stmt {
    const t = this.next();
    const vars = this.parseLoopVars();
    this.expect('in');
    const iter = this.parseExpr();
    this.expect(':');
    const body = this.parseSuite();
    return { kind: 'For', pos: this.pos(t), vars, iter, body };
  }

  private parseWhile(): Stmt {
    const t = this.next();
    const cond = this.parseExpr();
    this.expect(':');
    const body = this.parseSuite();
    return { kind: 'While', pos: this.pos(t), cond, body };
  }

  private parseLoopVars(): Expr {
    const first = this.parsePrimaryWithSuffix();
    let vars: Expr = first;
    if (this.tok.kind === ',') {
      const elems = [first];
      while (this.at(',')) {
        this.next();
        if (this.at('in')) break;
        elems.push(this.parsePrimaryWithSuffix());
      }
      vars = { kind: 'Tuple', pos: first.pos, elems };
    }
    this.checkTarget(vars, false);
    return vars;
  }

  // ---- expressions ----

  /** Expression = Test {',' Test} [','] — a bare tuple when there is a comma. */
  parseExpr(): Expr {
    const x = this.parseTest();
    if (this.tok.kind !== ',') return x;
    const elems = [x];
    while (this.at(',')) {
      this.next();
      if (!this.startsExpr()) break;
      elems.push(this.parseTest());
    }
    return { kind: 'Tuple', pos: startPos(x), elems };
  }

  private startsExpr(): boolean {
    switch (this.tok.kind) {
      case 'IDENT': case 'INT': case 'FLOAT': case 'STRING': case 'BYTES':
      case '(': case '[': case '{': case '-': case '+': case '~': case 'not': case 'lambda':
        return true;
    }
    return false;
  }

  parseTest(): Expr {
    if (this.tok.kind === 'lambda') return this.parseLambda();
    const x = this.parseTestPrec(0);
    if (this.tok.kind !== 'if') return x;
    // `a if c else b if d else ...` nests in its else branch: a chain like `a + b + ...`.
    return this.chain(() => {
      this.grow(this.tok);
      const t = this.next();
      const cond = this.parseTestPrec(0);
      if (!this.at('else')) this.unexpected('"else"', 'a conditional expression needs both branches: a if cond else b');
      this.next();
      const els = this.parseTest();
      return { kind: 'Cond', pos: this.pos(t), cond, then: x, els };
    });
  }

  private parseLambda(): Expr {
    const t = this.next();
    this.enter(t);
    const params = this.parseParams(':', t);
    this.expect(':');
    const body = this.parseTest();
    this.depth--;
    return { kind: 'Lambda', pos: this.pos(t), params, body, code: undefined };
  }

  /** Binary expressions by precedence climbing: operators binding at least as tight as `minPrec`. */
  private parseTestPrec(minPrec: number): Expr {
    let x: Expr;
    if (this.tok.kind === 'not' && minPrec <= NOT_PREC) {
      const t = this.next();
      this.enter(t);
      const operand = this.parseTestPrec(NOT_PREC);
      this.depth--;
      x = { kind: 'Unary', pos: t, op: 'not', x: operand };
    } else {
      x = this.parsePrimaryWithSuffix();
    }
    let lastCmp: string | undefined;
    const height0 = this.height;
    try {
    for (;;) {
      let op = this.tok.kind;
      if (op === 'not') {
        if (this.peek().kind !== 'in') return x;
        op = 'not in';
      }
      const prec = PREC.get(op);
      if (prec === undefined || prec < minPrec) return x;
      this.grow(this.tok);
      if (prec === CMP_PREC) {
        if (lastCmp !== undefined) {
          this.fail(this.tok, `comparison operators cannot be chained (${lastCmp} ... ${op})`, 'use parentheses or "and"');
        }
        lastCmp = op;
      } else {
        lastCmp = undefined;
      }
      const t = this.next();
      if (op === 'not in') this.next();
      const y = this.parseTestPrec(prec + 1);
      x = { kind: 'Binary', pos: t, op, x, y };
    }
    } finally {
      this.height = height0;
    }
  }

  private parsePrimaryWithSuffix(): Expr {
    const start = this.tok;
    let x = this.parsePrimary();
    const height0 = this.height;
    try {
    for (;;) {
      const t = this.tok;
      if (t.kind === '.' || t.kind === '[' || t.kind === '(') this.grow(t);
      if (t.kind === '.') {
        this.next();
        const name = this.expect('IDENT');
        x = { kind: 'Dot', pos: this.pos(name), x, name: name.value as string };
      } else if (t.kind === '[') {
        x = this.parseIndexSuffix(x);
      } else if (t.kind === '(') {
        x = this.parseCallSuffix(x, start);
      } else {
        return x;
      }
    }
    } finally {
      this.height = height0;
    }
  }

  private parseIndexSuffix(x: Expr): Expr {
    const lb = this.next();
    this.enter(lb);
    let lo: Expr | undefined;
    if (this.tok.kind !== ':') {
      lo = this.parseExpr();
      if (this.tok.kind === ']') {
        this.next();
        this.depth--;
        return { kind: 'Index', pos: this.pos(lb), x, index: lo };
      }
    }
    let hi: Expr | undefined;
    let step: Expr | undefined;
    this.expect(':');
    if (!this.at(':') && !this.at(']')) hi = this.parseTest();
    if (this.at(':')) {
      this.next();
      if (!this.at(']')) step = this.parseTest();
    }
    this.expect(']');
    this.depth--;
    return { kind: 'Slice', pos: this.pos(lb), x, lo, hi, step };
  }

  private parseCallSuffix(fn: Expr, start: Token): CallExpr {
    const lp = this.next();
    this.enter(lp);
    const args: Arg[] = [];
    let seenNamed = false;
    let seenStar = false;
    let seenStarStar = false;
    let simple = true;
    while (this.tok.kind !== ')') {
      const t = this.tok;
      let a: Arg;
      if (t.kind === '*') {
        this.next();
        if (seenStarStar) this.fail(t, '*args may not follow **kwargs');
        if (seenStar) this.fail(t, 'multiple *args not allowed');
        seenStar = true;
        a = { kind: 'star', name: undefined, value: this.parseTest(), pos: this.pos(t) };
      } else if (t.kind === '**') {
        this.next();
        if (seenStarStar) this.fail(t, 'multiple **kwargs not allowed');
        seenStarStar = true;
        a = { kind: 'starstar', name: undefined, value: this.parseTest(), pos: this.pos(t) };
      } else if (t.kind === 'IDENT' && this.peek().kind === '=') {
        this.next();
        this.next();
        if (seenStarStar) this.fail(t, 'keyword argument may not follow **kwargs');
        seenNamed = true;
        a = { kind: 'named', name: t.value as string, value: this.parseTest(), pos: this.pos(t) };
      } else {
        if (seenStarStar) this.fail(t, 'positional argument may not follow **kwargs');
        if (seenStar) this.fail(t, 'positional argument may not follow *args');
        if (seenNamed) this.fail(t, 'positional argument may not follow keyword argument');
        const value = this.parseTest();
        if (this.tok.kind === 'for') this.fail(this.tok, 'generator expressions are not supported', 'use a list comprehension: f([x for x in y])');
        a = { kind: 'pos', name: undefined, value, pos: startPos(value) };
      }
      if (a.kind !== 'pos') simple = false;
      args.push(a);
      if (this.tok.kind !== ',') break;
      this.next();
    }
    this.expect(')');
    this.depth--;
    return { kind: 'Call', pos: this.pos(start), fn, args, simple };
  }

  private parsePrimary(): Expr {
    const t = this.tok;
    switch (t.kind) {
      case 'IDENT': {
        this.next();
        const name = t.value as string;
        if (name === 'True' || name === 'False' || name === 'None') {
          return { kind: 'Literal', pos: this.pos(t), value: name === 'True' ? true : name === 'False' ? false : null };
        }
        return this.ident(t);
      }
      case 'INT':
      case 'FLOAT':
      case 'STRING':
        this.next();
        if (this.tok.kind === 'STRING') this.fail(this.tok, 'adjacent string literals are not supported', 'join them with +');
        return { kind: 'Literal', pos: this.pos(t), value: t.value as string | bigint | number };
      case 'BYTES':
        this.next();
        if (this.tok.kind === 'BYTES') this.fail(this.tok, 'adjacent bytes literals are not supported', 'join them with +');
        return { kind: 'Literal', pos: this.pos(t), value: new Bytes(t.value as string) };
      case '(': {
        this.next();
        this.enter(t);
        if (this.tok.kind === ')') {
          this.next();
          this.depth--;
          return { kind: 'Tuple', pos: this.pos(t), elems: [] };
        }
        const x = this.parseExpr();
        if (this.tok.kind === 'for') this.fail(this.tok, 'generator expressions are not supported', 'use a list comprehension [...]');
        this.expect(')');
        this.depth--;
        return x;
      }
      case '[': {
        this.next();
        this.enter(t);
        const elems: Expr[] = [];
        if (this.tok.kind !== ']') {
          const x = this.parseTest();
          if (this.tok.kind === 'for') {
            const clauses = this.parseClauses();
            this.expect(']');
            this.depth--;
            return { kind: 'Comp', pos: this.pos(t), curly: false, body: x, value: undefined, clauses };
          }
          elems.push(x);
          while (this.at(',')) {
            this.next();
            if (this.at(']')) break;
            elems.push(this.parseTest());
          }
        }
        this.expect(']');
        this.depth--;
        return { kind: 'List', pos: this.pos(t), elems };
      }
      case '{': {
        this.next();
        this.enter(t);
        const entries: DictEntry[] = [];
        if (this.tok.kind !== '}') {
          const e = this.parseDictEntry();
          if (this.tok.kind === 'for') {
            const clauses = this.parseClauses();
            this.expect('}');
            this.depth--;
            return { kind: 'Comp', pos: this.pos(t), curly: true, body: e.key, value: e.value, clauses };
          }
          entries.push(e);
          while (this.at(',')) {
            this.next();
            if (this.at('}')) break;
            entries.push(this.parseDictEntry());
          }
        }
        this.expect('}');
        this.depth--;
        return { kind: 'Dict', pos: this.pos(t), entries };
      }
      case '-':
      case '+':
      case '~': {
        this.next();
        this.enter(t);
        const x = this.parsePrimaryWithSuffix();
        this.depth--;
        return { kind: 'Unary', pos: this.pos(t), op: t.kind, x };
      }
    }
    this.unexpected();
  }

  private parseDictEntry(): DictEntry {
    const key = this.parseTest();
    if (this.tok.kind !== ':') this.unexpected('":"', 'a dict entry is key: value (sets are not supported)');
    this.next();
    return { key, value: this.parseTest() };
  }

  private parseClauses(): CompClause[] {
    const clauses: CompClause[] = [];
    while (this.tok.kind === 'for' || this.tok.kind === 'if') {
      const t = this.next();
      if (t.kind === 'for') {
        const vars = this.parseLoopVars();
        this.expect('in');
        const iter = this.parseTestPrec(0);
        clauses.push({ kind: 'for', pos: this.pos(t), vars, iter });
      } else {
        // TestNoCond: a lambda is allowed here (as in starlark-go), a conditional is not.
        clauses.push({ kind: 'if', pos: this.pos(t), cond: (this.tok.kind as string) === 'lambda' ? this.parseLambda() : this.parseTestPrec(0) });
      }
    }
    return clauses;
  }
}

/** The leftmost position of an expression. */
export function startPos(e: Expr): Position {
  for (;;) {
    switch (e.kind) {
      case 'Binary':
      case 'Index':
      case 'Slice':
      case 'Dot':
        e = e.x;
        continue;
      case 'Cond':
        e = e.then;
        continue;
      case 'Tuple':
        if (e.elems.length === 0) return e.pos;
        e = e.elems[0]!;
        continue;
      default:
        return e.pos;
    }
  }
}
