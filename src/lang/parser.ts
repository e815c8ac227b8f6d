// The parser: tokens → syntax tree, by recursive descent following the Starlark grammar.
// It stops at the first error (a SourceError "syntax error: ..." at the offending token).
// Statements are parsed here; expressions in parse-expr.ts, on the token cursor of parse-cursor.ts.

import type { FileAST, LoadStmt, Stmt } from './ast.js';
import { isStackOverflow } from './errors.js';
import { MAX_ELIFS, type ParseOptions } from './parse-cursor.js';
import { ExprParser, startPos } from './parse-expr.js';
import { toText } from './text.js';

export type { ParseOptions };
export { startPos } from './parse-expr.js';

const AUGMENTED = new Set(['+=', '-=', '*=', '/=', '//=', '%=', '&=', '|=', '^=', '<<=', '>>=']);

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

class Parser extends ExprParser {
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

  protected parseStmt(out: Stmt[]): void {
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

  protected parseSimpleStmt(out: Stmt[]): void {
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

  protected parseSmallStmt(): Stmt {
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

  protected parseLoad(): LoadStmt {
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

  protected parseSuite(): Stmt[] {
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

  protected parseDef(): Stmt {
    const t = this.next();
    const name = this.ident(this.expect('IDENT'));
    const lp = this.expect('(');
    const params = this.parseParams(')', lp);
    this.expect(')');
    this.expect(':');
    const body = this.parseSuite();
    return { kind: 'Def', pos: this.pos(t), name, params, body, code: undefined };
  }

  protected parseIf(): Stmt {
    return this.chain(() => this.parseIfChain());
  }

  // Each elif is an if nested in the else of the one before: its depth counts as an expression's.
  protected parseIfChain(): Stmt {
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

  protected parseFor(): Stmt {
    const t = this.next();
    const vars = this.parseLoopVars();
    this.expect('in');
    const iter = this.parseExpr();
    this.expect(':');
    const body = this.parseSuite();
    return { kind: 'For', pos: this.pos(t), vars, iter, body };
  }

  protected parseWhile(): Stmt {
    const t = this.next();
    const cond = this.parseExpr();
    this.expect(':');
    const body = this.parseSuite();
    return { kind: 'While', pos: this.pos(t), cond, body };
  }
}
