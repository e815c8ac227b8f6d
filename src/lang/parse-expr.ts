// The parser's expressions: precedence climbing over binary operators, suffixes (calls,
// indexing, slices, attributes), literals, comprehensions, lambdas, parameters and targets.

import { SourceError, type Position } from '../errors.js';
import type { Arg, CallExpr, CompClause, DictEntry, Expr, Param } from './ast.js';
import { Bytes } from './bytes.js';
import { lineOf } from './errors.js';
import { TokenCursor } from './parse-cursor.js';
import { cleanPos, type Token } from './scanner.js';

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

export abstract class ExprParser extends TokenCursor {
  protected checkTarget(e: Expr, augmented: boolean): void {
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

  protected parseParams(end: string, open: Token): Param[] {
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

  protected parseLoopVars(): Expr {
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

  protected startsExpr(): boolean {
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

  protected parseLambda(): Expr {
    const t = this.next();
    this.enter(t);
    const params = this.parseParams(':', t);
    this.expect(':');
    const body = this.parseTest();
    this.depth--;
    return { kind: 'Lambda', pos: this.pos(t), params, body, code: undefined };
  }

  /** Binary expressions by precedence climbing: operators binding at least as tight as `minPrec`. */
  protected parseTestPrec(minPrec: number): Expr {
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

  protected parsePrimaryWithSuffix(): Expr {
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

  protected parseIndexSuffix(x: Expr): Expr {
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

  protected parseCallSuffix(fn: Expr, start: Token): CallExpr {
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

  protected parsePrimary(): Expr {
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

  protected parseDictEntry(): DictEntry {
    const key = this.parseTest();
    if (this.tok.kind !== ':') this.unexpected('":"', 'a dict entry is key: value (sets are not supported)');
    this.next();
    return { key, value: this.parseTest() };
  }

  protected parseClauses(): CompClause[] {
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
