// The syntax tree. The parser builds it; the resolver fills in the `scope`/`index` of
// identifiers and the `code` of functions; the evaluator walks it.

import type { Position } from '../errors.js';
import type { Value } from './values.js';

/** Where a resolved identifier lives. */
export const enum Scope {
  Unresolved = 0,
  /** A slot of the current function's frame. */
  Local = 1,
  /** A slot of an enclosing function's frame: `env[level][index]`. */
  Free = 2,
  /** A module global: `module.globals[index]`. */
  Global = 3,
  /** Predeclared by the host or a universe builtin: the value is in `value`. */
  Predeclared = 4,
}

export interface Ident {
  kind: 'Ident';
  pos: Position;
  name: string;
  scope: Scope;
  index: number;
  level: number;
  value: Value | undefined;
}

export interface Literal {
  kind: 'Literal';
  pos: Position;
  value: Value;
}

export interface ListExpr {
  kind: 'List';
  pos: Position;
  elems: Expr[];
}

export interface TupleExpr {
  kind: 'Tuple';
  pos: Position;
  elems: Expr[];
}

export interface DictEntry {
  key: Expr;
  value: Expr;
}

export interface DictExpr {
  kind: 'Dict';
  pos: Position;
  entries: DictEntry[];
}

export type CompClause =
  | { kind: 'for'; pos: Position; vars: Expr; iter: Expr }
  | { kind: 'if'; pos: Position; cond: Expr };

export interface Comprehension {
  kind: 'Comp';
  pos: Position;
  /** dict comprehension if true: `body` is the key and `value` the value. */
  curly: boolean;
  body: Expr;
  value: Expr | undefined;
  clauses: CompClause[];
}

export interface UnaryExpr {
  kind: 'Unary';
  pos: Position;
  op: '-' | '+' | '~' | 'not';
  x: Expr;
}

export interface BinaryExpr {
  kind: 'Binary';
  /** The operator's position. */
  pos: Position;
  op: string;
  x: Expr;
  y: Expr;
}

export interface CondExpr {
  kind: 'Cond';
  pos: Position;
  cond: Expr;
  then: Expr;
  els: Expr;
}

export interface IndexExpr {
  kind: 'Index';
  /** The `[`. */
  pos: Position;
  x: Expr;
  index: Expr;
}

export interface SliceExpr {
  kind: 'Slice';
  pos: Position;
  x: Expr;
  lo: Expr | undefined;
  hi: Expr | undefined;
  step: Expr | undefined;
}

export interface DotExpr {
  kind: 'Dot';
  /** The attribute name's position. */
  pos: Position;
  x: Expr;
  name: string;
}

export interface Arg {
  kind: 'pos' | 'named' | 'star' | 'starstar';
  name: string | undefined;
  value: Expr;
  pos: Position;
}

export interface CallExpr {
  kind: 'Call';
  /** The start of the callee (`host` in `host.bind(...)`). */
  pos: Position;
  fn: Expr;
  args: Arg[];
  /** All arguments are plain positional ones. */
  simple: boolean;
}

export interface LambdaExpr {
  kind: 'Lambda';
  pos: Position;
  params: Param[];
  body: Expr;
  code: FunCode | undefined;
}

export type Expr =
  | Ident
  | Literal
  | ListExpr
  | TupleExpr
  | DictExpr
  | Comprehension
  | UnaryExpr
  | BinaryExpr
  | CondExpr
  | IndexExpr
  | SliceExpr
  | DotExpr
  | CallExpr
  | LambdaExpr;

export interface Param {
  kind: 'plain' | 'default' | 'star' | 'starstar' | 'barestar';
  pos: Position;
  name: Ident | undefined;
  default: Expr | undefined;
}

export interface ExprStmt {
  kind: 'Expr';
  pos: Position;
  expr: Expr;
}

export interface AssignStmt {
  kind: 'Assign';
  /** The operator's position. */
  pos: Position;
  /** '=' or an augmented operator such as '+='. */
  op: string;
  lhs: Expr;
  rhs: Expr;
}

export interface DefStmt {
  kind: 'Def';
  pos: Position;
  name: Ident;
  params: Param[];
  body: Stmt[];
  code: FunCode | undefined;
}

export interface IfStmt {
  kind: 'If';
  pos: Position;
  cond: Expr;
  then: Stmt[];
  els: Stmt[];
}

export interface ForStmt {
  kind: 'For';
  pos: Position;
  vars: Expr;
  iter: Expr;
  body: Stmt[];
}

/** Only with the `while` option (starlark-go's dialect option; off by default, as in envd). */
export interface WhileStmt {
  kind: 'While';
  pos: Position;
  cond: Expr;
  body: Stmt[];
}

export interface ReturnStmt {
  kind: 'Return';
  pos: Position;
  value: Expr | undefined;
}

export interface BranchStmt {
  kind: 'Break' | 'Continue' | 'Pass';
  pos: Position;
}

export interface LoadStmt {
  kind: 'Load';
  pos: Position;
  module: string;
  modulePos: Position;
  /** `to` is the local name bound; `from` the name in the loaded module. */
  names: { from: string; fromPos: Position; to: Ident }[];
}

export type Stmt = ExprStmt | AssignStmt | DefStmt | IfStmt | ForStmt | WhileStmt | ReturnStmt | BranchStmt | LoadStmt;

/** A parsed file. */
export interface FileAST {
  file: string;
  source: string;
  stmts: Stmt[];
}

/** A function's compiled form, made by the resolver. */
export interface FunCode {
  name: string;
  pos: Position;
  params: Param[];
  /** Names of the parameters in slot order: positional, keyword-only, then *args, **kwargs. */
  paramNames: string[];
  /** Number of positional parameters (before `*`). */
  numPositional: number;
  /** Number of keyword-only parameters. */
  numKwonly: number;
  hasVarargs: boolean;
  hasKwargs: boolean;
  /** Frame size: parameters, then locals, then comprehension variables. */
  nlocals: number;
  /** Nesting depth: 1 for a top-level def. */
  level: number;
  body: Stmt[];
  /** Set while the function is running (recursion is an error). */
  busy: boolean;
}

/** The result of resolving a file. */
export interface ResolvedFile extends FileAST {
  /** Global names in index order. */
  globals: string[];
  /** Frame size of the top-level code (comprehension variables). */
  nlocals: number;
}
