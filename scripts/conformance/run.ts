// Conformance with starlark-go: runs the test files of a pinned go.starlark.net module (fetched
// from the Go module proxy into Go's module cache; nothing is copied into this repository)
// through envserve's interpreter, with an assert shim written in Starlark (assert.star here).
//
// The measure: the share of top-level statements that behave as upstream expects. A statement
// passes when it runs without an assertion failure (error() in the shim), or raises the error
// its chunk expects (`### "regex"`). After an unexpected error, the rest of the chunk fails.
// A chunk that does not parse counts all its top-level statements as failing (or passing, if the
// syntax error is the expected one).
//
// Chunks marked `option:recursion` or `option:while` run with that option only with --recursion or
// --while (starlark-go's options; envd leaves them off, and so does envserve by default).
//
// Usage: npm run conformance [-- --verbose] [-- --lines] [-- --recursion] [-- --while] [-- file.star ...]
// (--lines lists the line of every failing statement)
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { didYouMean, SourceError } from '../../src/errors.js';
import {
  Builtin, EvalError, freeze, fromText, parseFile, SourceErrorList, str, Struct, Thread, toStr, toText, Tuple, unpackArgs, type Value,
} from '../../src/lang/index.js';

/** The pinned module: go.starlark.net at this pseudo-version. */
export const STARLARK_GO = 'go.starlark.net@v0.0.0-20260908191801-89a6a09411d5';

/** The files of starlark-go's TestExecFile, less the Go-only modules (json, math, time, proto). */
export const FILES = [
  'assign.star', 'bool.star', 'builtins.star', 'bytes.star', 'control.star', 'dict.star', 'float.star',
  'function.star', 'int.star', 'list.star', 'misc.star', 'set.star', 'string.star', 'tuple.star',
  'recursion.star', 'module.star', 'while.star',
];

let verboseReasons = 3;
let allowRecursion = false;
let allowWhile = false;
const HERE = fileURLToPath(new URL('.', import.meta.url));
const SHIM = readFileSync(join(HERE, 'assert.star'), 'utf8');

/** The module's folder in Go's module cache (downloaded once, then reused). */
export function starlarkGoDir(): string {
  const r = spawnSync('go', ['mod', 'download', '-json', STARLARK_GO], {
    encoding: 'utf8',
    env: { ...process.env, GOTOOLCHAIN: 'local', GOFLAGS: '-mod=mod' },
    cwd: HERE,
  });
  if (r.error) throw new Error(`conformance: cannot run go (${r.error.message}); it needs Go to fetch ${STARLARK_GO}`);
  const info = JSON.parse(r.stdout || '{}') as { Dir?: string; Error?: string };
  if (r.status !== 0 || !info.Dir) throw new Error(`conformance: go mod download ${STARLARK_GO} failed: ${info.Error ?? r.stderr}`);
  return info.Dir;
}

interface Chunk {
  source: string;
  startLine: number;
  expected: { line: number; regex: RegExp }[];
}

function chunksOf(text: string): Chunk[] {
  const lines = text.split('\n');
  const out: Chunk[] = [];
  let start = 0;
  const flush = (end: number) => {
    const expected: Chunk['expected'] = [];
    for (let i = start; i < end; i++) {
      const m = /###\s*(?:"(.*)"|`(.*)`)\s*$/.exec(lines[i]!);
      if (m) {
        try {
          expected.push({ line: i + 1, regex: new RegExp(m[1] ?? m[2]!) });
        } catch {
          expected.push({ line: i + 1, regex: /(?!)/ });
        }
      }
    }
    // Pad so that positions are file positions, as in upstream's chunkedfile.
    out.push({ source: '\n'.repeat(start) + lines.slice(start, end).join('\n') + '\n', startLine: start + 1, expected });
  };
  lines.forEach((l, i) => {
    if (l === '---') {
      flush(i);
      start = i + 1;
    }
  });
  flush(lines.length);
  return out;
}

/** Top-level statement lines when the chunk does not parse: lines starting in column 1. */
function roughStatementCount(source: string): number {
  return source.split('\n').filter((l) => /^[A-Za-z_(\["']/.test(l) && !/^(else|elif)\b/.test(l)).length || 1;
}

function messageOf(err: unknown): string {
  if (err instanceof SourceErrorList) return err.errors.map((e) => e.message).join('\n');
  if (err instanceof SourceError || err instanceof EvalError) return err.message;
  return err instanceof Error ? err.message : String(err);
}

function predeclared(onError: (msg: string) => void): Record<string, Value> {
  return {
    error: new Builtin('error', (_c, args) => {
      onError(toText(typeof args[0] === 'string' ? args[0] : str(args[0] ?? null)));
      return null;
    }),
    catch: new Builtin('catch', (c, args, kwargs) => {
      const fn = unpackArgs('catch', args, kwargs, ['fn']).fn!;
      try {
        c.thread.call(fn, [], [], c.pos);
        return null;
      } catch (err) {
        return fromText(messageOf(err));
      }
    }),
    matches: new Builtin('matches', (_c, args, kwargs) => {
      const a = unpackArgs('matches', args, kwargs, ['pattern', 'str']);
      try {
        return new RegExp(toStr('matches', 'pattern', a.pattern!)).test(toStr('matches', 'str', a.str!));
      } catch (err) {
        if (err instanceof EvalError) throw err;
        return false; // an RE2 pattern JavaScript cannot read: counted as a mismatch
      }
    }),
    module: new Builtin('module', (_c, args, kwargs) => new Struct(typeof args[0] === 'string' ? args[0] : 'module', new Map(kwargs))),
    // eval_test.go's fibonacci is an infinite iterable; its first numbers serve the tests.
    fibonacci: new Tuple(Array.from({ length: 90 }, (_, i) => { let a = 0n, b = 1n; for (let k = 0; k < i; k++) [a, b] = [b, a + b]; return a; })),
    // eval_test.go's hasfields: settable fields until frozen, and `list += hasfields()` is 42.
    hasfields: new Builtin('hasfields', () => new Struct('hasfields', new Map(), {
      type: 'hasfields',
      onSetAttr(s, name, v) {
        if (s.frozen) throw new EvalError('cannot set field on a frozen hasfields');
        if (name.startsWith('no')) {
          const near = didYouMean(name, s.fields.keys());
          throw new EvalError(`hasfields has no .${name} field or method${near ? ` (did you mean .${near}?)` : ''}`);
        }
        s.fields.set(name, v);
      },
      onBinary: () => 42n,
    })),
    struct: new Builtin('struct', (_c, _args, kwargs) => new Struct('struct', new Map(kwargs))),
    // eval_test.go's freeze returns its argument.
    _freeze: new Builtin('freeze', (_c, args) => {
      freeze(args[0]!);
      return args[0]!;
    }),
    _floateq: new Builtin('_floateq', (_c, args) => {
      const [x, y] = args.map(Number) as [number, number];
      if (x === y) return true;
      const ulp = Math.abs(x - y) / Math.max(Math.abs(x), Math.abs(y));
      return ulp <= Number.EPSILON;
    }),
  };
}

export interface FileResult {
  file: string;
  statements: number;
  passed: number;
  failures: string[];
  /** Lines of the top-level statements that failed (of chunks that parse). */
  failedLines: number[];
  /**
   * Chunks that ask for option:recursion or option:while (off by default, as in envd): counted
   * here, apart from the file's own figure, and passing only with --recursion / --while.
   */
  gated: { statements: number; passed: number };
}

export function runFile(dir: string, name: string): FileResult {
  return runText(name, readFileSync(join(dir, 'starlark', 'testdata', name), 'utf8'));
}

/** Runs the text of a test file (chunks separated by `---`) as runFile does. */
export function runText(name: string, text: string): FileResult {
  const all: FileResult = { file: name, statements: 0, passed: 0, failures: [], failedLines: [], gated: { statements: 0, passed: 0 } };
  for (const chunk of chunksOf(text)) {
    const gated = /option:(recursion|while)/.test(chunk.source);
    // A gated chunk's statements count apart (all.gated); failures and lines are listed alike.
    const result = gated ? { ...all, statements: 0, passed: 0 } : all;
    runChunk(name, chunk, result);
    if (gated) {
      all.gated.statements += result.statements;
      all.gated.passed += result.passed;
    }
  }
  return all;
}

function runChunk(name: string, chunk: ReturnType<typeof chunksOf>[number], result: FileResult): void {
  {
    const withWhile = allowWhile && /option:while/.test(chunk.source);
    let stmtLines: number[];
    try {
      stmtLines = parseFile(name, chunk.source, { while: withWhile }).stmts.map((s) => s.pos.line);
    } catch (err) {
      const n = roughStatementCount(chunk.source);
      result.statements += n;
      const msg = messageOf(err);
      if (chunk.expected.some((x) => x.regex.test(msg))) result.passed += n;
      else result.failures.push(`${name}:${chunk.startLine}: chunk does not parse: ${err instanceof SourceError ? `${err.pos.line}:${err.pos.col}: ` : ''}${msg.split('\n')[0]}`);
      return;
    }
    const n = stmtLines.length;
    result.statements += n;
    const failed = new Set<number>();
    let current = -1;
    const reasons: string[] = [];
    const unmatched = [...chunk.expected];
    // Expected errors that never came: their statements did not behave as upstream.
    const missing = () => {
      for (const x of unmatched) {
        let k = 0;
        for (let i = 0; i < n; i++) if (stmtLines[i]! <= x.line) k = i;
        failed.add(k);
        reasons.push(`expected an error matching /${x.regex.source}/ at line ${x.line}, got none`);
      }
    };
    const thread = new Thread({
      host: {
        load(_from, module) {
          if (module === 'assert.star') return { file: 'assert.star', source: SHIM };
          throw new EvalError(`cannot load ${module}`);
        },
        print() {},
      },
      predeclared: predeclared((msg) => {
        failed.add(Math.max(current, 0));
        reasons.push(msg);
      }),
      maxSteps: 50_000_000,
      recursion: allowRecursion && /option:recursion/.test(chunk.source),
      while: withWhile,
      onTopLevel: (pos) => {
        current = stmtLines.indexOf(pos.line);
      },
    });
    try {
      thread.execFile(name, chunk.source);
      missing();
    } catch (err) {
      const msg = messageOf(err);
      const at = Math.max(current, 0);
      const k = unmatched.findIndex((x) => x.regex.test(msg));
      if (k < 0) {
        failed.add(at);
        reasons.push(`unexpected error: ${msg.split('\n')[0]}`);
        for (let i = at + 1; i < n; i++) failed.add(i); // never ran
      } else {
        // The expected error ends the chunk upstream too: what follows never runs there either,
        // but any other expected error of the chunk did not come.
        unmatched.splice(k, 1);
        missing();
      }
    }
    result.passed += n - failed.size;
    for (const i of [...failed].sort((a, b) => a - b)) result.failedLines.push(stmtLines[i]!);
    if (reasons.length > 0) result.failures.push(`${name}:${chunk.startLine}: ${reasons.slice(0, verboseReasons).join(' | ')}`);
  }
}

function main(): void {
  const args = process.argv.slice(2);
  const verbose = args.includes('--verbose');
  if (args.includes('--all-reasons')) verboseReasons = 1000;
  allowRecursion = args.includes('--recursion');
  allowWhile = args.includes('--while');
  const only = args.filter((a) => a.endsWith('.star'));
  const dir = starlarkGoDir();
  const results = (only.length ? only : FILES).map((f) => runFile(dir, f));
  const pct = (p: number, n: number) => (n === 0 ? '-' : `${((100 * p) / n).toFixed(1)}%`);
  console.log(`starlark-go conformance (${STARLARK_GO}): top-level statements that behave as upstream expects${allowRecursion || allowWhile ? ` (with ${[allowRecursion ? 'option:recursion' : '', allowWhile ? 'option:while' : ''].filter(Boolean).join(' and ')} where chunks ask for it)` : ''}\n`);
  console.log('| file | statements | pass | share |');
  console.log('| --- | ---: | ---: | ---: |');
  let total = 0;
  let passed = 0;
  for (const r of results) {
    if (r.statements === 0) continue; // every chunk is gated (recursion.star, while.star): below
    console.log(`| ${r.file} | ${r.statements} | ${r.passed} | ${pct(r.passed, r.statements)} |`);
    total += r.statements;
    passed += r.passed;
  }
  // Chunks that need recursion or while, counted apart (they pass only with --recursion / --while).
  for (const r of results) {
    if (r.gated.statements === 0) continue;
    console.log(`| ${r.file}, option:recursion/while chunks | ${r.gated.statements} | ${r.gated.passed} | ${pct(r.gated.passed, r.gated.statements)} |`);
    total += r.gated.statements;
    passed += r.gated.passed;
  }
  console.log(`| **all** | ${total} | ${passed} | **${pct(passed, total)}** |`);
  if (verbose) for (const r of results) for (const f of r.failures) console.log(f);
  if (args.includes('--lines')) for (const r of results) for (const l of r.failedLines) console.log(`failed: ${r.file}:${l}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
